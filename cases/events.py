"""Constructors for CaseEvent rows: the only place events are created.

Each function writes one event in the caller's transaction. Status changes go
through `status_changed`; the others record what happens between them.
"""

from datetime import datetime
from typing import Any

from cases.choices import CaseAction, CaseStatus
from cases.models import (
    Case,
    CaseAttachment,
    CaseEvent,
    CaseFeedback,
    CoReporter,
    ExtensionRequest,
    ParkingRequest,
    ReturnVisit,
)
from chengguan import clock

# Events the reporter sees on the public tracking page.
PUBLIC_ACTIONS = frozenset(
    {
        CaseAction.REPORT,
        CaseAction.REGISTER,
        CaseAction.REJECT,
        CaseAction.MERGE,
        CaseAction.DISPATCH,
        CaseAction.SIGN_FOR,
        CaseAction.SUBMIT_RESULT,
        CaseAction.CLOSE,
        CaseAction.CLOSE_ON_SPOT,
        CaseAction.REWORK,
        CaseAction.REOPEN,
        CaseAction.DUPLICATE_ADDED,
        CaseAction.CO_REPORTER_ADDED,
        CaseAction.RATED,
    }
)


def _create(
    case: Case,
    action: CaseAction,
    *,
    actor: Any,
    note: str = "",
    data: dict[str, Any] | None = None,
    from_status: str = "",
    to_status: str = "",
) -> CaseEvent:
    event = _build(
        case, action, actor=actor, note=note, data=data, from_status=from_status, to_status=to_status
    )
    event.save()
    return event


def _build(
    case: Case,
    action: CaseAction,
    *,
    actor: Any,
    note: str = "",
    data: dict[str, Any] | None = None,
    from_status: str = "",
    to_status: str = "",
) -> CaseEvent:
    """An unsaved event, for the constructors and for batches written with bulk_create."""
    return CaseEvent(
        case=case,
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=data or {},
        is_public=action in PUBLIC_ACTIONS,
        created_at=clock.now(),
    )


def status_changed(
    case: Case,
    action: CaseAction,
    *,
    actor: Any,
    from_status: CaseStatus | str,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    return _create(
        case, action, actor=actor, note=note, data=data, from_status=from_status, to_status=case.status
    )


def reported(case: Case, *, actor: Any) -> CaseEvent:
    return _create(case, CaseAction.REPORT, actor=actor, to_status=case.status, data={"source": case.source})


def duplicate_added(master: Case, *, duplicate: Case, actor: Any) -> CaseEvent:
    return _create(
        master,
        CaseAction.DUPLICATE_ADDED,
        actor=actor,
        data={"duplicate": duplicate.number, "report_count": master.report_count},
    )


def extension_requested(case: Case, *, request: ExtensionRequest, actor: Any) -> CaseEvent:
    return _create(
        case,
        CaseAction.EXTENSION_REQUESTED,
        actor=actor,
        note=request.reason,
        data={"request": request.pk, "requested_due_at": request.requested_due_at.isoformat()},
    )


def extension_decided(
    case: Case, *, request: ExtensionRequest, actor: Any, old_due_at: datetime | None
) -> CaseEvent:
    action = CaseAction.EXTENSION_APPROVED if request.status == "approved" else CaseAction.EXTENSION_REFUSED
    return _create(
        case,
        action,
        actor=actor,
        note=request.decision_note,
        data={
            "request": request.pk,
            "old_due_at": old_due_at.isoformat() if old_due_at else None,
            "due_at": case.due_at.isoformat() if case.due_at else None,
        },
    )


def escalated(case: Case, *, actor: Any, note: str, automatic: bool) -> CaseEvent:
    event = escalated_unsaved(case, actor=actor, note=note, automatic=automatic)
    event.save()
    return event


def escalated_unsaved(case: Case, *, actor: Any, note: str, automatic: bool) -> CaseEvent:
    """The `escalate` event, not yet written: the overdue job bulk-creates a batch of them."""
    return _build(
        case,
        CaseAction.ESCALATE,
        actor=actor,
        note=note,
        data={
            "level": case.escalation_level,
            "automatic": automatic,
            "deadline": case.deadline.isoformat() if case.deadline else None,
        },
    )


# The columns `escalated_insert_sql` writes: every column of the event table
# (tests/cases/test_escalation_batch.py fails when a field is added without it).
ESCALATED_INSERT_COLUMNS = (
    "case_id",
    "action",
    "actor_id",
    "from_status",
    "to_status",
    "note",
    "data",
    "is_public",
    "created_at",
)


def escalated_insert_sql(
    source: str, *, note: str, automatic: bool, created_at: datetime
) -> tuple[str, list[Any]]:
    """PostgreSQL `INSERT … SELECT` of the `escalate` event of each row of `source`, RETURNING id, case_id.

    The same event as `escalated_unsaved` with no actor, for the overdue job,
    which writes a batch of them without a Python object per case. `source`
    names a relation (a CTE) with the escalated cases' `id`, `deadline` and
    `escalation_level` (already raised). The deadline is written as
    Python's `isoformat()` writes it in UTC, as the other events do.
    """
    iso_deadline = (
        "to_char(deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        " || CASE WHEN extract(microseconds FROM deadline)::bigint %% 1000000 = 0 THEN ''"
        " ELSE to_char(deadline AT TIME ZONE 'UTC', '.US') END || '+00:00'"
    )
    sql = (
        f"INSERT INTO {CaseEvent._meta.db_table} ({', '.join(ESCALATED_INSERT_COLUMNS)}) "
        "SELECT id, %s, NULL, '', '', %s, "
        f"jsonb_build_object('level', escalation_level, 'automatic', %s, 'deadline', {iso_deadline}), "
        f"%s, %s FROM {source} RETURNING id, case_id"
    )
    return sql, [
        CaseAction.ESCALATE.value,
        note,
        automatic,
        CaseAction.ESCALATE in PUBLIC_ACTIONS,
        created_at,
    ]


def attachment_added(case: Case, *, actor: Any, attachment_ids: list[int], kind: str) -> CaseEvent:
    return _create(
        case, CaseAction.ATTACHMENT_ADDED, actor=actor, data={"attachments": attachment_ids, "kind": kind}
    )


def note_added(case: Case, *, actor: Any, note: str) -> CaseEvent:
    return _create(case, CaseAction.NOTE, actor=actor, note=note)


def co_reporter_added(case: Case, *, co_reporter: CoReporter, actor: Any) -> CaseEvent:
    return _create(
        case,
        CaseAction.CO_REPORTER_ADDED,
        actor=actor,
        data={"co_reporter": co_reporter.pk, "report_count": case.report_count},
    )


def return_visited(case: Case, *, visit: ReturnVisit, actor: Any) -> CaseEvent:
    return _create(
        case,
        CaseAction.RETURN_VISITED,
        actor=actor,
        note=visit.comment,
        data={
            "visit": visit.pk,
            "status": visit.status,
            "channel": visit.channel,
            "satisfaction": visit.satisfaction,
            "round": visit.round,
        },
    )


def marked_false(case: Case, *, actor: Any) -> CaseEvent:
    return _create(case, CaseAction.MARKED_FALSE, actor=actor, note=case.false_report_reason)


def rated(case: Case, *, feedback: CaseFeedback, actor: Any) -> CaseEvent:
    return _create(
        case,
        CaseAction.RATED,
        actor=actor,
        note=feedback.comment,
        data={"satisfaction": feedback.satisfaction},
    )


def parking_requested(case: Case, *, request: ParkingRequest, actor: Any) -> CaseEvent:
    return _create(
        case,
        CaseAction.PARKING_REQUESTED,
        actor=actor,
        note=request.reason,
        data={
            "request": request.pk,
            "resume_on": request.resume_on.isoformat() if request.resume_on else None,
        },
    )


def parking_refused(case: Case, *, request: ParkingRequest, actor: Any) -> CaseEvent:
    return _create(
        case,
        CaseAction.PARKING_REFUSED,
        actor=actor,
        note=request.decision_note,
        data={"request": request.pk},
    )


# Moderation events keep the original values ("changes": {field: [old, new]});
# they are staff-only, so the public never sees what was corrected away.


def text_moderated(case: Case, *, actor: Any, reason: str, changes: dict[str, list[str]]) -> CaseEvent:
    return _create(case, CaseAction.TEXT_MODERATED, actor=actor, note=reason, data={"changes": changes})


def attachment_hidden(case: Case, *, actor: Any, attachment: CaseAttachment) -> CaseEvent:
    return _create(
        case,
        CaseAction.ATTACHMENT_HIDDEN,
        actor=actor,
        note=attachment.hidden_reason,
        data={"attachment": attachment.pk, "kind": attachment.kind},
    )


def attachment_unhidden(case: Case, *, actor: Any, attachment: CaseAttachment, reason: str) -> CaseEvent:
    return _create(
        case,
        CaseAction.ATTACHMENT_UNHIDDEN,
        actor=actor,
        note=reason,
        data={"attachment": attachment.pk, "kind": attachment.kind},
    )


def recategorised(
    case: Case,
    *,
    actor: Any,
    reason: str,
    changes: dict[str, list[str]],
    deadlines: dict[str, list[str | None]] | None = None,
) -> CaseEvent:
    """`changes` as shown in the timeline; `deadlines`: {"deadline"/"due_at": [old, new]} in ISO 8601."""
    data: dict[str, Any] = {"changes": changes}
    if deadlines:
        data["deadlines"] = deadlines
    return _create(case, CaseAction.RECATEGORISED, actor=actor, note=reason, data=data)
