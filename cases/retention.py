"""Personal data retention (PIPL): reporters' names and phone numbers do not outlive their use.

Two ways out:

* the `anonymise-closed-cases` beat job (`cases_anonymise_due`): a case
  closed or rejected more than settings.PERSONAL_DATA_RETENTION_MONTHS ago
  loses its reporters' personal data, walked in keyset batches, each batch
  one transaction; `Case.anonymised_at` marks a case done, so a second run
  finds nothing left to do;
* a resident's request to be forgotten (`reporter_forget`, from the admin:
  the "forget this reporter" action on cases and the "forget by phone
  number" form): every case and co-report of that phone number at once,
  whatever its age. A case that is still open keeps its reporter's contact
  until it is closed (the handler and the return visit need it), unless the
  admin explicitly confirms that open cases go too; otherwise it is marked
  (`Case.forget_requested_at`) and the beat job anonymises it as soon as it
  is closed or rejected. Co-reports are forgotten at once in any case: the
  case's contact is its reporter.

What anonymising removes: the reporter's and co-reporters' names, phone
numbers and the link to a resident's account; phone numbers, ID card
numbers and email addresses inside free text (the case's title,
description and result, history notes and details, comments of return
visits and of the reporter's rating, request reasons, pushes to the 12345
platform); the outbox messages sent to them (recipient blanked, text
redacted). What it keeps: everything the indicators count (status, times,
category, source, place, community, counters, satisfaction), and the
public wording of the case with those numbers replaced by `REDACTED`.

Both are audited; the audit entry names the phone number by a keyed hash
(`phone_digest`), never in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dateutil.relativedelta import relativedelta  # type: ignore[import-untyped]
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext as _

from cases.choices import OPEN_STATUSES, CaseAction, CaseStatus
from cases.models import (
    Case,
    CaseEvent,
    CaseFeedback,
    CoReporter,
    ExtensionRequest,
    HotlinePush,
    ParkingRequest,
    ReturnVisit,
)
from cases.notifications import MAX_MERGE_DEPTH
from cases.selectors import resident_ids
from cases.services import PHONE_RE, normalise_phone
from chengguan import clock
from chengguan.audit import audit
from chengguan.errors import ActionNotPermitted, InvalidInput
from chengguan.models import OutboundMessage
from chengguan.permissions import has_role_permission, scope_for

logger = logging.getLogger(__name__)

REDACTED = "[***]"
CLOSED_STATUSES = (CaseStatus.CLOSED, CaseStatus.REJECTED)
# The events that message the reporters (cases.notifications.REPORTER_ACTIONS).
MESSAGED_ACTIONS = (CaseAction.REGISTER, CaseAction.REJECT, CaseAction.MERGE, CaseAction.CLOSE)

# Numbers that identify a person inside free text. Case numbers
# (CG-20261124-000123) and tracking codes are not matched: a mobile number
# needs 11 digits starting 1[3-9], a landline a leading 0 and 10-12 digits,
# an ID number a valid birth date in the middle.
PERSONAL_NUMBER_RE = re.compile(
    r"""
    (?<![0-9A-Za-z])(?:
        [1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]  # ID, 18
      | [1-9][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}                   # ID, 15
      | (?:\+?86[\s-]?)?1[3-9][0-9][\s-]?[0-9]{4}[\s-]?[0-9]{4}                                   # mobile
      | 0[0-9]{2,3}[\s-]?[0-9]{7,8}                                                                # landline
    )(?![0-9A-Za-z])
    | [\w.+-]+@[\w-]+(?:\.[\w-]+)+                                                                 # email
    """,
    re.VERBOSE,
)


def redact(text: str) -> str:
    """`text` with phone numbers, ID card numbers and email addresses replaced by REDACTED."""
    return PERSONAL_NUMBER_RE.sub(REDACTED, text) if text else text


def redact_json(value: Any, redactor: Callable[[str], str] = redact) -> Any:
    """`redact` applied to every string inside a JSON value (event details, push payloads)."""
    if isinstance(value, str):
        return redactor(value)
    if isinstance(value, list):
        return [redact_json(item, redactor) for item in value]
    if isinstance(value, dict):
        return {key: redact_json(item, redactor) for key, item in value.items()}
    return value


def redact_number(phone: str) -> Callable[[str], str]:
    """A redactor for one phone number only, however its digits are spaced."""
    digits = phone.lstrip("+")
    pattern = re.compile(r"(?<![0-9])" + r"[\s-]?".join(re.escape(d) for d in digits) + r"(?![0-9])")

    def redactor(text: str) -> str:
        return pattern.sub(REDACTED, text) if text else text

    return redactor


def phone_digest(phone: str) -> str:
    """A keyed hash of a phone number for the audit log: the same number always gives
    the same digest (so a later request can be matched), but the number cannot be
    recovered by hashing every possible one without the site's secret key."""
    key = hashlib.sha256(f"{settings.SECRET_KEY}:personal-data".encode()).digest()
    return hmac.new(key, normalise_phone(phone).encode(), hashlib.sha256).hexdigest()


def retention_cutoff(now: datetime | None = None) -> datetime:
    """Cases closed or rejected before this moment are past the retention period."""
    return (now or clock.now()) - relativedelta(months=settings.PERSONAL_DATA_RETENTION_MONTHS)


def due_for_anonymisation(now: datetime | None = None) -> QuerySet[Case]:
    """Closed or rejected cases still holding personal data whose time is up:
    past the retention period, or their reporter asked to be forgotten."""
    cutoff = retention_cutoff(now)
    return Case.objects.filter(anonymised_at__isnull=True, status__in=CLOSED_STATUSES).filter(
        Q(closed_at__lt=cutoff)
        | Q(rejected_at__lt=cutoff)
        | Q(closed_at__isnull=True, rejected_at__isnull=True, reported_at__lt=cutoff)
        | Q(forget_requested_at__isnull=False)
    )


# --- the anonymisation of a batch of cases --------------------------------------------


def _redact_rows(
    queryset: QuerySet[Any],
    fields: list[str],
    *,
    json_fields: tuple[str, ...] = (),
    redactor: Callable[[str], str] = redact,
) -> int:
    """Redact the text fields of the rows in `queryset`; only rows that change are written."""
    changed = []
    for row in queryset.only("pk", *fields):
        dirty = False
        for name in fields:
            old = getattr(row, name)
            new = redact_json(old, redactor) if name in json_fields else redactor(old)
            if new != old:
                setattr(row, name, new)
                dirty = True
        if dirty:
            changed.append(row)
    if changed:
        # bulk_update writes through the queryset: append-only rows (CaseEvent)
        # refuse save(), and removing personal data is the one change they accept.
        queryset.model.objects.bulk_update(changed, fields, batch_size=500)
    return len(changed)


def _message_keys(case_phones: dict[int, set[str]], with_email: set[int]) -> list[str]:
    """The outbox keys cases.notifications.message_reporters gave these cases' messages.

    Their own events' messages, and those their reporters were sent about the
    cases they were merged into (at any depth): `event:<master event>:sms:<phone>`
    and `event:<master event>:email:<case id>`.
    """
    masters = _masters_of(list(case_phones))
    all_masters = {master for chain in masters.values() for master in chain}
    events_of: dict[int, list[int]] = {}
    for event_id, case_id in CaseEvent.objects.filter(
        case_id__in=set(case_phones) | all_masters, action__in=MESSAGED_ACTIONS
    ).values_list("pk", "case_id"):
        events_of.setdefault(case_id, []).append(event_id)
    keys: list[str] = []
    for case_id, phones in case_phones.items():
        for event_id in events_of.get(case_id, ()):
            keys.extend(f"event:{event_id}:sms:{phone}" for phone in phones)
            if case_id in with_email:
                keys.append(f"event:{event_id}:email")
        for master_id in masters.get(case_id, ()):
            for event_id in events_of.get(master_id, ()):
                keys.extend(f"event:{event_id}:sms:{phone}" for phone in phones)
                if case_id in with_email:
                    keys.append(f"event:{event_id}:email:{case_id}")
    return keys


def _masters_of(case_ids: list[int]) -> dict[int, list[int]]:
    """Each case's masters: the case it was merged into, that one's, and so on (a query a level)."""
    masters: dict[int, list[int]] = {}
    # (case whose chain this is, the next case up to look at)
    frontier = dict(
        Case.objects.filter(pk__in=case_ids, merged_into__isnull=False).values_list("pk", "merged_into_id")
    )
    for _depth in range(MAX_MERGE_DEPTH):
        if not frontier:
            break
        for case_id, master_id in frontier.items():
            masters.setdefault(case_id, []).append(master_id)
        up = dict(
            Case.objects.filter(pk__in=set(frontier.values()), merged_into__isnull=False).values_list(
                "pk", "merged_into_id"
            )
        )
        frontier = {
            case_id: up[master_id]
            for case_id, master_id in frontier.items()
            if master_id in up and up[master_id] not in masters[case_id]
        }
    return masters


def _anonymise_messages(messages: QuerySet[OutboundMessage]) -> int:
    rows = list(messages.only("pk", "recipient", "subject", "body", "key"))
    for message in rows:
        message.recipient = ""
        message.subject = redact(message.subject)
        message.body = redact(message.body)
        # The key held the phone number; it only has to stay unique.
        message.key = f"anonymised:{message.pk}"
    if rows:
        OutboundMessage.objects.bulk_update(rows, ["recipient", "subject", "body", "key"], batch_size=500)
    return len(rows)


def _anonymise_cases(case_ids: list[int]) -> int:
    """Remove the personal data of these cases (not yet anonymised); in the caller's transaction."""
    cases = list(
        Case.objects.select_for_update(of=("self",))
        .filter(pk__in=case_ids, anonymised_at__isnull=True)
        .only("pk", "reporter_id", "reporter_phone")
        .order_by("pk")
    )
    if not cases:
        return 0
    ids = [case.pk for case in cases]
    co_reports = list(CoReporter.objects.filter(case_id__in=ids).values_list("case_id", "phone", "user_id"))
    residents = resident_ids([c.reporter_id for c in cases] + [user_id for _c, _p, user_id in co_reports])
    phones: dict[int, set[str]] = {case.pk: {case.reporter_phone} - {""} for case in cases}
    for case_id, phone, _user in co_reports:
        if phone:
            phones[case_id].add(phone)
    with_email = {case.pk for case in cases if case.reporter_id in residents}
    _anonymise_messages(OutboundMessage.objects.filter(key__in=_message_keys(phones, with_email)))

    CoReporter.objects.filter(case_id__in=ids).update(name="", phone="")
    CoReporter.objects.filter(case_id__in=ids, user_id__in=residents).update(user=None)
    _redact_rows(CaseEvent.objects.filter(case_id__in=ids), ["note", "data"], json_fields=("data",))
    _redact_rows(ReturnVisit.objects.filter(case_id__in=ids), ["comment"])
    _redact_rows(CaseFeedback.objects.filter(case_id__in=ids), ["comment"])
    _redact_rows(ExtensionRequest.objects.filter(case_id__in=ids), ["reason"])
    _redact_rows(ParkingRequest.objects.filter(case_id__in=ids), ["reason"])
    _redact_rows(
        HotlinePush.objects.filter(case_id__in=ids), ["payload", "last_error"], json_fields=("payload",)
    )
    _redact_rows(
        Case.objects.filter(pk__in=ids), ["title", "description", "address", "result", "false_report_reason"]
    )
    Case.objects.filter(pk__in=ids, reporter_id__in=residents).update(reporter=None)
    # version + 1: a form opened before cannot write the old text back.
    Case.objects.filter(pk__in=ids).update(
        reporter_name="", reporter_phone="", anonymised_at=clock.now(), version=F("version") + 1
    )
    return len(ids)


# --- the beat job ---------------------------------------------------------------------


def cases_anonymise_due(*, batch_size: int = 200, max_batches: int | None = None) -> int:
    """Anonymise every case whose retention period is over (or whose reporter asked).

    Preconditions: none; run by beat daily. Walks the due cases by primary key
    in batches of `batch_size` (keyset, so a batch never rereads what is done),
    each batch its own transaction: an interrupted run keeps what it finished
    and the next run continues. Idempotent: anonymised cases are skipped.
    Side effects: see the module docstring; one audit entry
    `privacy.cases_anonymised` per batch (case ids, no personal data).
    Returns the number of cases anonymised.
    """
    now = clock.now()
    due = due_for_anonymisation(now).order_by("pk").values_list("pk", flat=True)
    after = 0
    total = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        ids = list(due.filter(pk__gt=after)[:batch_size])
        if not ids:
            break
        with transaction.atomic():
            done = _anonymise_cases(ids)
            if done:
                audit(
                    actor=None,
                    action="privacy.cases_anonymised",
                    cases=done,
                    case_ids=ids,
                    retention_months=settings.PERSONAL_DATA_RETENTION_MONTHS,
                )
        total += done
        batches += 1
        after = ids[-1]
    logger.info("cases_anonymise_due: %d case(s) anonymised", total)
    return total


# --- requests to be forgotten -----------------------------------------------------------


@dataclass(frozen=True)
class ForgetPreview:
    """What a request to be forgotten would touch, for the confirmation page."""

    phone: str
    closed_cases: int
    open_cases: int
    co_reports: int
    messages: int

    @property
    def anything(self) -> bool:
        return bool(self.closed_cases or self.open_cases or self.co_reports or self.messages)


@dataclass(frozen=True)
class ForgetOutcome:
    anonymised_cases: int
    kept_open: int
    co_reports: int
    messages: int


def can_forget(user: Any) -> bool:
    """Requests to be forgotten span the whole city: the forget permission and a city-wide scope."""
    return has_role_permission(user, Case, "forget") and scope_for(user).city_wide


def _clean_phone(phone: str) -> str:
    phone = normalise_phone(phone)
    if not phone or not PHONE_RE.match(phone):
        raise InvalidInput(_("Please enter a valid phone number."), code="invalid.phone", field="phone")
    return phone


def _reported_from(phone: str) -> QuerySet[Case]:
    return Case.objects.filter(reporter_phone=phone, anonymised_at__isnull=True)


def forget_preview(*, actor: Any, phone: str) -> ForgetPreview:
    """Counts behind a request to be forgotten for `phone`; nothing is changed.

    Preconditions: as reporter_forget.
    """
    if not can_forget(actor):
        raise ActionNotPermitted()
    phone = _clean_phone(phone)
    reported = _reported_from(phone)
    return ForgetPreview(
        phone=phone,
        closed_cases=reported.filter(status__in=CLOSED_STATUSES).count(),
        open_cases=reported.filter(status__in=OPEN_STATUSES).count(),
        co_reports=CoReporter.objects.filter(phone=phone).count(),
        messages=OutboundMessage.objects.filter(recipient=phone).count(),
    )


@transaction.atomic
def reporter_forget(
    *, actor: Any, phone: str, include_open: bool = False, source: str = "form"
) -> ForgetOutcome:
    """Honour a resident's request to be forgotten, by their phone number, whatever the cases' age.

    Preconditions: the actor holds `cases.forget_reporter` with a city-wide
    scope (the admin role); `phone` is a valid phone number.
    Side effects: every closed or rejected case reported from the number is
    anonymised at once (see the module docstring), and so is every
    co-report from it. An open case is anonymised now only with
    `include_open` (the admin confirmed that its handler and return visit
    lose the contact); otherwise it keeps the contact and is marked
    `forget_requested_at`, and the beat job anonymises it once closed.
    Messages to the number are anonymised, except those of cases kept open
    (they go with their case). Audited as `privacy.reporter_forgotten` with
    the number's keyed hash, never the number.
    """
    if not can_forget(actor):
        raise ActionNotPermitted()
    phone = _clean_phone(phone)
    reported = _reported_from(phone)
    open_ids = list(reported.filter(status__in=OPEN_STATUSES).values_list("pk", flat=True))
    now_ids = list(reported.exclude(pk__in=open_ids).values_list("pk", flat=True))
    kept_open: list[int] = []
    if include_open:
        now_ids += open_ids
    else:
        kept_open = open_ids
        Case.objects.filter(pk__in=kept_open).update(forget_requested_at=clock.now())

    anonymised = _anonymise_cases(sorted(now_ids))
    co_reports = list(
        CoReporter.objects.filter(phone=phone).exclude(case_id__in=kept_open).values_list("pk", "case_id")
    )
    co_report_ids = [pk for pk, _case in co_reports]
    messages = OutboundMessage.objects.filter(recipient=phone)
    if kept_open:
        kept_phones = {case_id: {phone} for case_id in kept_open}
        messages = messages.exclude(key__in=_message_keys(kept_phones, set()))
    # Messages keyed to the co-reports' events carry the number too.
    message_count = _anonymise_messages(messages)
    co_user_ids = CoReporter.objects.filter(pk__in=co_report_ids).values_list("user_id", flat=True)
    residents = resident_ids(co_user_ids)
    CoReporter.objects.filter(pk__in=co_report_ids).update(name="", phone="")
    CoReporter.objects.filter(pk__in=co_report_ids, user_id__in=residents).update(user=None)
    # A co-reporter's number may also sit in the notes of the case they joined.
    _redact_rows(
        CaseEvent.objects.filter(case_id__in={case for _pk, case in co_reports}),
        ["note", "data"],
        json_fields=("data",),
        redactor=redact_number(phone),
    )
    audit(
        actor=actor,
        action="privacy.reporter_forgotten",
        phone_digest=phone_digest(phone),
        source=source,
        include_open=include_open,
        cases_anonymised=anonymised,
        cases_kept_open=len(kept_open),
        co_reports=len(co_report_ids),
        messages=message_count,
    )
    return ForgetOutcome(
        anonymised_cases=anonymised,
        kept_open=len(kept_open),
        co_reports=len(co_report_ids),
        messages=message_count,
    )
