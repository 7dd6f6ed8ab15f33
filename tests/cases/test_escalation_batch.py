"""Automatic escalation (督办) in batches: once per case and deadline, guarded against concurrent changes."""

import re
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext

from cases import events, jobs, services
from cases.choices import CaseAction, CaseStatus
from cases.models import Case, CaseEvent
from chengguan.clock import frozen_at
from chengguan.models import AuditEntry, Notification, NotificationKind
from chengguan.roles import Role
from tests.conftest import seed_categories
from tests.factories import CaseFactory, aware, staff

MONDAY = aware(2026, 3, 2, 10)
LATER = aware(2026, 3, 3, 11)  # after every deadline set below
NOTE = "Deadline passed without action."


def overdue_cases(community, unit, count, **fields):  # type: ignore[no-untyped-def]
    """`count` dispatched cases whose deadline (Tuesday 10:00) has passed by LATER."""
    fields.setdefault("status", CaseStatus.DISPATCHED)
    return [
        CaseFactory(community=community, handling_unit=unit, deadline=aware(2026, 3, 3, 10), **fields)
        for _ in range(count)
    ]


@pytest.mark.django_db
def test_a_run_in_batches_escalates_each_case_once_and_notifies_up_the_chain(district, community, unit):
    # given seven overdue cases of a unit with one member, the district's supervisor,
    # one case not yet due and a parked one
    supervisor = staff(Role.SUPERVISOR, scope=district)
    member = staff(Role.HANDLING_UNIT, scope=unit)
    cases = overdue_cases(community, unit, 7)
    not_due = CaseFactory(community=community, status=CaseStatus.DISPATCHED, deadline=aware(2026, 3, 4, 10))
    parked = CaseFactory(community=community, status=CaseStatus.PARKED, deadline=aware(2026, 3, 3, 10))
    # when the job runs in batches of three, then again
    with frozen_at(LATER):
        first = jobs.escalate_overdue(batch_size=3)
        second = jobs.escalate_overdue(batch_size=3)
    # then all seven were escalated once, with one automatic event each
    assert (first, second) == (7, 0)
    for case in cases:
        case.refresh_from_db()
        assert (case.escalation_level, case.escalated_at, case.escalated_deadline) == (
            1,
            LATER,
            case.deadline,
        )
        assert case.version == 2
        event = case.events.get(action=CaseAction.ESCALATE)
        assert (event.actor, event.data["automatic"], event.data["level"]) == (None, True, 1)
        assert event.data["deadline"] == case.deadline.isoformat()
        # and the supervisor and the unit's member were told, once, as an escalation
        told = Notification.objects.filter(key=f"case-event:{event.pk}")
        assert {(n.recipient_id, n.kind) for n in told} == {
            (supervisor.pk, NotificationKind.CASE_ESCALATED),
            (member.pk, NotificationKind.CASE_ESCALATED),
        }
        assert told.first().url == f"/cases/{case.number}/"
    for case in (not_due, parked):
        assert Case.objects.get(pk=case.pk).escalation_level == 0
    # and each batch left one audit entry: three batches of at most three, interleaved (3 + 2 + 2)
    audits = AuditEntry.objects.filter(action="cases.escalated_overdue").order_by("id")
    assert [entry.data["count"] for entry in audits] == [3, 2, 2]


@pytest.mark.django_db
def test_a_case_changed_after_the_ids_were_read_is_left_alone(district, community, unit, superuser):
    # given three overdue cases whose ids the job has read
    cases = overdue_cases(community, unit, 3)
    with frozen_at(LATER):
        ids = [case.pk for case in cases]
        # when, before the batch runs, one is escalated by another run and one is parked
        assert services.case_escalate(case=cases[0], automatic=True) is not None
        services.case_park(case=cases[1], actor=superuser, reason="涉及拆迁，暂缓处置")
        escalated = jobs._escalate_batch(ids, now=LATER, recipients=jobs._Recipients())
    # then only the untouched case was escalated by the batch, and nothing twice
    assert escalated == 1
    levels = dict(Case.objects.filter(pk__in=ids).values_list("pk", "escalation_level"))
    assert levels == {cases[0].pk: 1, cases[1].pk: 0, cases[2].pk: 1}
    assert CaseEvent.objects.filter(case_id__in=ids, action=CaseAction.ESCALATE).count() == 2


@pytest.mark.django_db
def test_a_new_deadline_that_passes_escalates_again(district, community, unit):
    (case,) = overdue_cases(community, unit, 1)
    with frozen_at(LATER):
        jobs.escalate_overdue()
    Case.objects.filter(pk=case.pk).update(deadline=aware(2026, 3, 5, 10))

    with frozen_at(aware(2026, 3, 5, 12)):
        assert jobs.escalate_overdue() == 1
        assert jobs.escalate_overdue() == 0

    case.refresh_from_db()
    assert case.escalation_level == 2
    assert case.events.filter(action=CaseAction.ESCALATE).count() == 2


@pytest.mark.django_db
def test_queries_per_run_do_not_grow_with_the_cases(district, community, unit):
    # given a supervisor and a unit member to notify, and overdue cases
    staff(Role.SUPERVISOR, scope=district)
    staff(Role.HANDLING_UNIT, scope=unit)

    def queries_to_escalate(count: int) -> int:
        overdue_cases(community, unit, count)
        with frozen_at(LATER), CaptureQueriesContext(connection) as queries:
            assert jobs.escalate_overdue(batch_size=100) == count
        Case.objects.all().delete()
        return len(queries)

    # then escalating 40 cases takes as many queries as escalating 4 (one batch each)
    assert queries_to_escalate(40) == queries_to_escalate(4)


@pytest.mark.django_db
def test_the_service_entry_point_and_the_beat_task_run_the_batched_job(community, unit):
    from cases.tasks import escalate_overdue_cases

    overdue_cases(community, unit, 2)
    with frozen_at(LATER):
        assert services.escalate_overdue(batch_size=1) == 2
    overdue_cases(community, unit, 1)
    with frozen_at(LATER):
        assert escalate_overdue_cases.apply().get() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_case_locked_by_someone_else_is_skipped_and_taken_by_the_next_run(district, community, unit):
    # given two overdue cases, one of them locked by a transaction in progress (a supervisor acting on it)
    seed_categories()
    locked, _free = overdue_cases(community, unit, 2)
    holding, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        try:
            with transaction.atomic():
                Case.objects.select_for_update().get(pk=locked.pk)
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=hold_lock)
    thread.start()
    try:
        assert holding.wait(30)
        # when the job runs meanwhile, it does not wait for the lock
        with frozen_at(LATER):
            first = jobs.escalate_overdue()
    finally:
        release.set()
        thread.join(30)
    # then only the free case was escalated, and the next run takes the other
    assert first == 1
    assert Case.objects.get(pk=locked.pk).escalation_level == 0
    with frozen_at(LATER + timedelta(minutes=5)):
        assert jobs.escalate_overdue() == 1
    assert set(Case.objects.values_list("escalation_level", flat=True)) == {1}


@pytest.mark.django_db
def test_batches_are_interleaved_within_a_window_and_take_each_id_once(community, unit):
    # given seven cases
    ids = sorted(case.pk for case in overdue_cases(community, unit, 7))
    # when they are chunked by three, with and without a stride
    interleaved = list(jobs._keyset(Case.objects.all(), 3, stride=6))
    straight = list(jobs._keyset(Case.objects.all(), 3))
    # then a window is handed out as few interleaved chunks as it needs, each id once
    assert interleaved == [ids[0::3], ids[1::3], ids[2::3]]
    assert straight == [ids[0:3], ids[3:6], ids[6:7]]


def test_the_bulk_inserts_write_every_column():
    # given the columns the PostgreSQL statements of the job write
    from cases.events import ESCALATED_INSERT_COLUMNS
    from chengguan.notifications import NOTIFICATION_INSERT_COLUMNS

    def columns(model):  # type: ignore[no-untyped-def]
        return {f.column for f in model._meta.concrete_fields if not f.primary_key}

    # then they are every column of the tables but the id (a new field must be added there too)
    assert set(ESCALATED_INSERT_COLUMNS) == columns(CaseEvent)
    assert set(NOTIFICATION_INSERT_COLUMNS) == columns(Notification)


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgresql_escalation_is_a_hot_update_and_writes_the_same_event(district, community, unit):
    # given the case table keeps room on its pages, and overdue cases, one due at a fractional second
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE oid = 'cases_case'::regclass")
        assert "fillfactor=80" in (cursor.fetchone()[0] or [])
    cases = overdue_cases(community, unit, 4)
    Case.objects.filter(pk=cases[0].pk).update(deadline=aware(2026, 3, 3, 9, 59, 59, 123456))

    def updates() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_stat_get_xact_tuples_updated(%s::regclass), "
                "pg_stat_get_xact_tuples_hot_updated(%s::regclass)",
                ["cases_case", "cases_case"],
            )
            updated, hot = cursor.fetchone()
        return updated, hot

    # and no index of the case table covers a column escalation writes
    # (an index on one makes every escalation update write all ~40 indexes)
    written = ("escalation_level", "escalated_at", "escalated_deadline", "version", "updated_at")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cases_case'")
        covering = [
            name
            for name, definition in cursor.fetchall()
            if set(re.findall(r"\w+", definition)) & set(written)
        ]
    assert covering == [], f"indexes on columns the escalation job writes: {covering}"
    before = updates()
    # when the job runs
    with frozen_at(LATER):
        assert jobs.escalate_overdue() == 4
    # then every case row was updated in place: escalation changes no indexed column
    after = updates()
    assert (after[0] - before[0], after[1] - before[1]) == (4, 4)
    # and each event is the one the Python constructor builds
    for case in Case.objects.filter(pk__in=[c.pk for c in cases]):
        event = case.events.get(action=CaseAction.ESCALATE)
        expected = events.escalated_unsaved(case, actor=None, note=gettext(NOTE), automatic=True)
        fields = ("action", "actor_id", "from_status", "to_status", "note", "is_public", "data")
        assert [getattr(event, f) for f in fields] == [getattr(expected, f) for f in fields]
