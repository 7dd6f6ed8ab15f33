"""Two-way exchange with the 12345 platform: status changes and results pushed back.

A case posted through Open311 remembers its client (`Case.open311_client`).
When the client has pushing switched on (`push_kind`, `push_url`), every
status change of the case, and every correction or approved extension that
moves its handling deadline (case_recategorise, case_decide_extension),
writes a `HotlinePush` row in the transaction of the change (an outbox:
rolled back with it), holding the payload as it was at that moment. After
commit a Celery task delivers it; the beat job `retry_hotline_pushes`
delivers whatever is due again.

Delivery is at least once and in order per case:

* a worker claims a row under `select_for_update(skip_locked=True)` and
  marks it `locked_until` for the time of one send, so no other worker sends
  it meanwhile; the HTTP call runs outside any transaction;
* only the oldest not yet acknowledged row of a case is ever claimed, so a
  case's changes reach the platform in the order they happened (a dead row
  holds back the later ones until an operator retries it);
* a 2xx answer acknowledges the row (`sent`), which is never sent again;
  anything else schedules the next attempt with exponential backoff and
  jitter (settings.HOTLINE_PUSH_BACKOFF doubled each time, capped at
  HOTLINE_PUSH_BACKOFF_MAX) until HOTLINE_PUSH_MAX_ATTEMPTS, then `dead`.

Every request carries `X-Hotline-Delivery` (the row id) so the platform can
drop a repeat. Two wire formats (`PushKind`), chosen per client:

* GeoReport v2 style: a form POST of service_request_id, status
  (open/closed), status_notes, updated_datetime and media_url(s), plus the
  client's shared secret as `api_key`;
* JSON webhook: the payload as a JSON body, signed with HMAC-SHA256 of
  "<timestamp>.<body>" under the shared secret (`X-Hotline-Timestamp`,
  `X-Hotline-Signature: sha256=<hex>`; see `signature`).

The formats are pluggable: settings.HOTLINE_PUSH_FORMATS may map a push kind
to the dotted path of another `PushFormat`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from cases.choices import AttachmentKind, CaseStatus, PushKind, PushStatus
from cases.models import Case, CaseEvent, HotlinePush, Open311Client
from chengguan import clock
from chengguan.audit import audit
from chengguan.errors import DomainError
from chengguan.permissions import restrict

logger = logging.getLogger(__name__)

DELIVERY_HEADER = "X-Hotline-Delivery"
TIMESTAMP_HEADER = "X-Hotline-Timestamp"
SIGNATURE_HEADER = "X-Hotline-Signature"
# Statuses whose push carries the handling result and the after-photos.
RESULT_STATUSES = frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED})
UNDELIVERED = (PushStatus.PENDING, PushStatus.FAILED)
JITTER = 0.2  # each wait is shortened by up to this share, so retries spread out
MAX_ERROR = 500


class PushAlreadySent(DomainError):
    code = "hotline.already_sent"
    http_status = 409


class PushInFlight(DomainError):
    code = "hotline.in_flight"
    http_status = 409


# --- the payload ---------------------------------------------------------------


def _absolute(url: str) -> str:
    return urljoin(str(settings.PUBLIC_BASE_URL), url)


def push_payload(case: Case, event: CaseEvent | None = None) -> dict[str, Any]:
    """What the platform is told about the case as it is now (in the site's own language).

    `status` is GeoReport's open/closed; `status_internal` the case status
    behind it. Resolved and closed cases carry the result text and the URLs
    of their after-photos that the public may see.
    """
    from cases.open311.serializers import iso, open311_status, status_notes

    with translation.override(settings.LANGUAGE_CODE):
        status = CaseStatus(case.status)
        media_urls: list[str] = []
        result = ""
        if status in RESULT_STATUSES:
            result = case.result
            photos = case.attachments.filter(kind=AttachmentKind.AFTER, is_hidden=False).order_by(
                "created_at", "id"
            )
            media_urls = [_absolute(photo.file.url) for photo in photos]
        return {
            "service_request_id": case.number,
            "status": open311_status(status),
            "status_internal": status.value,
            "status_label": str(status.label),
            "event": event.action if event else "",
            "status_notes": result or status_notes(case),
            "result": result,
            "media_urls": media_urls,
            "updated_datetime": iso(case.updated_at),
            "expected_datetime": iso(case.due_at),
        }


# --- the wire formats -----------------------------------------------------------


@dataclass
class OutgoingRequest:
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] | None = None
    body: bytes | None = None


class PushFormat:
    """Turns a push into one HTTP POST to the client's endpoint."""

    def build(self, push: HotlinePush, client: Open311Client) -> OutgoingRequest:
        raise NotImplementedError


class GeoReportFormat(PushFormat):
    """GeoReport v2 style: the request's fields as a form POST; the secret as `api_key`."""

    def build(self, push: HotlinePush, client: Open311Client) -> OutgoingRequest:
        payload = push.payload
        data: dict[str, Any] = {
            key: payload.get(key) or ""
            for key in (
                "service_request_id",
                "status",
                "status_internal",
                "status_notes",
                "updated_datetime",
                "expected_datetime",
                "event",
            )
        }
        media = list(payload.get("media_urls") or [])
        data["media_url"] = media[0] if media else ""
        data["media_urls"] = media  # repeated field, one per photo
        if client.jurisdiction_id:
            data["jurisdiction_id"] = client.jurisdiction_id
        if client.push_secret:
            data["api_key"] = client.push_secret
        return OutgoingRequest(url=client.push_url, headers={DELIVERY_HEADER: str(push.pk)}, data=data)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook signature: `sha256=` and the hex HMAC-SHA256 of "<timestamp>.<body>"."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signature_is_valid(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """For the receiving side (and the tests): compare in constant time."""
    return hmac.compare_digest(signature(secret, timestamp, body), header or "")


class WebhookFormat(PushFormat):
    """A JSON body, HMAC-signed when the client has a shared secret."""

    def build(self, push: HotlinePush, client: Open311Client) -> OutgoingRequest:
        body = json.dumps(
            {"delivery": push.pk, **push.payload}, ensure_ascii=False, sort_keys=True, separators=(",", ":")
        ).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", DELIVERY_HEADER: str(push.pk)}
        if client.push_secret:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = signature(client.push_secret, timestamp, body)
        return OutgoingRequest(url=client.push_url, headers=headers, body=body)


FORMATS: dict[str, str] = {
    PushKind.GEOREPORT: "cases.hotline.GeoReportFormat",
    PushKind.WEBHOOK: "cases.hotline.WebhookFormat",
}


def format_for(kind: str) -> PushFormat:
    paths = {**FORMATS, **getattr(settings, "HOTLINE_PUSH_FORMATS", {})}
    return import_string(paths[kind])()


@dataclass
class Outcome:
    acknowledged: bool
    response_code: int | None = None
    error: str = ""


def send(outgoing: OutgoingRequest) -> Outcome:
    """POST once, with the configured timeouts; any 2xx is an acknowledgement."""
    timeout = (float(settings.HOTLINE_PUSH_CONNECT_TIMEOUT), float(settings.HOTLINE_PUSH_READ_TIMEOUT))
    try:
        response = requests.post(
            outgoing.url,
            data=outgoing.body if outgoing.body is not None else outgoing.data,
            headers=outgoing.headers,
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.Timeout as error:
        return Outcome(False, None, f"timeout: {error}"[:MAX_ERROR])
    except requests.RequestException as error:
        return Outcome(False, None, f"{type(error).__name__}: {error}"[:MAX_ERROR])
    if 200 <= response.status_code < 300:
        return Outcome(True, response.status_code)
    return Outcome(
        False, response.status_code, f"HTTP {response.status_code}: {response.text[:300]}"[:MAX_ERROR]
    )


# --- services -------------------------------------------------------------------


def hotline_push_record(*, case: Case, event: CaseEvent) -> HotlinePush | None:
    """Queue a status change of a case, or a new handling deadline, for the platform that posted it.

    Preconditions: called inside the transaction of the change, after its
    event was written: by cases.services._transition for every status
    change, and by case_recategorise and case_decide_extension (approved) when
    the handling deadline moved (the payload's `expected_datetime`).
    Side effects: one pending HotlinePush (none when the case has no client
    or the client pushes nothing); its delivery is enqueued on commit, so a
    rolled-back change sends nothing.
    """
    if case.open311_client_id is None:
        return None
    client = Open311Client.objects.filter(pk=case.open311_client_id).first()
    if client is None or not client.pushes_enabled:
        return None
    now = clock.now()
    push = HotlinePush(
        case=case,
        client=client,
        event=event,
        action=event.action,
        case_status=case.status,
        payload=push_payload(case, event),
        next_attempt_at=now,
        created_at=now,
    )
    push.full_clean()
    push.save()
    _deliver_on_commit(push.pk)
    return push


def _deliver_on_commit(push_id: int) -> None:
    from cases.tasks import deliver_hotline_push
    from chengguan.messaging import enqueue_on_commit

    # A broker outage leaves the push due for the retry-hotline-pushes job.
    enqueue_on_commit(deliver_hotline_push, push_id)


def _earlier_undelivered() -> Exists:
    return Exists(
        HotlinePush.objects.filter(case_id=OuterRef("case_id"), pk__lt=OuterRef("pk")).exclude(
            status=PushStatus.SENT
        )
    )


def due_pushes(now: datetime) -> QuerySet[HotlinePush]:
    """Rows a worker may send now: undelivered, due, not being sent, first in their case's line."""
    return (
        HotlinePush.objects.filter(status__in=UNDELIVERED, next_attempt_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .exclude(_earlier_undelivered())
    )


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 1, 2, 4 … times the base, capped, minus jitter."""
    base = int(settings.HOTLINE_PUSH_BACKOFF)
    ceiling = int(settings.HOTLINE_PUSH_BACKOFF_MAX)
    nominal = min(base * 2 ** max(attempts - 1, 0), ceiling)
    return timedelta(seconds=nominal * (1 - random.uniform(0, JITTER)))


def _lease() -> timedelta:
    # Longer than one send can take, so a live worker's claim never lapses.
    timeout = float(settings.HOTLINE_PUSH_CONNECT_TIMEOUT) + float(settings.HOTLINE_PUSH_READ_TIMEOUT)
    return timedelta(seconds=max(60.0, 4 * timeout))


def _claim(push_id: int) -> tuple[HotlinePush, datetime] | None:
    now = clock.now()
    with transaction.atomic():
        push = (
            due_pushes(now)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("client")
            .filter(pk=push_id)
            .first()
        )
        if push is None:
            return None
        lease = now + _lease()
        push.attempts += 1
        push.last_attempt_at = now
        push.locked_until = lease
        push.save(update_fields=["attempts", "last_attempt_at", "locked_until"])
    return push, lease


def hotline_push_deliver(*, push_id: int) -> str | None:
    """Send one push to its platform, if it is due and first in its case's line.

    Preconditions: none; a row that is delivered, not due, held by another
    worker or behind an undelivered earlier row of its case is left alone.
    Side effects: one HTTP POST (outside any transaction); the row becomes
    `sent` (acknowledged, then the case's next row is enqueued), `failed`
    (next attempt scheduled with backoff) or `dead` (attempts used up).
    Returns the row's new status, or None when nothing was sent.
    """
    claimed = _claim(push_id)
    if claimed is None:
        return None
    push, lease = claimed
    client = push.client
    if not client.pushes_enabled:
        outcome = Outcome(False, None, _("Pushing is switched off for this platform."))
    else:
        outcome = send(format_for(client.push_kind).build(push, client))
    now = clock.now()
    fields: dict[str, Any] = {
        "locked_until": None,
        "response_code": outcome.response_code,
        "last_error": outcome.error,
    }
    if outcome.acknowledged:
        fields.update(status=PushStatus.SENT, acknowledged_at=now, next_attempt_at=None)
    elif push.attempts >= int(settings.HOTLINE_PUSH_MAX_ATTEMPTS) or not client.pushes_enabled:
        fields.update(status=PushStatus.DEAD, next_attempt_at=None)
    else:
        fields.update(status=PushStatus.FAILED, next_attempt_at=now + backoff(push.attempts))
    with transaction.atomic():
        # Only the claim's holder records; a lapsed claim was taken over by another worker.
        recorded = HotlinePush.objects.filter(pk=push.pk, locked_until=lease).update(**fields)
        if recorded and outcome.acknowledged:
            _enqueue_next_of_case(push)
    if not outcome.acknowledged:
        logger.warning(
            "hotline push %s (case %s) attempt %s failed: %s",
            push.pk,
            push.case_id,
            push.attempts,
            outcome.error,
        )
    return str(fields["status"]) if recorded else None


def _enqueue_next_of_case(push: HotlinePush) -> None:
    following = (
        HotlinePush.objects.filter(case_id=push.case_id, pk__gt=push.pk, status__in=UNDELIVERED)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if following is not None:
        _deliver_on_commit(following)


def hotline_push_deliver_due(*, batch_size: int = 200) -> int:
    """Enqueue the delivery of every push that is due (the beat job).

    Preconditions: none. Side effects: one delivery task per due row, oldest
    first, at most `batch_size` per run (the next run takes the rest).
    Returns how many were enqueued.
    """
    from cases.tasks import deliver_hotline_push
    from chengguan.messaging import enqueue

    ids = list(
        due_pushes(clock.now()).order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:batch_size]
    )
    enqueued = 0
    for push_id in ids:
        # A sweep publishes even while the broker is treated as down: it is how it is found back.
        if not enqueue(deliver_hotline_push, push_id, always_try=True):
            break
        enqueued += 1
    return enqueued


@transaction.atomic
def hotline_push_retry(*, push: HotlinePush, actor: Any) -> HotlinePush:
    """Send a failed or dead push again now, with a fresh set of attempts.

    Preconditions: the actor may retry pushes (operator, supervisor) and sees
    the push's case; the push is not acknowledged and not being sent.
    Side effects: the row goes back to `pending`, due now, attempts reset
    (the previous count and error are kept in the audit entry); its delivery
    is enqueued on commit. Held behind an undelivered earlier push of the
    same case, it goes out right after that one.
    """
    locked = (
        restrict(HotlinePush.objects.select_for_update(of=("self",)), actor, "retry")
        .filter(pk=push.pk)
        .first()
    )
    if locked is None:
        from chengguan.errors import ActionNotPermitted

        raise ActionNotPermitted()
    if locked.status == PushStatus.SENT:
        raise PushAlreadySent(_("This push was acknowledged by the platform; it is not sent again."))
    now = clock.now()
    if locked.locked_until is not None and locked.locked_until > now:
        raise PushInFlight(_("This push is being sent right now. Reload the page in a minute."))
    audit(
        actor=actor,
        action="hotline_push.retry",
        target=locked,
        case=locked.case_id,
        previous_status=locked.status,
        previous_attempts=locked.attempts,
        last_error=locked.last_error,
    )
    locked.status = PushStatus.PENDING
    locked.attempts = 0
    locked.next_attempt_at = now
    locked.save(update_fields=["status", "attempts", "next_attempt_at"])
    _deliver_on_commit(locked.pk)
    return locked
