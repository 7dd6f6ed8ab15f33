"""Merged duplicates: the reporters of a report merged into a case follow that case
(DESIGN §3 "the reporter is notified on the master case")."""

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext
from PIL import Image

from cases import services
from cases.choices import AttachmentKind, CaseAction, CaseStatus, RejectReason
from cases.models import Case, CaseEvent
from cases.notifications import message_reporters
from cases.tasks import notify_case_event
from cases.views.public import SHORT_STATUS_FOR_RESIDENTS
from chengguan.models import Notification, OutboundMessage
from chengguan.roles import Role
from tests.factories import UserFactory, staff

pytestmark = pytest.mark.django_db

MASTER_PHONE = "13800000001"
DUPLICATE_PHONE = "13800000002"
CO_REPORTER_PHONE = "13800000003"


def texts_to(phone: str) -> list[str]:
    return list(
        OutboundMessage.objects.filter(channel=OutboundMessage.Channel.SMS, recipient=phone)
        .order_by("pk")
        .values_list("body", flat=True)
    )


def site_text(message: str, **params: object) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return gettext(message) % params


def png(name: str = "after.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 120, 40)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def merged(make_case, superuser, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """`merged(master, **report)`: a new report, with a co-reporter, merged into `master`."""

    def make(master: Case, *, phone: str = DUPLICATE_PHONE, co_phone: str = "", **report: Any) -> Case:
        duplicate = make_case(reporter_name="王五", reporter_phone=phone, **report)
        if co_phone:
            services.case_add_co_reporter(case=duplicate, name="赵六", phone=co_phone)
        with django_capture_on_commit_callbacks(execute=True):
            services.case_merge_duplicate(case=duplicate, master=master, actor=superuser)
        return Case.objects.get(pk=duplicate.pk)

    return make


def run(callbacks: Any, action: Callable[[], Any]) -> Any:
    with callbacks(execute=True):
        return action()


# --- the master's milestones reach the merged reports' reporters ----------------------------------


def test_closing_the_master_texts_the_merged_reports_reporters_once_each_with_their_own_code(
    make_case, merged, superuser, django_capture_on_commit_callbacks
):
    # Given an open master and a report merged into it, with a co-reporter
    master = make_case(CaseStatus.IN_PROGRESS, reporter_name="李四", reporter_phone=MASTER_PHONE)
    duplicate = merged(master, co_phone=CO_REPORTER_PHONE)
    assert len(texts_to(DUPLICATE_PHONE)) == len(texts_to(CO_REPORTER_PHONE)) == 1  # "merged into …"

    # When the master's result is accepted and it is closed
    master.refresh_from_db()
    run(
        django_capture_on_commit_callbacks,
        lambda: services.case_submit_result(case=master, actor=superuser, result="摊贩已劝离"),
    )
    master.refresh_from_db()
    run(
        django_capture_on_commit_callbacks,
        lambda: services.case_verify(case=master, actor=superuser, passed=True),
    )

    # Then the duplicate's reporter and co-reporter are told, each once, with the
    # duplicate's own number and tracking code and never the master's code
    expected = site_text(
        "Case %(master)s, into which your report %(number)s was merged, has been resolved and "
        "closed. See the result with code %(code)s.",
        master=master.number,
        number=duplicate.number,
        code=duplicate.tracking_code,
    )
    assert texts_to(DUPLICATE_PHONE)[1:] == [expected]
    assert texts_to(CO_REPORTER_PHONE)[1:] == [expected]
    assert master.tracking_code not in expected
    # And the master's own reporter gets the master's text, as before
    assert texts_to(MASTER_PHONE)[-1] == site_text(
        "Your report %(number)s has been resolved and closed. Please rate it with code %(code)s.",
        number=master.number,
        code=master.tracking_code,
    )


def test_a_phone_that_reported_the_master_and_a_duplicate_gets_one_text(
    make_case, merged, superuser, django_capture_on_commit_callbacks
):
    # Given a resident who reported the problem twice, and two duplicates sharing a co-reporter
    master = make_case(reporter_phone=MASTER_PHONE)
    merged(master, phone=MASTER_PHONE)
    merged(master, phone=DUPLICATE_PHONE, co_phone=CO_REPORTER_PHONE)
    merged(master, phone="13800000009", co_phone=CO_REPORTER_PHONE)
    before = {p: len(texts_to(p)) for p in (MASTER_PHONE, DUPLICATE_PHONE, CO_REPORTER_PHONE)}

    # When the master is registered
    run(django_capture_on_commit_callbacks, lambda: services.case_register(case=master, actor=superuser))

    # Then every number is texted once; the master's reporter with the master's own text
    after = {p: len(texts_to(p)) for p in before}
    assert {p: after[p] - before[p] for p in before} == {
        MASTER_PHONE: 1,
        DUPLICATE_PHONE: 1,
        CO_REPORTER_PHONE: 1,
    }
    assert master.tracking_code in texts_to(MASTER_PHONE)[-1]

    # And a retried task queues nothing more
    event = CaseEvent.objects.get(case=master, action=CaseAction.REGISTER)
    assert message_reporters(event) == []
    notify_case_event(event.pk)
    assert {p: len(texts_to(p)) for p in before} == after


def test_a_rejected_master_tells_the_merged_reporters_its_reason_not_the_operators_note(
    make_case, merged, superuser, django_capture_on_commit_callbacks
):
    master = make_case(reporter_phone=MASTER_PHONE)
    duplicate = merged(master)

    run(
        django_capture_on_commit_callbacks,
        lambda: services.case_reject(
            case=master, actor=superuser, reason=RejectReason.INVALID, note="李四来电称已自行解决 13800000001"
        ),
    )

    expected = site_text(
        "Case %(master)s, into which your report %(number)s was merged, was not accepted: %(reason)s",
        master=master.number,
        number=duplicate.number,
        reason=RejectReason.INVALID.label,
    )
    assert texts_to(DUPLICATE_PHONE)[-1] == expected
    assert MASTER_PHONE not in expected


def test_a_master_merged_in_turn_hands_its_reporters_on(
    make_case, merged, superuser, django_capture_on_commit_callbacks
):
    # Given a report merged into a case that is then merged into another
    final = make_case(CaseStatus.IN_PROGRESS, reporter_phone=MASTER_PHONE)
    middle = make_case(reporter_phone="13800000008")
    first = merged(middle, phone=DUPLICATE_PHONE)
    run(
        django_capture_on_commit_callbacks,
        lambda: services.case_merge_duplicate(case=middle, master=final, actor=superuser),
    )

    # Then the first report's reporter hears that the last case handles it
    assert texts_to(DUPLICATE_PHONE)[-1] == site_text(
        "Your report %(number)s is being handled together with case %(master)s.",
        number=first.number,
        master=final.number,
    )

    # And hears when that case is closed
    final.refresh_from_db()
    run(
        django_capture_on_commit_callbacks,
        lambda: services.case_submit_result(case=final, actor=superuser, result="已处置"),
    )
    final.refresh_from_db()
    run(
        django_capture_on_commit_callbacks,
        lambda: services.case_verify(case=final, actor=superuser, passed=True),
    )
    assert first.tracking_code in texts_to(DUPLICATE_PHONE)[-1]
    assert final.number in texts_to(DUPLICATE_PHONE)[-1]


def test_merged_reporters_with_an_account_are_mailed_once_per_address(
    make_case, merged, superuser, django_capture_on_commit_callbacks
):
    both = UserFactory(email="both@example.cn")
    other = UserFactory(email="other@example.cn")
    master = make_case(reporter=both, reporter_phone=MASTER_PHONE)
    merged(master, reporter=both, phone="13800000005")
    duplicate = merged(master, reporter=other)

    run(django_capture_on_commit_callbacks, lambda: services.case_register(case=master, actor=superuser))

    event = CaseEvent.objects.get(case=master, action=CaseAction.REGISTER)
    mails = OutboundMessage.objects.filter(
        channel=OutboundMessage.Channel.EMAIL, key__startswith=f"event:{event.pk}:"
    )
    assert sorted(mails.values_list("recipient", flat=True)) == ["both@example.cn", "other@example.cn"]
    assert master.tracking_code in mails.get(recipient="both@example.cn").body
    to_other = mails.get(recipient="other@example.cn")
    assert duplicate.tracking_code in to_other.body and master.tracking_code not in to_other.body


def test_the_merged_reports_are_read_in_a_fixed_number_of_queries(make_case, merged, superuser):
    def reads_for(duplicates: int) -> int:
        master = make_case(reporter_phone=MASTER_PHONE)
        for index in range(duplicates):
            merged(master, phone=f"1390000{index:04d}", co_phone=f"1370000{index:04d}")
        services.case_register(case=master, actor=superuser)
        event = CaseEvent.objects.select_related("case").get(case=master, action=CaseAction.REGISTER)
        OutboundMessage.objects.all().delete()
        with CaptureQueriesContext(connection) as queries:
            queued = message_reporters(event)
        assert len(queued) == 1 + 2 * duplicates
        return sum(1 for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT"))

    assert reads_for(1) == reads_for(5)


# --- the merged report's tracking page follows the master ---------------------------------------------


def track(client, case: Case):  # type: ignore[no-untyped-def]
    return client.get(reverse("public:track_detail", args=[case.tracking_code]))


def test_a_merged_reports_page_shows_the_masters_status_not_not_taken_up(client, make_case, merged):
    master = make_case(CaseStatus.DISPATCHED, reporter_name="李四", reporter_phone=MASTER_PHONE)
    duplicate = merged(master)

    page = track(client, duplicate).content.decode()

    assert escape(str(SHORT_STATUS_FOR_RESIDENTS[CaseStatus.DISPATCHED])) in page
    assert escape(str(SHORT_STATUS_FOR_RESIDENTS[CaseStatus.REJECTED])) not in page
    assert escape(str(RejectReason.DUPLICATE.label)) not in page
    assert master.number in page
    # Nothing of the master's reporter, nor its tracking code (their key)
    for secret in (master.tracking_code, "李四", MASTER_PHONE):
        assert secret not in page


def test_a_merged_reports_page_shows_the_closed_masters_result_and_photos(
    client, make_case, merged, superuser, django_assert_max_num_queries
):
    # Given a report merged into a case that is then handled and closed
    master = make_case(CaseStatus.IN_PROGRESS, reporter_name="李四", reporter_phone=MASTER_PHONE)
    duplicate = merged(master)
    master.refresh_from_db()
    services.case_submit_result(case=master, actor=superuser, result="占道摊贩已劝离", photos=[png()])
    master.refresh_from_db()
    services.case_verify(case=master, actor=superuser, passed=True)
    own = make_case(CaseStatus.CLOSED)

    # When its reporter opens their tracking page (in few queries: no more than a closed case's own page)
    with CaptureQueriesContext(connection) as own_page:
        assert track(client, own).status_code == 200
    with django_assert_max_num_queries(len(own_page.captured_queries) + 2):
        response = track(client, duplicate)

    # Then they see the master closed, what was done and the photo after handling
    page = response.content.decode()
    assert escape(str(SHORT_STATUS_FOR_RESIDENTS[CaseStatus.CLOSED])) in page
    assert "占道摊贩已劝离" in page
    photo = master.attachments.get(kind=AttachmentKind.AFTER)
    assert photo.file.url in page
    for secret in (master.tracking_code, "李四", MASTER_PHONE):
        assert secret not in page
    # And no rating form: the rating is the master's reporter's
    assert 'name="satisfaction"' not in page


def test_a_report_merged_into_a_merged_case_shows_the_last_case(
    client, make_case, merged, superuser, django_capture_on_commit_callbacks
):
    final = make_case(CaseStatus.REGISTERED)
    middle = make_case()
    first = merged(middle)
    services.case_merge_duplicate(case=middle, master=final, actor=superuser)

    page = track(client, first).content.decode()

    assert final.number in page
    assert escape(str(SHORT_STATUS_FOR_RESIDENTS[CaseStatus.REGISTERED])) in page
    assert escape(str(SHORT_STATUS_FOR_RESIDENTS[CaseStatus.REJECTED])) not in page


# --- in-app notifications link where the recipient can go -------------------------------------------


def test_a_residents_notification_links_to_the_tracking_page_and_staffs_to_the_case(
    client, make_case, district, superuser, django_capture_on_commit_callbacks
):
    # Given one report from a resident's account and one from an operator's
    resident = UserFactory()
    operator = staff(Role.OPERATOR, scope=district)
    by_resident = make_case(reporter=resident)
    by_operator = make_case(reporter=operator)

    # When both are registered
    for case in (by_resident, by_operator):
        run(
            django_capture_on_commit_callbacks, lambda c=case: services.case_register(case=c, actor=superuser)
        )

    # Then the resident's notification opens their tracking page, which they can see
    note = Notification.objects.get(recipient=resident)
    assert note.url == reverse("public:track_detail", args=[by_resident.tracking_code])
    client.force_login(resident)
    opened = client.get(reverse("desk:notification_open", args=[note.pk]), follow=True)
    assert opened.status_code == 200 and by_resident.number in opened.content.decode()
    # And the operator's the case's staff page
    assert Notification.objects.get(recipient=operator).url == reverse(
        "cases:detail", args=[by_operator.number]
    )


# --- their texts are anonymised with their own report ---------------------------------------------


def test_anonymising_a_merged_report_anonymises_the_texts_about_its_master(
    make_case, merged, superuser, django_capture_on_commit_callbacks
):
    from cases.retention import _anonymise_cases

    # Given a report merged into a master that was then registered (its reporter texted about it)
    master = make_case(reporter_phone=MASTER_PHONE)
    duplicate = merged(master, co_phone=CO_REPORTER_PHONE)
    run(django_capture_on_commit_callbacks, lambda: services.case_register(case=master, actor=superuser))
    assert len(texts_to(DUPLICATE_PHONE)) == 2

    # When the merged report's personal data is removed
    _anonymise_cases([duplicate.pk])

    # Then no text to its reporters keeps their number, about their report or the master's,
    # and the master's own reporter's texts are untouched
    assert texts_to(DUPLICATE_PHONE) == texts_to(CO_REPORTER_PHONE) == []
    assert OutboundMessage.objects.filter(key__contains=DUPLICATE_PHONE).count() == 0
    assert len(texts_to(MASTER_PHONE)) == 1
