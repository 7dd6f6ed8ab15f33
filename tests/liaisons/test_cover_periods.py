"""Backup liaisons (AB角): cover periods give the backup the community's access for the period only."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from cases.choices import CaseStatus
from cases.selectors import cases_for
from chengguan.errors import ActionNotPermitted, InvalidInput
from chengguan.models import AuditEntry, Notification
from chengguan.permissions import can
from liaisons import jobs
from liaisons.models import CoverPeriod
from liaisons.services import cover_cancel, cover_change, cover_create
from tests import factories
from tests.fieldwork import posted

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)  # a Monday morning
START, END = T0 + timedelta(days=1), T0 + timedelta(days=4)


@pytest.fixture
def backup(outsider):  # type: ignore[no-untyped-def]
    """The neighbouring community's liaison, who covers ours (B角)."""
    return outsider


@pytest.fixture
def our_case(community):  # type: ignore[no-untyped-def]
    return factories.CaseFactory(
        community=community, status=CaseStatus.DISPATCHED, due_at=START + timedelta(days=1), reported_at=T0
    )


def sees(user, case) -> bool:  # type: ignore[no-untyped-def]
    fresh = type(user).objects.get(pk=user.pk)
    return cases_for(fresh).filter(pk=case.pk).exists()


def test_backup_sees_the_community_only_inside_the_period_and_the_job_is_idempotent(
    community, liaison, backup, supervisor, our_case, django_capture_on_commit_callbacks
):
    # given a cover planned for tomorrow to Friday
    with time_machine.travel(T0, tick=False):
        cover = cover_create(
            community=community, backup=backup, starts_at=START, ends_at=END, reason="事假", actor=supervisor
        )
        # then before it starts the backup sees nothing of the community
        assert cover.granted_at is None and not sees(backup, our_case)
        assert jobs.sync_cover_periods() == 0

    # when the period starts and the beat job runs twice
    with time_machine.travel(START + timedelta(minutes=5), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert jobs.sync_cover_periods() == 1
            assert jobs.sync_cover_periods() == 0
        cover.refresh_from_db()
        # then the backup works in the community and is told what falls due
        assert cover.granted_at == START + timedelta(minutes=5) and cover.withdrawn_at is None
        assert sees(backup, our_case)
        notes = Notification.objects.filter(recipient=backup)
        assert notes.count() == 1 and our_case.number in notes.get().body

    # when the period is over and the job runs twice
    with time_machine.travel(END + timedelta(minutes=1), tick=False):
        assert jobs.sync_cover_periods() == 1
        assert jobs.sync_cover_periods() == 0
        cover.refresh_from_db()
        # then the access is gone, the community's own liaison keeps theirs
        assert cover.withdrawn_at == END + timedelta(minutes=1)
        assert not sees(backup, our_case) and sees(liaison, our_case)
        assert Notification.objects.filter(recipient=backup).count() == 1
    actions = list(
        AuditEntry.objects.filter(action__startswith="cover.").order_by("pk").values_list("action", flat=True)
    )
    assert actions == ["cover.created", "cover.access_granted", "cover.access_withdrawn"]


def test_a_running_cover_grants_at_once_and_cancelling_withdraws_at_once(
    community, backup, supervisor, our_case
):
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        cover = cover_create(
            community=community, backup=backup, starts_at=START, ends_at=END, reason="病假", actor=supervisor
        )
        assert cover.granted_at is not None and sees(backup, our_case)
        cover_cancel(cover=cover, actor=supervisor)
        cover_cancel(cover=cover, actor=supervisor)  # twice: nothing more happens
        cover.refresh_from_db()
        assert cover.cancelled_at is not None and cover.withdrawn_at is not None
        assert not sees(backup, our_case)
        assert jobs.sync_cover_periods() == 0
        assert AuditEntry.objects.filter(action="cover.cancelled").count() == 1


def test_moving_a_cover_into_the_future_withdraws_the_access(community, backup, supervisor, our_case):
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        cover = cover_create(
            community=community, backup=backup, starts_at=START, ends_at=END, reason="培训", actor=supervisor
        )
        cover_change(
            cover=cover, starts_at=END, ends_at=END + timedelta(days=2), reason="培训改期", actor=supervisor
        )
        assert not sees(backup, our_case)
        assert AuditEntry.objects.filter(action="cover.changed").exists()


def test_the_backup_keeps_their_own_community_after_a_cover(community, other_community, backup, supervisor):
    own_case = factories.CaseFactory(community=other_community, status=CaseStatus.DISPATCHED)
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        cover = cover_create(
            community=community, backup=backup, starts_at=START, ends_at=END, reason="事假", actor=supervisor
        )
        cover_cancel(cover=cover, actor=supervisor)
    assert sees(backup, own_case)


def test_cover_rules(community, liaison, backup, supervisor):
    with time_machine.travel(T0, tick=False):
        with pytest.raises(InvalidInput):  # the community's own liaison cannot cover it
            cover_create(
                community=community,
                backup=liaison,
                starts_at=START,
                ends_at=END,
                reason="x",
                actor=supervisor,
            )
        with pytest.raises(InvalidInput):  # ends before it starts
            cover_create(
                community=community, backup=backup, starts_at=END, ends_at=START, reason="x", actor=supervisor
            )
        with pytest.raises(InvalidInput):  # a reason is needed
            cover_create(
                community=community, backup=backup, starts_at=START, ends_at=END, reason=" ", actor=supervisor
            )
        with pytest.raises(ActionNotPermitted):  # a liaison cannot name covers
            cover_create(
                community=community, backup=backup, starts_at=START, ends_at=END, reason="x", actor=liaison
            )
        elsewhere = factories.staff("supervisor", scope=factories.DistrictFactory())
        with pytest.raises(ActionNotPermitted):  # nor a supervisor of another district
            cover_create(
                community=community, backup=backup, starts_at=START, ends_at=END, reason="x", actor=elsewhere
            )
    assert not CoverPeriod.objects.exists()


# --- pages -------------------------------------------------------------------------------------


def test_cover_page_anonymous_unscoped_and_scoped(client, community, backup, supervisor, liaison):
    url = reverse("liaisons:cover_list")
    assert client.get(url).status_code == 302
    client.force_login(factories.staff("operator", scope=community.street.district))
    assert client.get(url).status_code == 403

    client.force_login(supervisor)
    response = client.post(
        url,
        {
            "community": community.pk,
            "backup": backup.pk,
            "starts_at": "2099-03-03T09:00",
            "ends_at": "2099-03-01T09:00",
            "reason": "事假",
        },
    )
    assert response.status_code == 400 and not CoverPeriod.objects.exists()
    response = client.post(
        url,
        {
            "community": community.pk,
            "backup": backup.pk,
            "starts_at": "2099-03-03T09:00",
            "ends_at": "2099-03-05T18:00",
            "reason": "事假",
        },
    )
    assert response.status_code == 302
    cover = CoverPeriod.objects.get()
    assert cover.created_by == supervisor

    other = factories.staff("supervisor", scope=factories.DistrictFactory())
    client.force_login(other)
    assert client.post(reverse("liaisons:cover_cancel", args=[cover.pk])).status_code == 404
    assert "事假" not in client.get(url).content.decode()

    client.force_login(supervisor)
    assert client.post(reverse("liaisons:cover_cancel", args=[cover.pk])).status_code == 302
    cover.refresh_from_db()
    assert cover.cancelled_at is not None


def test_cover_list_query_count(client, community, backup, supervisor, django_assert_max_num_queries):
    for day in range(5):
        start = T0 + timedelta(days=10 * day)
        cover_create(
            community=community,
            backup=backup,
            starts_at=start,
            ends_at=start + timedelta(days=1),
            reason="x",
            actor=supervisor,
        )
    client.force_login(supervisor)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("liaisons:cover_list"))
    assert response.status_code == 200 and response.context["page_obj"].paginator.count == 5


def test_public_community_page_shows_who_is_covering(client, community, backup, supervisor):
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        cover_create(
            community=community, backup=backup, starts_at=START, ends_at=END, reason="事假", actor=supervisor
        )
        page = client.get(reverse("communities:detail", args=[community.code])).content.decode()
    assert 'id="cover-notice"' in page and backup.name in page
    with time_machine.travel(END + timedelta(hours=1), tick=False):
        page = client.get(reverse("communities:detail", args=[community.code])).content.decode()
    assert 'id="cover-notice"' not in page


def test_admin_can_create_and_cancel_covers(client, community, backup):
    admin_user = factories.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:liaisons_coverperiod_add"),
        {
            "community": community.pk,
            "backup": backup.pk,
            "starts_at_0": "2099-03-03",
            "starts_at_1": "09:00",
            "ends_at_0": "2099-03-05",
            "ends_at_1": "18:00",
            "reason": "年假",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    cover = CoverPeriod.objects.get()
    response = client.post(
        reverse("admin:liaisons_coverperiod_changelist"),
        {"action": "cancel_covers", "_selected_action": [cover.pk]},
    )
    assert response.status_code == 302
    cover.refresh_from_db()
    assert cover.cancelled_at is not None


def test_can_gate_on_cover_periods(community, supervisor, liaison):
    cover = CoverPeriod(community=community)
    assert can(supervisor, "change", cover) and not can(liaison, "change", cover)


__all__ = ["posted"]
