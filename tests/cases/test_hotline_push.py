"""Pushing status changes and results back to the 12345 platform (cases.hotline).

A real HTTP server in a thread plays the platform: it answers each request
as the test scripts it (500, a hang past the client's timeout, 200), and
keeps what it received so the payload and its signature can be checked.
Time is moved with time-machine to make the retries due.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import time_machine
from django.db import transaction
from django.utils import translation
from rest_framework.test import APIClient

from cases import services
from cases.choices import CaseSource, CaseStatus, PushKind, PushStatus
from cases.hotline import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    backoff,
    hotline_push_deliver,
    signature_is_valid,
)
from cases.models import Case, HotlinePush, Open311Client
from cases.open311.serializers import iso
from cases.open311.services import open311_request_create
from cases.tasks import retry_hotline_pushes
from chengguan.models import AuditEntry
from chengguan.roles import Role
from tests.factories import aware, leaf_category, staff
from tests.fieldwork import png

pytestmark = pytest.mark.django_db

T0 = aware(2026, 11, 24, 10, 0)
SECRET = "shared-secret-of-the-platform"


# --- the fake 12345 platform ---------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"))


@dataclass
class FakePlatform:
    """Answers each POST with the next scripted reply: an HTTP status, or "hang" (no answer in time)."""

    script: list[Any] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""
    hang_seconds: float = 2.0

    def reply(self) -> Any:
        return self.script.pop(0) if self.script else 200


def _handler(platform: FakePlatform) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            platform.received.append(Received(self.path, dict(self.headers.items()), body))
            reply = platform.reply()
            if reply == "hang":
                time.sleep(platform.hang_seconds)
                reply = 200  # too late: the client has given up
            answer = b'{"ok": true}' if reply == 200 else b'{"error": "busy"}'
            try:
                self.send_response(reply)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    fake = FakePlatform()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/georeport/v2/updates"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """An address where nothing listens: connection refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/updates"


@pytest.fixture(autouse=True)
def _push_settings(settings):  # type: ignore[no-untyped-def]
    settings.HOTLINE_PUSH_CONNECT_TIMEOUT = 0.5
    settings.HOTLINE_PUSH_READ_TIMEOUT = 0.5
    settings.HOTLINE_PUSH_BACKOFF = 60
    settings.HOTLINE_PUSH_BACKOFF_MAX = 3600
    settings.HOTLINE_PUSH_MAX_ATTEMPTS = 5
    settings.PUBLIC_BASE_URL = "https://cg.example.gov.cn/"


@pytest.fixture
def hotline(platform):  # type: ignore[no-untyped-def]
    account = staff(Role.OPERATOR, username="hotline-12345")
    return Open311Client.objects.create(
        name="12345 热线平台",
        source=CaseSource.HOTLINE_12345,
        account=account,
        push_kind=PushKind.WEBHOOK,
        push_url=platform.url,
        push_secret=SECRET,
    )


@pytest.fixture
def hotline_case(hotline, community, superuser):  # type: ignore[no-untyped-def]
    """A report the platform posted, at T0."""
    with time_machine.travel(T0, tick=False):
        return open311_request_create(
            client=hotline,
            category=leaf_category(),
            description="小区门口有流动摊贩占道经营",
            lat=30.005,
            lng=120.005,
            reporter_phone="13812341234",
        )


def bring_to_in_progress(case: Case, actor: Any, unit: Any) -> Case:
    case = services.case_register(case=case, actor=actor)
    case = services.case_dispatch(case=case, actor=actor, handling_unit=unit)
    return services.case_sign_for(case=case, actor=actor)


def run_retry_job(capture: Any) -> int:
    with capture(execute=True):
        return retry_hotline_pushes()


# --- the exchange -----------------------------------------------------------------------


def test_a_failed_push_is_retried_with_backoff_until_acknowledged(
    platform, hotline, hotline_case, superuser, unit, django_capture_on_commit_callbacks
):
    # Given a hotline case in progress, while its platform did not want pushes yet
    hotline.push_kind = PushKind.NONE
    hotline.save()
    with time_machine.travel(T0, tick=False):
        case = bring_to_in_progress(hotline_case, superuser, unit)
    assert not HotlinePush.objects.exists()
    # and the platform that now takes them fails twice (500, then no answer in time)
    hotline.push_kind = PushKind.WEBHOOK
    hotline.save()
    platform.script = [500, "hang", 200]

    # When the handler submits the result with an after-photo
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        services.case_submit_result(
            case=case, actor=superuser, result="摊贩已劝离，现场已清理", photos=[png("after.png")]
        )

    # Then the first attempt went out at once and failed with the platform's 500
    push = HotlinePush.objects.get()
    assert (push.status, push.attempts, push.response_code) == (PushStatus.FAILED, 1, 500)
    assert "HTTP 500" in push.last_error
    first_wait = push.next_attempt_at - T0
    assert timedelta(seconds=48) <= first_wait <= timedelta(seconds=60)

    # When the retry job runs before the wait is over, nothing is sent
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        assert run_retry_job(django_capture_on_commit_callbacks) == 0
    assert len(platform.received) == 1

    # When it runs after the first wait: the second attempt times out
    second = T0 + timedelta(seconds=61)
    with time_machine.travel(second, tick=False):
        assert run_retry_job(django_capture_on_commit_callbacks) == 1
    push.refresh_from_db()
    assert (push.status, push.attempts, push.response_code) == (PushStatus.FAILED, 2, None)
    assert "timeout" in push.last_error
    # and the wait doubled (two minutes, less the jitter)
    assert timedelta(seconds=96) <= push.next_attempt_at - second <= timedelta(seconds=120)

    # When it runs after the second wait: the platform acknowledges
    third = second + timedelta(seconds=121)
    with time_machine.travel(third, tick=False):
        assert run_retry_job(django_capture_on_commit_callbacks) == 1
    push.refresh_from_db()
    assert (push.status, push.attempts, push.response_code) == (PushStatus.SENT, 3, 200)
    assert push.acknowledged_at == third
    assert push.last_error == ""
    assert push.next_attempt_at is None

    # And an acknowledged push is never sent again, by the job or its task
    with time_machine.travel(third + timedelta(days=2), tick=False):
        assert run_retry_job(django_capture_on_commit_callbacks) == 0
        assert hotline_push_deliver(push_id=push.pk) is None
    assert len(platform.received) == 3

    # And every attempt carried the same delivery id and a valid signature
    photo = case.attachments.get(kind="after")
    for received in platform.received:
        assert received.headers[DELIVERY_HEADER] == str(push.pk)
        assert received.headers["Content-Type"].startswith("application/json")
        assert signature_is_valid(
            SECRET, received.headers[TIMESTAMP_HEADER], received.body, received.headers[SIGNATURE_HEADER]
        )
    assert not signature_is_valid(
        "another-secret",
        platform.received[-1].headers[TIMESTAMP_HEADER],
        platform.received[-1].body,
        platform.received[-1].headers[SIGNATURE_HEADER],
    )
    # and the payload: the status mapped to GeoReport's, the result and the photo's URL
    body = platform.received[-1].json
    assert body["delivery"] == push.pk
    assert body["service_request_id"] == case.number
    assert body["status"] == "open"
    assert body["status_internal"] == "resolved"
    assert body["event"] == "submit_result"
    assert body["result"] == body["status_notes"] == "摊贩已劝离，现场已清理"
    assert body["media_urls"] == [f"https://cg.example.gov.cn{photo.file.url}"]


def test_closing_pushes_closed_with_the_result_in_georeport_form(
    platform, hotline, hotline_case, superuser, unit, django_capture_on_commit_callbacks
):
    # Given a platform taking GeoReport-style form posts, and a resolved hotline case
    hotline.push_kind = PushKind.GEOREPORT
    hotline.jurisdiction_id = "city.example"
    hotline.save()
    with django_capture_on_commit_callbacks(execute=True):
        case = bring_to_in_progress(hotline_case, superuser, unit)
        case = services.case_submit_result(
            case=case, actor=superuser, result="已拆除违章广告牌", photos=[png("a.png"), png("b.png")]
        )
        # When the supervisor verifies and closes it
        services.case_verify(case=case, actor=superuser, passed=True)

    # Then every change went out, in order, each acknowledged
    pushes = list(HotlinePush.objects.order_by("pk"))
    assert [p.case_status for p in pushes] == [
        "registered",
        "dispatched",
        "in_progress",
        "resolved",
        "closed",
    ]
    assert all(p.status == PushStatus.SENT for p in pushes)
    forms = [received.form for received in platform.received]
    assert [f["status_internal"][0] for f in forms] == [p.case_status for p in pushes]
    assert [f["status"][0] for f in forms] == ["open", "open", "open", "open", "closed"]
    # and the last is the closure with the result text and both after-photos
    closed = forms[-1]
    photos = [f"https://cg.example.gov.cn{a.file.url}" for a in case.attachments.filter(kind="after")]
    assert closed["service_request_id"] == [case.number]
    assert closed["status_notes"] == ["已拆除违章广告牌"]
    assert closed["media_url"] == photos[:1]
    assert closed["media_urls"] == photos
    assert closed["api_key"] == [SECRET]
    assert closed["jurisdiction_id"] == ["city.example"]
    assert closed["updated_datetime"][0].startswith("20")
    # and a change before the result carries no result
    assert "media_urls" not in forms[0]
    with translation.override("zh-hans"):
        assert forms[0]["status_notes"] == [str(CaseStatus.REGISTERED.label)]


def test_pushes_of_one_case_go_out_in_order(
    platform, hotline, hotline_case, superuser, unit, django_capture_on_commit_callbacks
):
    # Given a platform that fails the first push
    platform.script = [503]
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        case = services.case_register(case=hotline_case, actor=superuser)
    # When the case moves on while the first push still waits for its retry
    with (
        time_machine.travel(T0 + timedelta(seconds=5), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.case_dispatch(case=case, actor=superuser, handling_unit=unit)

    # Then the second is held back, untried, behind the first
    first, second = HotlinePush.objects.order_by("pk")
    assert (first.status, first.attempts) == (PushStatus.FAILED, 1)
    assert (second.status, second.attempts) == (PushStatus.PENDING, 0)
    assert len(platform.received) == 1

    # When the first is retried and acknowledged
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        run_retry_job(django_capture_on_commit_callbacks)

    # Then the second follows it at once, and the platform saw them in order
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == PushStatus.SENT
    assert [r.json["status_internal"] for r in platform.received] == [
        "registered",
        "registered",
        "dispatched",
    ]


def test_the_push_is_rolled_back_with_the_case_change(
    platform, hotline, hotline_case, superuser, django_capture_on_commit_callbacks
):
    # When a change of a hotline case fails after its push was written
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.case_register(case=hotline_case, actor=superuser)
        assert HotlinePush.objects.count() == 1
        raise RuntimeError("something after the change failed")

    # Then neither the change nor its push remain, and nothing was sent
    hotline_case.refresh_from_db()
    assert hotline_case.status == CaseStatus.REPORTED
    assert not HotlinePush.objects.exists()
    assert callbacks == []
    assert platform.received == []


def test_only_cases_of_a_pushing_client_are_pushed(
    platform, hotline, make_case, superuser, django_capture_on_commit_callbacks
):
    # Given a case from the web form, and one from a client without push
    web = make_case(CaseStatus.REPORTED)
    quiet = Open311Client.objects.create(
        name="311 app", source=CaseSource.OPEN311, account=superuser, push_kind=PushKind.NONE
    )
    silent = open311_request_create(
        client=quiet, category=leaf_category(), description="路灯不亮", lat=30.005, lng=120.005
    )
    # When both are registered
    with django_capture_on_commit_callbacks(execute=True):
        services.case_register(case=web, actor=superuser)
        services.case_register(case=silent, actor=superuser)
    # Then nothing is queued or sent
    assert silent.open311_client == quiet
    assert not HotlinePush.objects.exists()
    assert platform.received == []


# --- corrections that move the handling deadline --------------------------------------------------

ILLEGAL_BUILDING = "0301"  # handle within 80 working hours; the hotline case's 0102 within 8
STREET_SIBLING = "0101"  # the same limits as 0102


@pytest.mark.parametrize(
    "correction",
    [{"category": ILLEGAL_BUILDING}, {"urgency": "urgent"}],
    ids=["category", "urgency"],
)
def test_a_recategorisation_that_moves_the_handling_deadline_is_pushed(
    platform, hotline, hotline_case, superuser, unit, correction, django_capture_on_commit_callbacks
):
    # Given a hotline case being handled, its changes so far pushed
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        case = bring_to_in_progress(hotline_case, superuser, unit)
    assert HotlinePush.objects.filter(status=PushStatus.SENT).count() == len(platform.received) == 3
    old_due_at = case.due_at
    if "category" in correction:
        correction = {"category": leaf_category(correction["category"])}

    # When an operator corrects it so that its handling deadline moves
    with (
        time_machine.travel(T0 + timedelta(hours=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        case = services.case_recategorise(case=case, actor=superuser, reason="分类有误，更正", **correction)

    # Then the platform is told the new deadline, through the outbox like a status change
    case = Case.objects.get(pk=case.pk)
    assert case.due_at != old_due_at
    push = HotlinePush.objects.order_by("pk").last()
    assert push is not None
    assert (push.action, push.case_status, push.status) == ("recategorised", "in_progress", PushStatus.SENT)
    assert push.event is not None and push.event.action == "recategorised"
    body = platform.received[-1].json
    assert len(platform.received) == 4
    assert body["delivery"] == push.pk
    assert (body["event"], body["status_internal"]) == ("recategorised", "in_progress")
    assert body["expected_datetime"] == iso(case.due_at) != iso(old_due_at)


@pytest.mark.parametrize(
    "correction",
    [{"address": "幸福路1号"}, {"category": STREET_SIBLING}],
    ids=["address", "category-with-the-same-limits"],
)
def test_a_recategorisation_that_leaves_the_deadline_pushes_nothing(
    platform, hotline, hotline_case, superuser, unit, correction, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        case = bring_to_in_progress(hotline_case, superuser, unit)
    if "category" in correction:
        correction = {"category": leaf_category(correction["category"])}

    with django_capture_on_commit_callbacks(execute=True):
        services.case_recategorise(case=case, actor=superuser, reason="更正", **correction)

    assert Case.objects.get(pk=case.pk).due_at == case.due_at
    assert HotlinePush.objects.count() == len(platform.received) == 3


def test_a_recategorisation_of_a_case_from_elsewhere_pushes_nothing(
    platform, hotline, make_case, superuser, django_capture_on_commit_callbacks
):
    web = make_case(CaseStatus.IN_PROGRESS)

    with django_capture_on_commit_callbacks(execute=True):
        services.case_recategorise(
            case=web, actor=superuser, reason="实为违法建设", category=leaf_category(ILLEGAL_BUILDING)
        )

    assert Case.objects.get(pk=web.pk).due_at != web.due_at
    assert not HotlinePush.objects.exists()
    assert platform.received == []


def test_the_deadline_push_is_rolled_back_with_the_recategorisation(
    platform, hotline, hotline_case, superuser, unit, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        case = bring_to_in_progress(hotline_case, superuser, unit)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.case_recategorise(
            case=case, actor=superuser, reason="实为违法建设", category=leaf_category(ILLEGAL_BUILDING)
        )
        assert HotlinePush.objects.filter(action="recategorised").count() == 1
        raise RuntimeError("something after the correction failed")

    assert Case.objects.get(pk=case.pk).due_at == case.due_at
    assert not HotlinePush.objects.filter(action="recategorised").exists()
    assert callbacks == []
    assert len(platform.received) == 3


# --- extensions that move the handling deadline ------------------------------------------------


def extension_asked(case: Case, actor: Any, days: int = 3) -> Any:
    assert case.due_at is not None
    return services.case_request_extension(
        case=case, actor=actor, requested_due_at=case.due_at + timedelta(days=days), reason="需协调产权单位"
    )


def test_an_approved_extension_pushes_the_new_handling_deadline(
    platform, hotline, hotline_case, superuser, unit, django_capture_on_commit_callbacks
):
    # Given a hotline case being handled, its changes so far pushed, and an extension asked for
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        case = bring_to_in_progress(hotline_case, superuser, unit)
        request = extension_asked(case, superuser)
    assert HotlinePush.objects.filter(status=PushStatus.SENT).count() == len(platform.received) == 3
    old_due_at = case.due_at

    # When a supervisor approves it
    with (
        time_machine.travel(T0 + timedelta(hours=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.case_decide_extension(request=request, actor=superuser, approve=True, note="同意")

    # Then the platform is told the new deadline, through the outbox like a status change
    case = Case.objects.get(pk=case.pk)
    assert case.due_at == request.requested_due_at != old_due_at
    push = HotlinePush.objects.order_by("pk").last()
    assert push is not None
    assert (push.action, push.case_status) == ("extension_approved", "in_progress")
    assert push.status == PushStatus.SENT
    assert push.event is not None and push.event.action == "extension_approved"
    body = platform.received[-1].json
    assert len(platform.received) == 4
    assert body["delivery"] == push.pk
    assert (body["event"], body["status_internal"]) == ("extension_approved", "in_progress")
    assert body["expected_datetime"] == iso(case.due_at) != iso(old_due_at)


def test_a_refused_extension_pushes_nothing(
    platform, hotline, hotline_case, superuser, unit, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        case = bring_to_in_progress(hotline_case, superuser, unit)
        request = extension_asked(case, superuser)

    with django_capture_on_commit_callbacks(execute=True):
        services.case_decide_extension(request=request, actor=superuser, approve=False, note="理由不充分")

    assert Case.objects.get(pk=case.pk).due_at == case.due_at
    assert HotlinePush.objects.count() == len(platform.received) == 3


def test_an_approved_extension_of_a_case_from_elsewhere_pushes_nothing(
    platform, hotline, make_case, superuser, django_capture_on_commit_callbacks
):
    web = make_case(CaseStatus.IN_PROGRESS)
    request = extension_asked(web, superuser)

    with django_capture_on_commit_callbacks(execute=True):
        services.case_decide_extension(request=request, actor=superuser, approve=True)

    assert Case.objects.get(pk=web.pk).due_at == request.requested_due_at
    assert not HotlinePush.objects.exists()
    assert platform.received == []


def test_the_deadline_push_is_rolled_back_with_the_extension(
    platform, hotline, hotline_case, superuser, unit, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        case = bring_to_in_progress(hotline_case, superuser, unit)
        request = extension_asked(case, superuser)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.case_decide_extension(request=request, actor=superuser, approve=True)
        assert HotlinePush.objects.filter(action="extension_approved").count() == 1
        raise RuntimeError("something after the decision failed")

    assert Case.objects.get(pk=case.pk).due_at == case.due_at
    assert not HotlinePush.objects.filter(action="extension_approved").exists()
    assert callbacks == []
    assert len(platform.received) == 3


def test_a_push_the_platform_never_takes_goes_dead_and_is_listed(
    client,
    hotline,
    hotline_case,
    superuser,
    district,
    closed_port_url,
    settings,
    django_capture_on_commit_callbacks,
):
    # Given a platform whose endpoint refuses connections, and three attempts allowed
    settings.HOTLINE_PUSH_MAX_ATTEMPTS = 3
    hotline.push_url = closed_port_url
    hotline.save()
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        services.case_register(case=hotline_case, actor=superuser)

    # When the retry job runs after each wait
    moment = T0
    for _attempt in range(4):
        moment += timedelta(hours=1)
        with time_machine.travel(moment, tick=False):
            run_retry_job(django_capture_on_commit_callbacks)

    # Then the push gave up after the third attempt
    push = HotlinePush.objects.get()
    assert (push.status, push.attempts, push.next_attempt_at) == (PushStatus.DEAD, 3, None)
    assert "ConnectionError" in push.last_error

    # And the district's operator finds it on the failure list
    operator = staff(Role.OPERATOR, scope=district)
    client.force_login(operator)
    response = client.get("/desk/hotline/")
    assert response.status_code == 200
    assert hotline_case.number in response.content.decode()
    assert "ConnectionError" in response.content.decode()
    assert list(response.context["page_obj"].object_list) == [push]


# --- the failure list ---------------------------------------------------------------------


def failed_push(
    case: Case, client: Open311Client, status: str = PushStatus.DEAD, **fields: Any
) -> HotlinePush:
    return HotlinePush.objects.create(
        case=case,
        client=client,
        action="register",
        case_status=case.status,
        payload={"service_request_id": case.number},
        status=status,
        attempts=fields.pop("attempts", 10),
        last_error=fields.pop("last_error", "HTTP 502: bad gateway"),
        **fields,
    )


@pytest.fixture
def dead_push(hotline, hotline_case):  # type: ignore[no-untyped-def]
    return failed_push(hotline_case, hotline)


def test_anonymous_users_are_sent_to_sign_in(client, dead_push):
    response = client.get("/desk/hotline/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    retry = client.post(f"/desk/hotline/{dead_push.pk}/retry/")
    assert retry.status_code == 302
    assert retry["Location"].startswith("/accounts/login/")
    dead_push.refresh_from_db()
    assert dead_push.status == PushStatus.DEAD


@pytest.mark.parametrize("role", [Role.LIAISON, Role.DISPATCHER, Role.HANDLING_UNIT, Role.COMMUNITY_STAFF])
def test_roles_other_than_operators_and_supervisors_are_refused(client, dead_push, district, role):
    client.force_login(staff(role, scope=district))
    assert client.get("/desk/hotline/").status_code == 403
    assert client.post(f"/desk/hotline/{dead_push.pk}/retry/").status_code == 403
    dead_push.refresh_from_db()
    assert dead_push.status == PushStatus.DEAD


def test_an_unscoped_operator_sees_no_push_and_cannot_retry_one(client, dead_push, other_community):
    # Given an operator working in another community
    client.force_login(staff(Role.OPERATOR, scope=other_community))
    response = client.get("/desk/hotline/")
    assert response.status_code == 200
    assert list(response.context["page_obj"].object_list) == []
    assert dead_push.case.number not in response.content.decode()
    assert client.post(f"/desk/hotline/{dead_push.pk}/retry/").status_code == 404
    dead_push.refresh_from_db()
    assert dead_push.status == PushStatus.DEAD


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPERVISOR])
def test_scoped_staff_see_failed_and_dead_pushes_by_default(
    client, hotline, hotline_case, district, role, django_assert_max_num_queries
):
    # Given pushes in every delivery state
    dead = failed_push(hotline_case, hotline, PushStatus.DEAD)
    failed = failed_push(hotline_case, hotline, PushStatus.FAILED, attempts=2)
    sent = failed_push(hotline_case, hotline, PushStatus.SENT, attempts=1, last_error="")
    client.force_login(staff(role, scope=district))

    # When the list opens without filters: the failed and dead ones
    response = client.get("/desk/hotline/")
    assert response.status_code == 200
    assert {p.pk for p in response.context["page_obj"].object_list} == {dead.pk, failed.pk}
    page = response.content.decode()
    assert "HTTP 502: bad gateway" in page
    assert f"/desk/hotline/{dead.pk}/retry/" in page
    # the desk menu links to the list
    assert 'href="/desk/hotline/"' in page

    # When filtered by delivery status
    response = client.get("/desk/hotline/", {"status": "sent"})
    assert [p.pk for p in response.context["page_obj"].object_list] == [sent.pk]
    assert f"/desk/hotline/{sent.pk}/retry/" not in response.content.decode()
    # and by case number and platform
    response = client.get("/desk/hotline/", {"q": hotline_case.number[-6:], "client": hotline.pk})
    assert len(response.context["page_obj"].object_list) == 2
    response = client.get("/desk/hotline/", {"q": "NO-SUCH-NUMBER"})
    assert list(response.context["page_obj"].object_list) == []

    # And the number of queries does not grow with the rows
    for _ in range(30):
        failed_push(hotline_case, hotline, PushStatus.DEAD)
    with django_assert_max_num_queries(9):
        response = client.get("/desk/hotline/")
    assert response.context["page_obj"].paginator.count == 32
    assert len(response.context["page_obj"].object_list) == 25


def test_a_bad_filter_is_reported_not_a_server_error(client, dead_push, district):
    client.force_login(staff(Role.OPERATOR, scope=district))
    response = client.get("/desk/hotline/", {"status": "bogus", "created_after": "not-a-date"})
    assert response.status_code == 200
    assert response.context["filterset"].form.errors


def test_retry_now_sends_again_with_fresh_attempts_and_is_audited(
    client, platform, dead_push, district, django_capture_on_commit_callbacks
):
    # Given a dead push and a platform that is back
    operator = staff(Role.OPERATOR, scope=district)
    client.force_login(operator)

    # When the operator retries it
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/desk/hotline/{dead_push.pk}/retry/", {"next": "/desk/hotline/?status=dead"})

    # Then it went out at once and was acknowledged
    assert response.status_code == 302
    assert response["Location"] == "/desk/hotline/?status=dead"
    dead_push.refresh_from_db()
    assert (dead_push.status, dead_push.attempts) == (PushStatus.SENT, 1)
    assert len(platform.received) == 1
    # and the retry is in the audit log with what it replaced
    entry = AuditEntry.objects.get(action="hotline_push.retry")
    assert entry.actor == operator
    assert entry.target_id == str(dead_push.pk)
    assert entry.data["previous_status"] == "dead"
    assert entry.data["previous_attempts"] == 10
    assert entry.data["last_error"] == "HTTP 502: bad gateway"

    # When someone retries the acknowledged push
    response = client.post(f"/desk/hotline/{dead_push.pk}/retry/", follow=True)
    # Then they are told, and it is not sent again
    assert "not sent again" in response.content.decode() or "不再" in response.content.decode()
    assert len(platform.received) == 1
    assert AuditEntry.objects.filter(action="hotline_push.retry").count() == 1


def test_a_push_being_sent_cannot_be_claimed_or_retried(client, platform, dead_push, district):
    # Given a push a worker is sending right now
    HotlinePush.objects.filter(pk=dead_push.pk).update(
        status=PushStatus.FAILED, next_attempt_at=T0, locked_until=T0 + timedelta(minutes=1)
    )
    with time_machine.travel(T0 + timedelta(seconds=10), tick=False):
        # Then no other worker sends it
        assert hotline_push_deliver(push_id=dead_push.pk) is None
        # and an operator's retry is refused
        client.force_login(staff(Role.OPERATOR, scope=district))
        response = client.post(f"/desk/hotline/{dead_push.pk}/retry/", follow=True)
    assert response.status_code == 200
    dead_push.refresh_from_db()
    assert dead_push.attempts == 10
    assert platform.received == []


def test_backoff_doubles_and_is_capped(settings):
    settings.HOTLINE_PUSH_BACKOFF = 60
    settings.HOTLINE_PUSH_BACKOFF_MAX = 600
    waits = [backoff(n) for n in range(1, 8)]
    nominal = [60, 120, 240, 480, 600, 600, 600]
    for wait, expected in zip(waits, nominal, strict=True):
        assert expected * 0.8 <= wait.total_seconds() <= expected


def test_open311_posts_link_the_case_to_the_client(hotline, community):
    anyone = APIClient()
    key = hotline.api_key
    response = anyone.post(
        "/open311/v2/requests.json",
        {
            "api_key": key,
            "service_code": "0102",
            "lat": "30.005",
            "long": "120.005",
            "description": "小区门口有流动摊贩占道经营",
            "phone": "13812341234",
        },
    )
    assert response.status_code == 201, response.content
    number = response.json()[0]["service_request_id"]
    assert Case.objects.get(number=number).open311_client == hotline


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_claim_the_same_row(hotline_case, hotline):
    """On PostgreSQL a row locked by one worker is skipped by the other (SKIP LOCKED)."""
    from cases.hotline import _claim

    push = failed_push(hotline_case, hotline, PushStatus.PENDING, attempts=0, next_attempt_at=T0)
    holding = threading.Event()
    release = threading.Event()

    def first_worker() -> None:
        from django.db import connection

        with transaction.atomic():
            HotlinePush.objects.select_for_update().get(pk=push.pk)
            holding.set()
            release.wait(5)
        connection.close()

    thread = threading.Thread(target=first_worker)
    thread.start()
    assert holding.wait(5)
    try:
        assert _claim(push.pk) is None  # skipped, not waited for
    finally:
        release.set()
        thread.join()
    claimed = _claim(push.pk)
    assert claimed is not None
    assert _claim(push.pk) is None  # now held by the first claim's lease
