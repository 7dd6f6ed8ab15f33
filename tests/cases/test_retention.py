"""Personal data retention (cases.retention): the beat job and requests to be forgotten."""

from datetime import datetime
from typing import Any, cast

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.choices import CaseAction, CaseStatus, Satisfaction, VisitStatus
from cases.indicators import indicators
from cases.models import Case, CaseEvent, CaseFeedback, CoReporter, ReturnVisit
from cases.notifications import message_reporters
from cases.retention import (
    REDACTED,
    cases_anonymise_due,
    forget_preview,
    phone_digest,
    redact,
    reporter_forget,
)
from chengguan.errors import ActionNotPermitted, InvalidInput
from chengguan.models import AuditEntry, OutboundMessage
from chengguan.roles import Role
from tests.cases.test_indicators import NOVEMBER, NOW, november
from tests.factories import CaseFactory, UserFactory, staff

PHONE = "13812341234"  # CaseFactory's reporter phone
OTHER = "13900001111"


def local(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return timezone.make_aware(datetime(year, month, day, hour))


def frozen(year: int, month: int, day: int, hour: int = 0):  # type: ignore[no-untyped-def]
    return time_machine.travel(local(year, month, day, hour), tick=False)


def pii_left(phone: str) -> list[str]:
    """Every place the number is still stored: case and co-report fields, texts, the outbox, the audit log."""
    places = []
    if Case.objects.filter(reporter_phone=phone).exists():
        places.append("case.reporter_phone")
    if CoReporter.objects.filter(phone=phone).exists():
        places.append("coreporter.phone")
    checks: list[tuple[Any, list[str]]] = [
        (Case, ["title", "description", "result"]),
        (CaseEvent, ["note"]),
        (ReturnVisit, ["comment"]),
        (CaseFeedback, ["comment"]),
        (OutboundMessage, ["recipient", "body", "key"]),
        (AuditEntry, ["target_repr"]),
    ]
    for model, fields in checks:
        for field in fields:
            if model.objects.filter(**{f"{field}__contains": phone}).exists():
                places.append(f"{model._meta.model_name}.{field}")
    json_checks: list[tuple[Any, str]] = [(CaseEvent, "data"), (AuditEntry, "data")]
    for model, field in json_checks:
        if any(phone in str(value) for value in model.objects.values_list(field, flat=True)):
            places.append(f"{model._meta.model_name}.{field}")
    return places


# --- redaction of free text -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("请联系13812341234", "请联系[***]"),
        ("电话 +86 138 1234 1234 找王先生", "电话 [***] 找王先生"),
        ("座机0571-88881234。", "座机[***]。"),
        ("身份证号330106199001011234", "身份证号[***]"),
        ("身份证33010619900101123X号", "身份证[***]号"),
        ("旧证号330106900101123", "旧证号[***]"),
        ("邮箱 zhang.san@example.com 联系", "邮箱 [***] 联系"),
    ],
)
def test_personal_numbers_in_free_text_are_redacted(text, expected):
    assert redact(text) == expected


def test_case_numbers_codes_dates_and_counts_are_kept():
    text = "与CG-20261124-000123重复，追踪码T0000123，2026-11-24 发现3处，面积120平方米"
    assert redact(text) == text


# --- the beat job -----------------------------------------------------------------------


@pytest.fixture
def month(community):  # type: ignore[no-untyped-def]
    """The indicators' fixture month (November 2026) with personal data all over it."""
    data = november(community)
    c1 = data["cases"]["C1"]
    CoReporter.objects.create(case=c1, name="李四", phone=OTHER)
    CaseFeedback.objects.create(
        case=data["cases"]["C9"], satisfaction=Satisfaction.SATISFIED, comment="打13812341234"
    )
    ReturnVisit.objects.filter(case=c1).update(comment="本人13812341234表示满意")
    Case.objects.filter(pk=c1.pk).update(description="门口摊贩，联系人手机13812341234", result="已劝离")
    close = CaseEvent.objects.create(
        case=c1,
        action=CaseAction.CLOSE,
        note="已电话13812341234告知",
        data={"changes": {"description": ["原文 13812341234", "新文"]}},
        created_at=local(2026, 11, 6, 10),
    )
    message_reporters(close)
    assert OutboundMessage.objects.filter(recipient__in=[PHONE, OTHER]).count() == 2
    return data


def test_the_job_anonymises_cases_past_the_retention_period_only(month, settings):
    settings.PERSONAL_DATA_RETENTION_MONTHS = 24
    cases = month["cases"]
    before = indicators(Case.objects.all(), NOVEMBER, now=NOW)
    # Given a day 23 months after November's closures: nothing is due yet
    with frozen(2028, 10, 1, 3):
        assert cases_anonymise_due() == 0
    # When the job runs 25 months after them
    with frozen(2029, 1, 1, 3):
        done = cases_anonymise_due(batch_size=3)
    # Then every closed or rejected case lost its personal data, open ones kept it
    closed = {n for n, c in cases.items() if c.status in (CaseStatus.CLOSED, CaseStatus.REJECTED)}
    assert done == len(closed)
    for name, case in cases.items():
        case.refresh_from_db()
        if name in closed:
            assert (case.reporter_name, case.reporter_phone) == ("", ""), name
            assert case.anonymised_at == local(2029, 1, 1, 3)
        else:
            assert case.reporter_phone == PHONE and case.anonymised_at is None, name
    c1 = cases["C1"]
    assert c1.description == f"门口摊贩，联系人手机{REDACTED}"
    assert CoReporter.objects.get(case=c1).phone == "" and CoReporter.objects.get(case=c1).name == ""
    assert ReturnVisit.objects.get(case=c1).comment == f"本人{REDACTED}表示满意"
    assert ReturnVisit.objects.get(case=c1).satisfaction == Satisfaction.SATISFIED
    event = CaseEvent.objects.get(case=c1, action=CaseAction.CLOSE)
    assert event.note == f"已电话{REDACTED}告知"
    assert event.data == {"changes": {"description": [f"原文 {REDACTED}", "新文"]}}
    # The outbox: no number as recipient, in the text or in the key
    assert not OutboundMessage.objects.filter(recipient__in=[PHONE, OTHER]).exists()
    assert OutboundMessage.objects.filter(recipient="", key__startswith="anonymised:").count() == 2
    # The statistics are the same
    assert indicators(Case.objects.all(), NOVEMBER, now=NOW) == before
    # The batches are audited, without personal data
    entries = AuditEntry.objects.filter(action="privacy.cases_anonymised")
    assert entries.count() == 3  # 8 cases in batches of 3
    assert sum(e.data["cases"] for e in entries) == len(closed)


def test_running_the_job_twice_changes_nothing_more(month):
    with frozen(2029, 1, 1, 3):
        first = cases_anonymise_due()
    snapshot = list(Case.objects.order_by("pk").values())
    with frozen(2029, 1, 2, 3):
        second = cases_anonymise_due()
    assert first > 0 and second == 0
    assert list(Case.objects.order_by("pk").values()) == snapshot
    assert AuditEntry.objects.filter(action="privacy.cases_anonymised").count() == 1


def test_an_interrupted_run_is_continued_by_the_next(month):
    with frozen(2029, 1, 1, 3):
        assert cases_anonymise_due(batch_size=2, max_batches=1) == 2
        assert cases_anonymise_due(batch_size=2) == 6
    assert not Case.objects.filter(status=CaseStatus.CLOSED, anonymised_at__isnull=True).exists()


def test_the_retention_period_comes_from_the_settings(month, settings):
    settings.PERSONAL_DATA_RETENTION_MONTHS = 36
    with frozen(2029, 1, 1, 3):
        assert cases_anonymise_due() == 0
    with frozen(2029, 12, 1, 3):
        assert cases_anonymise_due() > 0


def test_the_beat_job_is_scheduled_and_runs_the_service(month, settings):
    from cases.tasks import anonymise_closed_cases

    assert (
        settings.CELERY_BEAT_SCHEDULE["anonymise-closed-cases"]["task"]
        == "cases.tasks.anonymise_closed_cases"
    )
    with frozen(2029, 1, 1, 3):
        assert anonymise_closed_cases.delay().get() == 8


def test_staff_reporters_stay_linked_residents_do_not(community):
    liaison = staff(Role.LIAISON, scope=community)
    resident = UserFactory()
    old = {"status": CaseStatus.CLOSED, "closed_at": local(2020, 1, 1), "community": community}
    patrol = cast(Case, CaseFactory(reporter=liaison, **old))
    web = cast(Case, CaseFactory(reporter=resident, **old))
    cases_anonymise_due()
    patrol.refresh_from_db()
    web.refresh_from_db()
    assert patrol.reporter == liaison and patrol.reporter_phone == ""
    assert web.reporter is None


# --- requests to be forgotten -------------------------------------------------------------


@pytest.fixture
def admin_user(db):  # type: ignore[no-untyped-def]
    user = staff(Role.ADMIN, scope="city", username="sysadmin")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def reporter_cases(make_case, community):  # type: ignore[no-untyped-def]
    """A closed and an open case reported from PHONE, and PHONE's co-report on someone else's case."""
    closed = make_case(CaseStatus.CLOSED, reporter_name="王五", reporter_phone=PHONE)
    message_reporters(CaseEvent.objects.get(case=closed, action=CaseAction.CLOSE))
    open_case = make_case(CaseStatus.DISPATCHED, reporter_name="王五", reporter_phone=PHONE)
    message_reporters(CaseEvent.objects.get(case=open_case, action=CaseAction.REGISTER))
    others = make_case(CaseStatus.DISPATCHED, reporter_name="赵六", reporter_phone=OTHER)
    services.case_add_co_reporter(case=others, name="王五", phone=PHONE)
    return {"closed": closed, "open": open_case, "others": others}


def test_forgetting_keeps_open_cases_contact_until_they_close(reporter_cases, admin_user, superuser):
    closed, open_case, others = reporter_cases["closed"], reporter_cases["open"], reporter_cases["others"]
    assert forget_preview(actor=admin_user, phone=PHONE).open_cases == 1
    # When the admin forgets the number without confirming open cases
    outcome = reporter_forget(actor=admin_user, phone="138-1234-1234")
    # Then the closed case and the co-report are anonymised at once
    assert (outcome.anonymised_cases, outcome.kept_open, outcome.co_reports) == (1, 1, 1)
    closed.refresh_from_db()
    open_case.refresh_from_db()
    others.refresh_from_db()
    assert closed.reporter_phone == "" and closed.anonymised_at is not None
    assert not CoReporter.objects.filter(phone=PHONE).exists()
    assert others.reporter_phone == OTHER and others.anonymised_at is None
    # The open case keeps its contact, marked for later, with its pending message
    assert open_case.reporter_phone == PHONE and open_case.forget_requested_at is not None
    assert OutboundMessage.objects.filter(recipient=PHONE).count() == 1
    # And the audit entry names the number by its digest only
    entry = AuditEntry.objects.get(action="privacy.reporter_forgotten")
    assert entry.actor == admin_user
    assert entry.data["phone_digest"] == phone_digest(PHONE)
    assert PHONE not in str(entry.data)
    # When the open case is closed, the next job run anonymises it, recent as it is
    services.case_sign_for(case=open_case, actor=superuser)
    services.case_submit_result(case=Case.objects.get(pk=open_case.pk), actor=superuser, result="已处理")
    services.case_verify(case=Case.objects.get(pk=open_case.pk), actor=superuser, passed=True)
    assert cases_anonymise_due() == 1
    assert pii_left(PHONE) == []


def test_forgetting_with_confirmation_includes_open_cases(reporter_cases, admin_user):
    outcome = reporter_forget(actor=admin_user, phone=PHONE, include_open=True)
    assert (outcome.anonymised_cases, outcome.kept_open) == (2, 0)
    assert pii_left(PHONE) == []
    # Someone else's case is untouched
    assert Case.objects.get(pk=reporter_cases["others"].pk).reporter_phone == OTHER
    assert AuditEntry.objects.get(action="privacy.reporter_forgotten").data["include_open"] is True


def test_forgetting_a_number_twice_is_harmless(reporter_cases, admin_user):
    reporter_forget(actor=admin_user, phone=PHONE, include_open=True)
    again = reporter_forget(actor=admin_user, phone=PHONE, include_open=True)
    assert (again.anonymised_cases, again.co_reports, again.messages) == (0, 0, 0)


def test_only_admins_may_forget(reporter_cases, district, community):
    # (The admin role oversees the whole city by its role; others lack the permission.)
    for actor in (
        staff(Role.OPERATOR, scope="city"),
        staff(Role.SUPERVISOR, scope=district),
        staff(Role.LIAISON, scope=community),
    ):
        with pytest.raises(ActionNotPermitted):
            reporter_forget(actor=actor, phone=PHONE)
    assert Case.objects.filter(reporter_phone=PHONE).count() == 2


def test_a_bad_number_is_refused(admin_user):
    with pytest.raises(InvalidInput) as error:
        reporter_forget(actor=admin_user, phone="12ab")
    assert error.value.code == "invalid.phone"
    assert not AuditEntry.objects.filter(action="privacy.reporter_forgotten").exists()


# --- the admin -------------------------------------------------------------------------------


def test_the_forget_form_needs_a_login_and_the_permission(client, reporter_cases, district):
    url = reverse("admin:cases_case_forget_by_phone")
    assert client.get(url).status_code == 302
    operator = staff(Role.OPERATOR, scope="city")
    operator.is_staff = True
    operator.save(update_fields=["is_staff"])
    client.force_login(operator)
    assert client.get(url).status_code == 403
    assert client.post(url, {"phone": PHONE, "confirm": "1", "include_open": "on"}).status_code == 403
    assert Case.objects.filter(reporter_phone=PHONE).count() == 2


def test_the_forget_form_previews_then_forgets(client, reporter_cases, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:cases_case_forget_by_phone")
    changelist = client.get(reverse("admin:cases_case_changelist"))
    assert url in changelist.content.decode()
    assert client.get(url).status_code == 200
    # A bad number is shown as an error, nothing changes
    bad = client.post(url, {"phone": "abc"})
    assert bad.status_code == 200 and bad.context["form"].errors["phone"]
    # The preview counts what would go
    preview = client.post(url, {"phone": PHONE})
    assert preview.status_code == 200
    counts = preview.context["previews"][0]
    assert (counts.closed_cases, counts.open_cases, counts.co_reports) == (1, 1, 1)
    assert Case.objects.filter(reporter_phone=PHONE).count() == 2
    # Confirming forgets, open cases included when ticked
    done = client.post(url, {"phone": PHONE, "confirm": "1", "include_open": "on"})
    assert done.status_code == 302
    assert pii_left(PHONE) == []
    assert AuditEntry.objects.get(action="privacy.reporter_forgotten").data["source"] == "form"


def test_the_forget_action_asks_then_forgets_by_the_reporters_number(client, reporter_cases, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:cases_case_changelist")
    selected = {"action": "forget_reporters", "_selected_action": [reporter_cases["closed"].pk]}
    ask = client.post(url, {**selected, "index": "0"})
    assert ask.status_code == 200
    assert [p.phone for p in ask.context["previews"]] == [PHONE]
    done = client.post(url, {**selected, "confirm": "1"})
    assert done.status_code == 302
    # The closed case and the co-report go; the open case waits for its closure
    assert Case.objects.filter(reporter_phone=PHONE).count() == 1
    assert Case.objects.get(reporter_phone=PHONE).forget_requested_at is not None
    assert not CoReporter.objects.filter(phone=PHONE).exists()
    assert AuditEntry.objects.get(action="privacy.reporter_forgotten").data["source"] == "action"


def test_the_forget_action_is_not_offered_without_the_permission(client, reporter_cases, superuser, district):
    supervisor = staff(Role.SUPERVISOR, scope=district)
    supervisor.is_staff = True
    supervisor.save(update_fields=["is_staff"])
    client.force_login(supervisor)
    page = client.get(reverse("admin:cases_case_changelist"))
    assert page.status_code == 200
    assert "forget_reporters" not in page.content.decode()
    assert reverse("admin:cases_case_forget_by_phone") not in page.content.decode()


def test_the_visit_satisfaction_survives(month):
    with frozen(2029, 1, 1, 3):
        cases_anonymise_due()
    assert ReturnVisit.objects.filter(status=VisitStatus.DONE).count() == 3
