"""Redis (the Celery broker) down while residents file complaints.

The complaints are saved and the residents see their confirmation, not an
error; the messages they are owed wait in the outbox and reach them once the
broker is back (the deliver-pending-messages sweep), each exactly once.
"""

from pathlib import Path

import pytest
from django.test import Client

from cases import services
from cases.models import Case
from chengguan.models import OutboundMessage
from chengguan.roles import Role
from tests.factories import staff
from tests.faults.conftest import assert_delivered_once, complaint

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PHONES = ["13900000001", "13900000002", "13900000003"]


def test_complaints_are_saved_and_their_messages_delivered_once_the_broker_is_back(
    community, district, broker, make_worker, settings, tmp_path
):
    settings.PUBLIC_REPORT_CAPTCHA_AFTER = 100
    sms_log = Path(tmp_path) / "sms.log"
    operator = staff(Role.OPERATOR, scope=district)

    # given the broker is down (nothing listens on its port)
    # when three residents file complaints and the operator registers them
    for index, phone in enumerate(PHONES):
        response = Client().post("/report/", complaint(phone, f"5f0c2f0e-9a51-4c1e-9d7a-3f1e2b6c7d8{index}"))
        assert response.status_code == 302, response.content.decode()[:500]
        assert response["Location"].startswith("/report/done/")
    cases = list(Case.objects.filter(reporter_phone__in=PHONES))
    assert len(cases) == len(PHONES)
    for case in cases:
        services.case_register(case=case, actor=operator)

    # then every resident's "registered" SMS waits in the outbox
    waiting = OutboundMessage.objects.filter(recipient__in=PHONES)
    assert sorted(waiting.values_list("recipient", flat=True)) == PHONES
    assert set(waiting.values_list("status", flat=True)) == {OutboundMessage.Status.PENDING}

    # when the broker is back, a worker runs and the sweep fires
    # then each message is sent, exactly once
    assert_delivered_once(broker, make_worker, PHONES, sms_log)
