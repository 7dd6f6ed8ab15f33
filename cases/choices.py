from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseStatus(models.TextChoices):
    REPORTED = "reported", _("Reported")
    REGISTERED = "registered", _("Registered")
    DISPATCHED = "dispatched", _("Dispatched")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved, awaiting verification")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Rejected")
    PARKED = "parked", _("Parked")


class CaseSource(models.TextChoices):
    WEB = "web", _("Resident web form")
    QR_CODE = "qr_code", _("City service QR code")
    HOTLINE_12345 = "hotline_12345", _("12345 government hotline")
    HOTLINE_12319 = "hotline_12319", _("12319 city-management hotline")
    WALK_IN = "walk_in", _("Walk-in")
    PATROL = "patrol", _("Liaison patrol")
    COMMUNITY = "community", _("Community report")
    LEADERSHIP = "leadership", _("Leadership assignment")
    MEDIA = "media", _("Media exposure")
    VOLUNTEER = "volunteer", _("Volunteer inspector")
    INSPECTION = "inspection", _("Inspection follow-up")
    OPEN311 = "open311", _("Open311 client")


# Sources a resident may use without signing in; every other source is staff intake.
PUBLIC_SOURCES = frozenset({CaseSource.WEB, CaseSource.QR_CODE})


class Urgency(models.TextChoices):
    NORMAL = "normal", _("Normal")
    URGENT = "urgent", _("Urgent")
    CRITICAL = "critical", _("Critical")


class CategoryKind(models.TextChoices):
    EVENT = "event", _("Event")
    COMPONENT = "component", _("Facility component")


class CaseAction(models.TextChoices):
    """Everything that can happen to a case; each is one CaseEvent type."""

    REPORT = "report", _("Reported")
    REGISTER = "register", _("Registered")
    REJECT = "reject", _("Rejected")
    MERGE = "merge", _("Merged as a duplicate")
    DISPATCH = "dispatch", _("Dispatched")
    RETURN = "return", _("Returned")
    SIGN_FOR = "sign_for", _("Signed for")
    SUBMIT_RESULT = "submit_result", _("Result submitted")
    CLOSE = "close", _("Verified and closed")
    CLOSE_ON_SPOT = "close_on_spot", _("Fixed on the spot and closed")
    REWORK = "rework", _("Sent back for rework")
    PARK = "park", _("Parked")
    UNPARK = "unpark", _("Unparked")
    REOPEN = "reopen", _("Reopened")
    # Events that do not change the status.
    DUPLICATE_ADDED = "duplicate_added", _("Duplicate report merged in")
    EXTENSION_REQUESTED = "extension_requested", _("Extension requested")
    EXTENSION_APPROVED = "extension_approved", _("Extension approved")
    EXTENSION_REFUSED = "extension_refused", _("Extension refused")
    ESCALATE = "escalate", _("Escalated")
    CO_REPORTER_ADDED = "co_reporter_added", _("Another resident reported it too")
    RATED = "rated", _("Rated by the reporter")
    RETURN_VISITED = "return_visited", _("Return visit recorded")
    MARKED_FALSE = "marked_false", _("Marked as a false or malicious report")
    ATTACHMENT_ADDED = "attachment_added", _("Photo added")
    NOTE = "note", _("Note")
    # Parking (挂账) is asked for and decided; the approval is the `park` move.
    PARKING_REQUESTED = "parking_requested", _("Parking requested")
    PARKING_REFUSED = "parking_refused", _("Parking refused")
    # Moderation: staff correct what the public sees; the event keeps the original.
    TEXT_MODERATED = "text_moderated", _("Wording corrected by staff")
    ATTACHMENT_HIDDEN = "attachment_hidden", _("Photo hidden from the public")
    ATTACHMENT_UNHIDDEN = "attachment_unhidden", _("Photo shown to the public again")
    RECATEGORISED = "recategorised", _("Category or place corrected")


S, A = CaseStatus, CaseAction

# The case workflow: {source status: {action: target status}}. A status change
# happens only through this table (cases.services._transition).
TRANSITIONS: dict[CaseStatus, dict[CaseAction, CaseStatus]] = {
    S.REPORTED: {
        A.REGISTER: S.REGISTERED,
        A.REJECT: S.REJECTED,
        A.MERGE: S.REJECTED,
        # 当场处置: a liaison fixed what they found on patrol; counted apart.
        A.CLOSE_ON_SPOT: S.CLOSED,
    },
    S.REGISTERED: {A.DISPATCH: S.DISPATCHED, A.PARK: S.PARKED},
    S.DISPATCHED: {A.SIGN_FOR: S.IN_PROGRESS, A.RETURN: S.REGISTERED, A.PARK: S.PARKED},
    S.IN_PROGRESS: {A.SUBMIT_RESULT: S.RESOLVED, A.RETURN: S.REGISTERED, A.PARK: S.PARKED},
    S.RESOLVED: {A.CLOSE: S.CLOSED, A.REWORK: S.DISPATCHED},
    S.CLOSED: {A.REOPEN: S.DISPATCHED},
    S.PARKED: {A.UNPARK: S.REGISTERED},
    S.REJECTED: {},
}

TRANSITION_ACTIONS = frozenset(action for moves in TRANSITIONS.values() for action in moves)

OPEN_STATUSES = frozenset({S.REPORTED, S.REGISTERED, S.DISPATCHED, S.IN_PROGRESS, S.RESOLVED, S.PARKED})
# Statuses whose clock runs against the handler's deadline.
HANDLING_STATUSES = frozenset({S.DISPATCHED, S.IN_PROGRESS})
# Extensions are asked for while the case is with its handler.
EXTENSION_STATUSES = HANDLING_STATUSES
ESCALATABLE_STATUSES = OPEN_STATUSES - {S.PARKED}

del S, A


# Notes written for the reporter; other notes are staff instructions and stay
# internal even when the event itself shows on the tracking page.
PUBLIC_NOTE_ACTIONS = frozenset(
    {
        CaseAction.REJECT,
        CaseAction.SUBMIT_RESULT,
        CaseAction.CLOSE,
        CaseAction.CLOSE_ON_SPOT,
        CaseAction.RATED,
    }
)


class RejectReason(models.TextChoices):
    INVALID = "invalid", _("Not a city-management matter")
    INSUFFICIENT = "insufficient", _("Not enough information")
    DUPLICATE = "duplicate", _("Duplicate of another case")
    OUT_OF_AREA = "out_of_area", _("Outside our area")


class AttachmentKind(models.TextChoices):
    BEFORE = "before", _("Before")
    AFTER = "after", _("After")
    OTHER = "other", _("Other")


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("Satisfied")
    BASICALLY = "basically", _("Basically satisfied")
    UNSATISFIED = "unsatisfied", _("Unsatisfied")


class ExtensionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")
    CANCELLED = "cancelled", _("Cancelled")


class ParkingRequestStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")
    CANCELLED = "cancelled", _("Cancelled")


# Parking is asked for while the case waits for dispatch or is with its handler.
PARKING_STATUSES = frozenset({CaseStatus.REGISTERED, CaseStatus.DISPATCHED, CaseStatus.IN_PROGRESS})


class ReplyPurpose(models.TextChoices):
    INTERNAL = "internal", _("Internal note")
    PUBLIC = "public", _("Reply to the resident")


class VisitStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    DONE = "done", _("Done")
    UNREACHABLE = "unreachable", _("Reporter not reached")


class VisitChannel(models.TextChoices):
    PHONE = "phone", _("Phone call")
    VISIT = "visit", _("Home visit")
    WEB = "web", _("Reporter's own rating online")


class PushKind(models.TextChoices):
    """How status changes of a client's cases are pushed back to it (cases.hotline)."""

    NONE = "none", _("No push")
    GEOREPORT = "georeport", _("GeoReport v2 style (form POST)")
    WEBHOOK = "webhook", _("JSON webhook")


class PushStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent and acknowledged")
    FAILED = "failed", _("Failed, will retry")
    DEAD = "dead", _("Gave up")
