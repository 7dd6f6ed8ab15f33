"""不实/恶意投诉: a supervisor marks a closed or rejected case false; it leaves the officer's assessment."""

from datetime import date

import pytest
from django.urls import reverse

from cases.choices import CaseStatus
from cases.dashboard import Assessment
from cases.models import Case
from chengguan.clock import frozen_at
from chengguan.models import AuditEntry
from chengguan.roles import Role
from liaisons.services import liaison_assign
from tests.cases.test_indicators import NOW, at
from tests.factories import CaseFactory, DistrictFactory, staff

pytestmark = pytest.mark.django_db

NOVEMBER = date(2026, 11, 1)
PHONE = "13911112222"


@pytest.fixture
def supervisor(district):  # type: ignore[no-untyped-def]
    return staff(Role.SUPERVISOR, scope=district)


@pytest.fixture
def liaison(community):  # type: ignore[no-untyped-def]
    person = staff(Role.LIAISON, username="lianluoyuan")
    liaison_assign(community=community, liaison=person)
    return person


@pytest.fixture
def handled(community, liaison):  # type: ignore[no-untyped-def]
    """Two November cases the liaison handled: A closed on time, B closed two days late."""
    common = {
        "community": community,
        "assignee": liaison,
        "status": CaseStatus.CLOSED,
        "reporter_phone": PHONE,
    }
    a = CaseFactory(
        title="A",
        reported_at=at(11, 2),
        registered_at=at(11, 2),
        due_at=at(11, 9),
        closed_at=at(11, 6),
        **common,
    )
    b = CaseFactory(
        title="B",
        reported_at=at(11, 3),
        registered_at=at(11, 3),
        due_at=at(11, 10),
        closed_at=at(11, 12),
        **common,
    )
    return a, b


def liaison_row(user, liaison):  # type: ignore[no-untyped-def]
    with frozen_at(NOW):
        return next(row for row in Assessment(user, NOVEMBER).liaisons if row.key == liaison.pk)


def mark_false(client, case, reason="举报人捏造事实，多次重复投诉"):  # type: ignore[no-untyped-def]
    case.refresh_from_db()
    return client.post(
        reverse("desk:act", args=[case.number, "mark-false"]),
        {"reason": reason, "expected_version": case.version},
    )


def test_marking_a_case_false_changes_the_liaisons_score_as_design_6_says(
    client, supervisor, liaison, handled
):
    # given: due 2, closed 2, on time 1, reworked 0, no return visits.
    # Score (weights 60/20/10/10, satisfaction without data left out and the rest scaled to 100):
    # (60 × 1/2 + 20 × 2/2 + 10 × (1 − 0/2)) × 100 / 90 = 60 × 100 / 90 = 66.67
    before = liaison_row(supervisor, liaison)
    assert (before.figures["due"], before.figures["closed"], before.figures["closed_on_time"]) == (2, 2, 1)
    assert before.score == pytest.approx(66.67, abs=0.005)
    assert before.figures["false_reports"] == 0

    # when the supervisor marks the late case B false on its page
    client.force_login(supervisor)
    response = mark_false(client, handled[1])
    assert response.status_code in (200, 302)

    # then B is out of the figures: due 1, closed 1, on time 1 →
    # (60 × 1 + 20 × 1 + 10 × 1) × 100 / 90 = 100.0, and it is counted on its own
    after = liaison_row(supervisor, liaison)
    assert (after.figures["due"], after.figures["closed"], after.figures["closed_on_time"]) == (1, 1, 1)
    assert after.score == pytest.approx(100.0)
    assert after.figures["false_reports"] == 1
    b = Case.objects.get(pk=handled[1].pk)
    assert b.false_report and b.false_report_by == supervisor and "捏造" in b.false_report_reason
    assert AuditEntry.objects.filter(action="case.marked_false", target_id=str(b.pk)).exists()


def test_the_assessment_page_shows_the_false_count_apart(client, supervisor, liaison, handled):
    Case.objects.filter(pk=handled[1].pk).update(false_report=True, false_report_at=at(11, 20))
    client.force_login(supervisor)
    with frozen_at(NOW):
        response = client.get(reverse("dashboard:assessment") + "?month=2026-11")
    assert response.status_code == 200
    row = next(r for r in response.context["report"].liaisons if r.key == liaison.pk)
    assert row.figures["false_reports"] == 1 and row.score == pytest.approx(100.0)


def test_only_a_supervisor_in_scope_sees_and_uses_the_action(client, liaison, handled, community):
    case = handled[1]
    url = reverse("cases:detail", args=[case.number])
    # anonymous: sign in first
    assert mark_false(client, case).status_code == 302
    assert not Case.objects.get(pk=case.pk).false_report
    # the liaison sees the case but not the action, and cannot post it
    client.force_login(liaison)
    assert 'data-desk-action="mark-false"' not in client.get(url).content.decode()
    mark_false(client, case)
    assert not Case.objects.get(pk=case.pk).false_report
    # a supervisor of another district does not even find the case
    client.force_login(staff(Role.SUPERVISOR, scope=DistrictFactory()))
    assert mark_false(client, case).status_code == 404
    assert not Case.objects.get(pk=case.pk).false_report


def test_the_action_needs_a_reason_and_a_closed_or_rejected_case(client, supervisor, community):
    open_case = CaseFactory(community=community, status=CaseStatus.DISPATCHED)
    closed = CaseFactory(community=community, status=CaseStatus.CLOSED)
    client.force_login(supervisor)
    page = client.get(reverse("cases:detail", args=[open_case.number])).content.decode()
    assert 'data-desk-action="mark-false"' not in page
    page = client.get(reverse("cases:detail", args=[closed.number])).content.decode()
    assert 'data-desk-action="mark-false"' in page
    response = mark_false(client, closed, reason="  ")
    assert response.status_code == 422 and not Case.objects.get(pk=closed.pk).false_report
    mark_false(client, closed)
    page = client.get(reverse("cases:detail", args=[closed.number])).content.decode()
    assert 'data-desk-action="mark-false"' not in page  # once only


def test_repeated_reports_from_a_phone_are_shown_to_staff_with_pii_rights(
    client, supervisor, handled, community
):
    Case.objects.filter(pk=handled[1].pk).update(false_report=True)
    with frozen_at(at(11, 20)):
        newest = CaseFactory(community=community, reporter_phone=PHONE, reported_at=at(11, 19))
        client.force_login(supervisor)
        page = client.get(reverse("cases:detail", args=[newest.number])).content.decode()
    assert 'id="phone-history"' in page and f"?q={PHONE}" in page
    history = response_text(page, "phone-history")
    assert "3" in history and "1" in history

    # community staff see the case without the phone history (no view_reporter_contact)
    client.force_login(staff(Role.COMMUNITY_STAFF, scope=community))
    with frozen_at(at(11, 20)):
        page = client.get(reverse("cases:detail", args=[newest.number])).content.decode()
    assert 'id="phone-history"' not in page and PHONE not in page


def response_text(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    return page[start : page.index("</p>", start)]
