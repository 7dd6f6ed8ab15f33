"""schemathesis against the API's OpenAPI schema: generated requests to every operation,
none answered with a server error.

The schema is the committed docs/openapi.yaml, which tests/chengguan/test_openapi.py
proves is what /api/schema/ serves.

A bounded, derandomized run (the same examples on every run) as a superuser
holding a token, over a case in every status, so the workflow actions reach
their services. Deselect locally with `-m "not api_fuzz"`.
"""

import pytest
import schemathesis
import yaml
from django.conf import settings as settings_module
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from cases.choices import CaseStatus

pytestmark = [pytest.mark.django_db, pytest.mark.api_fuzz]

EXAMPLES_PER_OPERATION = 5


@pytest.fixture(autouse=True)
def _keep_the_test_connection():  # type: ignore[no-untyped-def]
    """Calls go straight to the WSGI handler, which closes the database connection
    after each request; like Django's test client, keep the test's transaction open."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(make_case, superuser) -> str:  # type: ignore[no-untyped-def]
    for status in CaseStatus:
        make_case(status)
    return Token.objects.create(user=superuser).key


# The committed schema: tests/chengguan/test_openapi.py proves it is the API's.
schema = schemathesis.openapi.from_dict(
    yaml.safe_load((settings_module.BASE_DIR / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
)
schema.app = get_wsgi_application()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_with_a_server_error(case, token):  # type: ignore[no-untyped-def]
    response = case.call(headers={"Authorization": f"Token {token}"})

    case.validate_response(response, checks=[not_a_server_error])
