"""Redis (the Celery broker) down while residents file complaints.

The complaints are saved and the residents see their confirmation, not an
error; the messages they are owed wait in the outbox and reach them once the
broker is back (the deliver-pending-messages sweep), each exactly once.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client

from cases import services
from cases.models import Case
from chengguan.messaging import deliver_pending_messages
from chengguan.models import OutboundMessage
from chengguan.roles import Role
from tests.factories import leaf_category, staff
from tests.faults.conftest import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PHONES = ["13900000001", "13900000002", "13900000003"]


def complaint(phone: str, key: str) -> dict[str, str]:
    return {
        "category": str(leaf_category().pk),
        "description": "小区东门有流动摊贩占道经营，早上七点到九点最严重",
        "address": "红星路12号东门",
        "reporter_name": "李四",
        "reporter_phone": phone,
        "consent": "on",
        "idempotency_key": key,
        "lat": "30.005",
        "lng": "120.005",
    }


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
    broker.start()
    worker = make_worker(
        broker.url, SMS_BACKEND="tests.faults.sms.FileSMSBackend", FAULT_SMS_LOG=str(sms_log)
    )
    worker.start()
    assert deliver_pending_messages(older_than=timedelta(0)) == len(PHONES)

    # then each message is sent, exactly once
    wait_until(
        lambda: not waiting.exclude(status=OutboundMessage.Status.SENT).exists(), 60, "messages to be sent"
    )
    assert deliver_pending_messages(older_than=timedelta(0)) == 0
    sent = [line.split("\t")[0] for line in sms_log.read_text().splitlines()]
    assert sorted(sent) == PHONES
