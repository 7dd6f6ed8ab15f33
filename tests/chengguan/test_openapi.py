"""The OpenAPI schema: committed in docs/openapi.yaml, served at /api/schema/, documented at /api/docs/.

The committed schema is the API's contract: a change to the API that is not
in it fails here. After an intended change, regenerate it with

    .venv/bin/python manage.py spectacular --lang en --file docs/openapi.yaml
"""

import difflib
import re

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command

REGENERATE = ".venv/bin/python manage.py spectacular --lang en --file docs/openapi.yaml"


def test_the_committed_schema_is_the_apis(tmp_path):
    generated = tmp_path / "openapi.yaml"

    # --fail-on-warn: a view the generator cannot describe fails too.
    call_command("spectacular", "--lang", "en", "--validate", "--fail-on-warn", "--file", str(generated))

    committed = (settings.BASE_DIR / "docs" / "openapi.yaml").read_text(encoding="utf-8")
    fresh = generated.read_text(encoding="utf-8")
    if fresh != committed:
        diff = "".join(
            list(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    fresh.splitlines(keepends=True),
                    "docs/openapi.yaml",
                    "generated",
                )
            )[:60]
        )
        pytest.fail(f"The API changed but docs/openapi.yaml did not; run\n    {REGENERATE}\n\n{diff}")


def test_every_operation_is_under_v1_and_documents_its_errors():
    schema = yaml.safe_load((settings.BASE_DIR / "docs" / "openapi.yaml").read_text(encoding="utf-8"))

    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    actions = [
        path for path in schema["paths"] if path.startswith("/api/v1/cases/{number}/") and path.count("/") > 5
    ]
    # The workflow verbs (cases.api.verbs.VERBS) and adding photos; parking has no direct verb.
    assert len(actions) == 22
    assert "/api/v1/cases/{number}/park/" not in actions
    assert {
        "/api/v1/cases/{number}/request-park/",
        "/api/v1/cases/{number}/decide-parking/",
        "/api/v1/cases/{number}/moderate-text/",
        "/api/v1/cases/{number}/recategorise/",
        "/api/v1/cases/{number}/hide-photo/",
        "/api/v1/cases/{number}/unhide-photo/",
    } <= set(actions)
    for path in actions:
        responses = schema["paths"][path]["post"]["responses"]
        # Workflow verbs answer 200 with the case; adding photos creates them (201).
        success = "201" if path.endswith("/photos/") else "200"
        assert {success, "400", "403", "404", "409"} <= set(responses)


@pytest.mark.django_db
def test_the_schema_is_served(client):
    response = client.get("/api/schema/?format=json&lang=en")

    assert response.status_code == 200
    assert response.json()["info"]["version"] == "1.0.0"


@pytest.mark.django_db
def test_the_docs_page_loads_nothing_from_other_hosts(client):
    page = client.get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    # (the page's random CSRF token may spell "cdn" by chance: left out)
    assert "cdn" not in re.sub(r'"X-CSRFTOKEN"\] = "\w+"', "", page).lower()
    assert '"X-CSRFTOKEN"] = "' in page
