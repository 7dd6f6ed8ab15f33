from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cases.attachments import PhotoField
from cases.choices import (
    OPEN_STATUSES,
    AttachmentKind,
    CaseAction,
    CaseSource,
    CaseStatus,
    CategoryKind,
    ExtensionStatus,
    ParkingRequestStatus,
    PushKind,
    PushStatus,
    RejectReason,
    ReplyPurpose,
    Satisfaction,
    Urgency,
    VisitChannel,
    VisitStatus,
)
from chengguan import clock
from chengguan.permissions import RestrictedQuerySet


class Category(models.Model):
    """A two-level case category (大类/小类) with its default urgency."""

    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    code = models.CharField(_("code"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(_("English name"), max_length=80, blank=True)
    kind = models.CharField(
        _("kind"), max_length=16, choices=CategoryKind.choices, default=CategoryKind.EVENT
    )
    default_urgency = models.CharField(
        _("default urgency"), max_length=16, choices=Urgency.choices, default=Urgency.NORMAL
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    handling_units = models.ManyToManyField(
        "communities.HandlingUnit",
        verbose_name=_("usual handling units"),
        blank=True,
        related_name="categories",
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    # Rules for the public complaint form (a subcategory without its own
    # settings shows its parent's notice and hint; the flags are its own).
    icon = models.CharField(_("icon"), max_length=8, blank=True, help_text=_("An emoji shown in the picker."))
    photo_required = models.BooleanField(_("photo required"), default=False)
    contact_required = models.BooleanField(_("phone number required"), default=False)
    anonymous_allowed = models.BooleanField(_("may stay anonymous to the public"), default=True)
    description_hint = models.CharField(_("hint for the description"), max_length=200, blank=True)
    notice = models.TextField(
        _("notice shown when chosen"),
        blank=True,
        help_text=_("E.g. which authority handles this and how to reach it."),
    )
    public_reporting_closed = models.BooleanField(_("closed to public reports"), default=False)
    closed_message = models.TextField(_("message when closed"), blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return (
            f"{self.parent.local_name} / {self.local_name}"
            if self.parent_id and self.parent
            else self.local_name
        )

    @property
    def local_name(self) -> str:
        """The name in the active language (categories are data, named in Chinese first)."""
        from django.utils.translation import get_language

        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name

    @property
    def is_leaf(self) -> bool:
        return self.parent_id is not None


class TimeLimit(models.Model):
    """Working hours allowed for each stage of a case of one category and urgency.

    A subcategory without its own row uses its parent's; without either the
    defaults in `DEFAULT_HOURS` apply.
    """

    DEFAULT_HOURS = {"register": 8, "dispatch": 4, "handle": 40, "verify": 16}

    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.CASCADE, related_name="time_limits"
    )
    urgency = models.CharField(_("urgency"), max_length=16, choices=Urgency.choices)
    register_hours = models.DecimalField(
        _("hours to register"), max_digits=6, decimal_places=1, validators=[MinValueValidator(0)]
    )
    dispatch_hours = models.DecimalField(
        _("hours to dispatch"), max_digits=6, decimal_places=1, validators=[MinValueValidator(0)]
    )
    handle_hours = models.DecimalField(
        _("hours to handle"), max_digits=6, decimal_places=1, validators=[MinValueValidator(0)]
    )
    verify_hours = models.DecimalField(
        _("hours to verify"), max_digits=6, decimal_places=1, validators=[MinValueValidator(0)]
    )

    class Meta:
        verbose_name = _("time limit")
        verbose_name_plural = _("time limits")
        constraints = [
            models.UniqueConstraint(fields=["category", "urgency"], name="timelimit_unique_per_urgency")
        ]

    def __str__(self) -> str:
        return f"{self.category} ({self.get_urgency_display()})"

    def for_stage(self, stage: str) -> timedelta:
        return timedelta(hours=float(getattr(self, f"{stage}_hours")))


class CaseNumberSequence(models.Model):
    """The last case number issued on a day; its row lock serializes numbering."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


class Case(models.Model):
    """One reported problem, from intake to closure (DESIGN §3)."""

    number = models.CharField(_("case number"), max_length=32, unique=True)
    # Unique through Meta.constraints: a unique field would get a second
    # (LIKE) index too, which no query here uses.
    tracking_code = models.CharField(_("tracking code"), max_length=12)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(_("version"), default=1)

    status = models.CharField(
        _("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.REPORTED
    )
    source = models.CharField(_("source"), max_length=16, choices=CaseSource.choices)
    # The platform that posted it (Open311); its status changes are pushed back there.
    open311_client = models.ForeignKey(
        "cases.Open311Client",
        verbose_name=_("received from"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="cases",
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,  # the (category, …) index of Meta.indexes serves it
        related_name="cases",
        help_text=_("Empty while the reporter was unsure; the operator classifies it."),
    )
    urgency = models.CharField(_("urgency"), max_length=16, choices=Urgency.choices, default=Urgency.NORMAL)
    title = models.CharField(_("title"), max_length=100, blank=True)
    description = models.TextField(_("description"))

    # Where
    address = models.CharField(_("address"), max_length=200, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    district = models.ForeignKey(
        "communities.District",
        verbose_name=_("district"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,  # the (district, …) index of Meta.indexes serves it
        related_name="cases",
    )
    community = models.ForeignKey(
        "communities.Community",
        verbose_name=_("community"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,  # the (community, …) index of Meta.indexes serves it
        related_name="cases",
    )
    grid_cell = models.ForeignKey(
        "communities.GridCell",
        verbose_name=_("grid cell"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
    )
    # The facility whose QR service code (城市服务码) the report came through.
    facility = models.ForeignKey(
        "communities.Facility",
        verbose_name=_("facility"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
    )

    # Who reported it (personal data: masked for roles without view_reporter_contact)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reporter account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reported_cases",
    )
    reporter_name = models.CharField(_("reporter name"), max_length=64, blank=True)
    reporter_phone = models.CharField(_("reporter phone"), max_length=32, blank=True)
    is_anonymous = models.BooleanField(
        _("anonymous to the public"),
        default=False,
        help_text=_("The reporter's identity is never shown on public pages."),
    )
    report_count = models.PositiveIntegerField(_("number of reports"), default=1)
    # A complaint about an officer's conduct: supervisors only, never the officer.
    subject_officer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("officer complained about"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="conduct_complaints",
    )

    # Who handles it
    handling_unit = models.ForeignKey(
        "communities.HandlingUnit",
        verbose_name=_("handling unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,  # the (handling_unit, …) index of Meta.indexes serves it
        related_name="cases",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned officer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,  # the (assignee, …) index of Meta.indexes serves it
        related_name="assigned_cases",
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="duplicates",
    )
    reject_reason = models.CharField(
        _("reason for rejection"), max_length=16, choices=RejectReason.choices, blank=True
    )
    result = models.TextField(_("handling result"), blank=True)
    # Working hours from dispatch to the accepted result (平均处置时长), set
    # when the result is submitted.
    handling_hours = models.DecimalField(
        _("working hours to handle"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    # 不实/恶意投诉: left out of the handler's assessment, counted on its own.
    false_report = models.BooleanField(_("false or malicious report"), default=False)
    false_report_reason = models.TextField(_("why it is false or malicious"), blank=True)
    false_report_at = models.DateTimeField(_("marked false at"), null=True, blank=True)
    false_report_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("marked false by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    closed_on_spot = models.BooleanField(
        _("fixed on the spot"),
        default=False,
        help_text=_("Closed at once by the liaison who found it (当场处置)."),
    )

    # Time
    deadline = models.DateTimeField(_("deadline of the current stage"), null=True, blank=True)
    due_at = models.DateTimeField(
        _("handling deadline"),
        null=True,
        blank=True,
        help_text=_("Set at the first dispatch; moved by extensions and parking."),
    )
    reported_at = models.DateTimeField(_("reported at"), db_index=True)
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    signed_at = models.DateTimeField(_("signed for at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("rejected at"), null=True, blank=True)
    parked_at = models.DateTimeField(_("parked since"), null=True, blank=True)
    parked_hours = models.DecimalField(_("working hours parked"), max_digits=8, decimal_places=2, default=0)
    updated_at = models.DateTimeField(_("last change"), default=clock.now)

    # Counters kept for indicators (DESIGN §6)
    return_count = models.PositiveSmallIntegerField(_("times returned"), default=0)
    rework_count = models.PositiveSmallIntegerField(_("times reworked"), default=0)
    extension_count = models.PositiveSmallIntegerField(_("times extended"), default=0)
    reopen_count = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    # The deadline that the last automatic escalation was for: escalating is
    # idempotent per deadline.
    escalated_deadline = models.DateTimeField(null=True, blank=True, editable=False)
    # The latest done return visit (the highest closure round), kept by the
    # return-visit services (cases.services.case_sync_last_visit): the
    # indicators count visited and satisfied cases in their one pass over the
    # cases instead of joining the visits (cases.indicators).
    last_visit_round = models.PositiveSmallIntegerField(
        _("closure round of the last return visit"), null=True, blank=True, editable=False
    )
    last_visit_satisfaction = models.CharField(
        _("satisfaction at the last return visit"),
        max_length=16,
        choices=Satisfaction.choices,
        blank=True,
        default="",
        db_default="",
        editable=False,
    )
    last_visit_at = models.DateTimeField(_("last return visit at"), null=True, blank=True, editable=False)
    # The deadline the handler was last reminded of (cases.jobs.remind_deadlines):
    # one reminder per deadline, again after an extension moves it.
    reminded_deadline = models.DateTimeField(null=True, blank=True, editable=False)
    # Personal data retention (cases.retention): when the reporters' names and
    # phone numbers were removed, and when a reporter asked to be forgotten
    # while the case was still open (done once it is closed).
    anonymised_at = models.DateTimeField(_("personal data removed at"), null=True, blank=True, editable=False)
    forget_requested_at = models.DateTimeField(
        _("reporter asked to be forgotten at"), null=True, blank=True, editable=False
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-reported_at", "-id"]
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        permissions = [
            ("register_case", _("Register, reject and merge reports")),
            ("dispatch_case", _("Dispatch cases")),
            ("handle_case", _("Handle dispatched cases")),
            ("verify_case", _("Verify handled cases")),
            ("supervise_case", _("Approve extensions and parking, escalate")),
            ("reopen_case", _("Reopen closed cases")),
            ("view_conduct_complaint", _("See complaints about officers' conduct")),
            ("view_reporter_contact", _("See reporters' names and phone numbers")),
            (
                "verify_community_case",
                _("Verify resolved cases of one's community where its liaison verifies"),
            ),
            ("forget_reporter", _("Remove a reporter's personal data on request")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["tracking_code"], name="case_tracking_code_unique"),
            models.UniqueConstraint(fields=["idempotency_key"], name="case_idempotency_key_unique"),
        ]
        # Every index is paid for by every insert and by each update that changes its
        # columns: the single-column foreign-key indexes that a composite below starts
        # with are left out (db_index=False on the field).
        indexes = [
            models.Index(fields=["status", "deadline"]),
            models.Index(fields=["district", "status"]),
            models.Index(fields=["community", "status"]),
            models.Index(fields=["handling_unit", "status"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(fields=["category", "reported_at"]),
            # Indicator periods select on these moments (cases.indicators).
            models.Index(fields=["registered_at"]),
            models.Index(fields=["closed_at"]),
            models.Index(fields=["due_at"]),
            # Also period bounds of the indicators; without them the planner
            # cannot combine the date indexes and reads the whole table.
            models.Index(fields=["rejected_at"]),
            models.Index(
                fields=["false_report_at"],
                condition=models.Q(false_report_at__isnull=False),
                name="case_false_report_at",
            ),
            # The retention job's keyset walk over the cases still holding personal data.
            models.Index(
                fields=["id"], condition=models.Q(anonymised_at__isnull=True), name="case_not_anonymised"
            ),
            # Worklists in their order at a million cases (issue #9, migration 0022): the
            # intake inbox (status reported, oldest first) and the case list filtered by status;
            models.Index(fields=["status", "reported_at", "id"], name="case_status_reported_at"),
            # Phone look-ups: equality and prefix in one index (LIKE 'prefix%' needs the opclass).
            models.Index(
                fields=["reporter_phone"], name="case_reporter_phone", opclasses=["varchar_pattern_ops"]
            ),
            # the overdue and escalated queues (open, by deadline). Deliberately no
            # index on the columns escalation writes (escalated_at, escalation_level…):
            # its bulk updates then stay in-page (HOT) and skip every index.
            models.Index(
                fields=["deadline", "id"],
                condition=models.Q(status__in=sorted(OPEN_STATUSES)),
                name="case_open_deadline",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        from cases.choices import OPEN_STATUSES

        return self.status in OPEN_STATUSES

    def is_overdue(self, at: datetime | None = None) -> bool:
        from chengguan import clock

        return bool(self.deadline and self.is_open and self.deadline < (at or clock.now()))


class CaseEvent(models.Model):
    """One immutable line of a case's history, written with the change it records."""

    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("action"), max_length=24, choices=CaseAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    from_status = models.CharField(_("from"), max_length=16, choices=CaseStatus.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=16, choices=CaseStatus.choices, blank=True)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    is_public = models.BooleanField(_("shown to the reporter"), default=False)
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        indexes = [models.Index(fields=["case", "created_at"]), models.Index(fields=["action", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} · {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None:
            raise RuntimeError("Case events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("Case events are append-only.")

    @property
    def public_note(self) -> str:
        """The note as the reporter may read it: empty for staff-only notes."""
        from cases.choices import PUBLIC_NOTE_ACTIONS

        return self.note if self.is_public and self.action in PUBLIC_NOTE_ACTIONS else ""


def attachment_path(instance: CaseAttachment, filename: str) -> str:
    from chengguan import clock

    return f"cases/{clock.now():%Y/%m}/{instance.case.number}/{filename}"


class CaseAttachment(models.Model):
    """A photo of the problem (before) or of the result (after)."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="attachments"
    )
    event = models.ForeignKey(
        CaseEvent,
        verbose_name=_("event"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attachments",
    )
    kind = models.CharField(
        _("kind"), max_length=8, choices=AttachmentKind.choices, default=AttachmentKind.BEFORE
    )
    # Measured once, at upload (PhotoField): a hidden photo's file is not where loading would look.
    file = PhotoField(_("file"), upload_to=attachment_path, width_field="width", height_field="height")
    width = models.PositiveIntegerField(null=True, editable=False)
    height = models.PositiveIntegerField(null=True, editable=False)
    size = models.PositiveIntegerField(_("size in bytes"), default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    is_hidden = models.BooleanField(_("hidden from the public"), default=False)
    # Moderation (cases.services.case_attachment_hide): a hidden photo's file
    # moves to private storage (cases.attachments.private_storage).
    hidden_reason = models.TextField(_("why it is hidden"), blank=True)
    hidden_at = models.DateTimeField(_("hidden at"), null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("hidden by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded at"))

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("photo")
        verbose_name_plural = _("photos")

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind}"


class CoReporter(models.Model):
    """Another resident who reported the same problem (我也遇到了)."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="co_reporters"
    )
    name = models.CharField(_("name"), max_length=64, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    idempotency_key = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("time"), default=clock.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("co-reporter")
        verbose_name_plural = _("co-reporters")
        constraints = [
            models.UniqueConstraint(
                fields=["case", "phone"], condition=~models.Q(phone=""), name="co_reporter_once_per_phone"
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} +1"


class CaseFeedback(models.Model):
    """The reporter's own satisfaction rating of a closed case, given once."""

    case = models.OneToOneField(
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="feedback"
    )
    satisfaction = models.CharField(_("satisfaction"), max_length=16, choices=Satisfaction.choices)
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("time"), default=clock.now)

    class Meta:
        verbose_name = _("reporter feedback")
        verbose_name_plural = _("reporter feedback")

    def __str__(self) -> str:
        return f"{self.case_id} {self.satisfaction}"


class ReturnVisit(models.Model):
    """A return visit (回访) to the reporter after a closure, by the community's liaison.

    One per closure round (the case's reopen count at closure time). The
    reporter's own rating on the tracking page completes it (channel web).
    """

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="return_visits"
    )
    round = models.PositiveSmallIntegerField(_("closure round"), default=0)
    liaison = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("liaison"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="return_visits",
    )
    due_at = models.DateTimeField(_("due by"))
    status = models.CharField(
        _("status"), max_length=16, choices=VisitStatus.choices, default=VisitStatus.SCHEDULED
    )
    channel = models.CharField(_("how"), max_length=8, choices=VisitChannel.choices, blank=True)
    satisfaction = models.CharField(
        _("satisfaction"), max_length=16, choices=Satisfaction.choices, blank=True
    )
    comment = models.TextField(_("comment"), blank=True)
    visited_at = models.DateTimeField(_("visited at"), null=True, blank=True)
    visited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("visited by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reopened = models.BooleanField(_("case reopened"), default=False)
    created_at = models.DateTimeField(_("scheduled at"), default=clock.now)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("return visit")
        verbose_name_plural = _("return visits")
        constraints = [models.UniqueConstraint(fields=["case", "round"], name="one_return_visit_per_closure")]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["liaison", "status"]),
            # The indicators look up the done visit of each closed case's last
            # round (visited, satisfied); covering it spares the table reads.
            models.Index(
                fields=["case", "round", "satisfaction"],
                condition=models.Q(status="done"),
                name="returnvisit_done_per_round",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} ({self.get_status_display()})"


class SupervisorDecidedRequest(models.Model):
    """What every request a supervisor decides on carries: who asked, why, the decision."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(_("reason"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    created_at = models.DateTimeField(_("requested at"))

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class ExtensionRequest(SupervisorDecidedRequest):
    """A handler's request for more time (延期), decided by a supervisor."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="extension_requests"
    )
    requested_due_at = models.DateTimeField(_("new deadline asked for"))
    status = models.CharField(
        _("status"), max_length=16, choices=ExtensionStatus.choices, default=ExtensionStatus.PENDING
    )

    class Meta(SupervisorDecidedRequest.Meta):
        verbose_name = _("extension request")
        verbose_name_plural = _("extension requests")
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=models.Q(status="pending"),
                name="one_pending_extension_per_case",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case} → {self.requested_due_at:%Y-%m-%d}"


class ParkingRequest(SupervisorDecidedRequest):
    """A request to park a case (挂账), decided by a supervisor.

    Asked for by the dispatcher (registered cases) or the handler (cases
    with their handler); approval parks the case and stops its clock.
    """

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="parking_requests"
    )
    resume_on = models.DateField(_("expected to resume on"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=ParkingRequestStatus.choices, default=ParkingRequestStatus.PENDING
    )

    class Meta(SupervisorDecidedRequest.Meta):
        verbose_name = _("parking request")
        verbose_name_plural = _("parking requests")
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=models.Q(status="pending"),
                name="one_pending_parking_per_case",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case} ({self.get_status_display()})"


class CommunityCaseSettings(models.Model):
    """Casework settings of one community (kept on the cases side)."""

    community = models.OneToOneField(
        "communities.Community",
        verbose_name=_("community"),
        on_delete=models.CASCADE,
        related_name="case_settings",
    )
    liaison_verifies = models.BooleanField(
        _("its liaison verifies results"),
        default=False,
        help_text=_(
            "The community's responsible liaison may verify resolved cases (pass or rework), "
            "besides the supervisors; not the cases they handled themselves."
        ),
    )

    class Meta:
        verbose_name = _("community casework settings")
        verbose_name_plural = _("community casework settings")

    def __str__(self) -> str:
        return str(self.community)


class ReplyTemplate(models.Model):
    """A ready phrase (常用语) for notes and replies on the desk's action forms."""

    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reply_templates",
        help_text=_("Empty: offered for every category."),
    )
    title = models.CharField(_("title"), max_length=50)
    body = models.TextField(_("text"), max_length=1000)
    purpose = models.CharField(_("used for"), max_length=16, choices=ReplyPurpose.choices)
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["sort_order", "id"]
        verbose_name = _("reply template")
        verbose_name_plural = _("reply templates")

    def __str__(self) -> str:
        return self.title


# --- monthly assessment (月度考核) ---------------------------------------------


class AssessmentWeights(models.Model):
    """The weights of the composite score (综合指标值) of the monthly assessment.

    One row (saving always writes row 1); without it the defaults apply. The
    weights add up to 100; rework counts in reverse (1 − rework rate), and
    patrol completion and the community's rating only exist for liaisons,
    so a unit's score is scaled to the weights that apply to it
    (cases.indicators.composite_score).
    """

    on_time_rate = models.PositiveSmallIntegerField(_("on-time closure rate"), default=60)
    closure_rate = models.PositiveSmallIntegerField(_("closure rate"), default=20)
    rework_rate = models.PositiveSmallIntegerField(_("rework rate (counts in reverse)"), default=10)
    satisfaction_rate = models.PositiveSmallIntegerField(_("satisfaction rate"), default=10)
    patrol_rate = models.PositiveSmallIntegerField(
        _("patrol completion rate"), default=0, help_text=_("Liaisons only.")
    )
    community_rating = models.PositiveSmallIntegerField(
        _("rating by the community"),
        default=0,
        help_text=_("Liaisons only: the average of 1–5, as a share of 5."),
    )
    updated_at = models.DateTimeField(_("last change"), default=clock.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    KEYS = (
        "on_time_rate",
        "closure_rate",
        "rework_rate",
        "satisfaction_rate",
        "patrol_rate",
        "community_rating",
    )
    SINGLETON_PK = 1

    class Meta:
        verbose_name = _("assessment weights")
        verbose_name_plural = _("assessment weights")

    def __str__(self) -> str:
        return " · ".join(f"{self.label(key)} {getattr(self, key)}" for key in self.KEYS)

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.pk = self.SINGLETON_PK
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        total = sum(getattr(self, key) or 0 for key in self.KEYS)
        if total != 100:
            raise ValidationError(_("The weights must add up to 100 (now %(total)s).") % {"total": total})

    @classmethod
    def current(cls) -> AssessmentWeights:
        """The saved weights, or the defaults (60/20/10/10) when none were saved."""
        return cls.objects.filter(pk=cls.SINGLETON_PK).first() or cls()

    def as_dict(self) -> dict[str, int]:
        return {key: getattr(self, key) for key in self.KEYS}

    @classmethod
    def label(cls, key: str) -> str:
        """The name of one weight (its field's verbose name)."""
        return str(getattr(cls._meta.get_field(key), "verbose_name", key))


class TwoWayRating(models.Model):
    """Two-way assessment input (双向考评) for one month and community.

    The community's staff rate their liaison, and the liaison rates the
    community's cooperation; each once a month (cases.assessment).
    """

    class Direction(models.TextChoices):
        OF_LIAISON = "of_liaison", _("Community rates its liaison")
        OF_COMMUNITY = "of_community", _("Liaison rates the community's cooperation")

    month = models.DateField(_("month"), help_text=_("The first day of the month rated."))
    community = models.ForeignKey(
        "communities.Community", verbose_name=_("community"), on_delete=models.PROTECT, related_name="+"
    )
    direction = models.CharField(_("direction"), max_length=16, choices=Direction.choices)
    liaison = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("liaison"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The liaison rated, or the liaison who rates the community."),
    )
    score = models.PositiveSmallIntegerField(
        _("score"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(_("comment"), blank=True, max_length=500)
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("rated by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("rated at"), default=clock.now)

    class Meta:
        ordering = ["-month", "community", "direction"]
        verbose_name = _("two-way rating")
        verbose_name_plural = _("two-way ratings")
        permissions = [
            ("rate_liaison", _("Rate the liaison of one's community")),
            ("rate_community", _("Rate the cooperation of the community one serves")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["month", "community", "direction"], name="one_two_way_rating_per_month"
            ),
            models.CheckConstraint(
                condition=models.Q(score__gte=1, score__lte=5), name="two_way_score_1_to_5"
            ),
        ]
        indexes = [models.Index(fields=["month", "direction"])]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.community_id} {self.get_direction_display()} {self.score}"


# --- Open311 GeoReport v2 clients (cases.open311) ---------------------------------


def new_api_key() -> str:
    import secrets

    return secrets.token_urlsafe(32)


API_KEY_PREFIX_LENGTH = 8


def api_key_digest(key: str) -> str:
    """What is stored of an API key: its SHA-256.

    The keys are 256-bit random strings, so a fast unsalted digest cannot be
    reversed or guessed, and it lets a request find its key in one indexed
    query (a password hasher would cost each API call a slow hash).
    """
    import hashlib

    return hashlib.sha256(key.encode()).hexdigest()


class Open311Client(models.Model):
    """A machine client of the Open311 endpoint: a 12345 platform or a 311 app.

    Its API key lets it post service requests, which become cases with the
    client's source, filed as its account (a staff account whose role may
    report cases, e.g. operator: the timeline names it). Without public
    reads (settings.OPEN311_PUBLIC_READS) the key also reads the requests of
    its source. Deactivating the client revokes the key at once.

    The same key signs in to the REST API (/api/v1/, chengguan.api_keys) as
    the account, narrowed to the key's districts and communities (none: the
    account's whole scope) and to reading unless `can_write`. Only a digest
    of the key and its first characters are stored: the key itself is shown
    once, when it is issued (`issue_key`). Every call made with it is logged
    (ApiCallLog).
    """

    SOURCES = (CaseSource.HOTLINE_12345, CaseSource.OPEN311)

    name = models.CharField(_("name"), max_length=100)
    key_prefix = models.CharField(
        _("key prefix"),
        max_length=API_KEY_PREFIX_LENGTH,
        editable=False,
        help_text=_("The first characters of the key, to tell keys apart; the key itself is not stored."),
    )
    key_digest = models.CharField(_("key digest (SHA-256)"), max_length=64, unique=True, editable=False)
    source = models.CharField(
        _("source of its cases"),
        max_length=16,
        choices=[(source.value, source.label) for source in SOURCES],
        default=CaseSource.OPEN311,
    )
    jurisdiction_id = models.CharField(
        _("jurisdiction id"),
        max_length=64,
        blank=True,
        help_text=_("When set, requests naming another jurisdiction_id are refused."),
    )
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reports filed as"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("A staff account whose role may report cases (e.g. operator)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    can_write = models.BooleanField(
        _("may write"),
        default=True,
        help_text=_("Off: the key only reads (GET) on the REST API and cannot post Open311 requests."),
    )
    districts = models.ManyToManyField(
        "communities.District",
        verbose_name=_("limited to districts"),
        blank=True,
        related_name="+",
        help_text=_("On the REST API the key sees only these districts and communities; none: no limit."),
    )
    communities = models.ManyToManyField(
        "communities.Community", verbose_name=_("limited to communities"), blank=True, related_name="+"
    )
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    # Pushing the status and result of its cases back to the client (cases.hotline).
    push_kind = models.CharField(
        _("push status changes"), max_length=16, choices=PushKind.choices, default=PushKind.NONE
    )
    push_url = models.URLField(
        _("push endpoint"),
        max_length=500,
        blank=True,
        help_text=_("Where status changes and results of this client's cases are POSTed."),
    )
    push_secret = models.CharField(
        _("push shared secret"),
        max_length=128,
        blank=True,
        help_text=_(
            "Webhook: signs each body with HMAC-SHA256 (X-Hotline-Signature). "
            "GeoReport: sent as the api_key field."
        ),
    )
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    # The key in clear, only on the instance that issued it (never stored).
    api_key: str | None = None

    class Meta:
        ordering = ["name"]
        verbose_name = _("Open311 client")
        verbose_name_plural = _("Open311 clients")

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A client always holds a key: one is issued when none was.
        if not self.key_digest:
            self.issue_key()
        super().save(*args, **kwargs)

    def issue_key(self) -> str:
        """A new key for this client (not saved yet); the previous key stops working once saved."""
        key = new_api_key()
        self.api_key = key
        self.key_prefix = key[:API_KEY_PREFIX_LENGTH]
        self.key_digest = api_key_digest(key)
        return key

    def is_usable(self, now: datetime | None = None) -> bool:
        """Whether the key signs in now: active, not revoked, not expired."""
        now = now or clock.now()
        return (
            self.is_active and self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
        )

    @property
    def pushes_enabled(self) -> bool:
        return self.push_kind != PushKind.NONE and bool(self.push_url)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        super().clean()
        if self.push_kind != PushKind.NONE and not self.push_url:
            raise ValidationError({"push_url": _("Pushing needs the platform's endpoint URL.")})


class ApiCallLog(models.Model):
    """One request made with an API key (Open311Client), written once, after the response.

    Pruned after settings.API_CALL_LOG_RETENTION_DAYS by the
    `prune_api_call_logs` beat job.
    """

    client = models.ForeignKey(
        Open311Client, verbose_name=_("API key"), on_delete=models.CASCADE, related_name="calls"
    )
    at = models.DateTimeField(_("time"))
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=300)
    status = models.PositiveSmallIntegerField(_("status"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    remote_addr = models.GenericIPAddressField(_("remote address"), null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("API call")
        verbose_name_plural = _("API calls")
        indexes = [models.Index(fields=["client", "-at"]), models.Index(fields=["at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.method} {self.path} {self.status}"


# --- saved filters and exports of the case lists (cases.saved_filters, cases.exports) ---


class SavedFilter(models.Model):
    """A user's named querystring for one case list: the staff list ("cases") or a worklist slug."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="+"
    )
    list_key = models.CharField(_("list"), max_length=32)
    name = models.CharField(_("name"), max_length=60)
    querystring = models.CharField(_("filters"), max_length=2000)
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("saved filter")
        verbose_name_plural = _("saved filters")
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "list_key", "name"], name="saved_filter_name_once_per_list"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def url(self) -> str:
        """The list with these filters applied."""
        from cases.lists import list_url

        return f"{list_url(self.list_key)}?{self.querystring}"


def export_upload_to(job: ExportJob, filename: str) -> str:
    return f"exports/{job.owner_id}/{filename}"


class ExportJob(models.Model):
    """A large export of a filtered case list, written by a Celery task (cases.exports)."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Ready")
        FAILED = "failed", pgettext_lazy("export status", "Failed")
        EXPIRED = "expired", _("Expired")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="+"
    )
    list_key = models.CharField(_("list"), max_length=32)
    querystring = models.CharField(_("filters"), max_length=2000, blank=True)
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    file = models.FileField(_("file"), upload_to=export_upload_to, blank=True, max_length=200)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # One run at a time holds a running job (cases.exports._claim): `attempt`
    # numbers the runs, and a run renews `lease_expires_at` while it writes.
    # A lapsed lease means its worker died; the requeue sweep hands the job
    # to a new run, and the old one, should it still be alive, stops.
    attempt = models.PositiveIntegerField(default=0, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        indexes = [models.Index(fields=["status", "finished_at"])]

    def __str__(self) -> str:
        return f"{self.list_key}.{self.format} #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED, self.Status.EXPIRED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_done * 100 // self.rows_total)


# --- pushes back to the 12345 platform (cases.hotline) --------------------------------


class HotlinePush(models.Model):
    """One change of a case pushed back to the Open311 client it came from (outbox).

    A change is a status change, or a new handling deadline (`expected_datetime`)
    from a recategorisation or an approved extension; `action` names its event.
    Written in the transaction of the change; delivered after commit and
    retried with backoff until the platform acknowledges it (2xx) or the
    attempts run out (dead). Rows of one case are delivered in order.
    """

    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="pushes")
    client = models.ForeignKey(
        Open311Client, verbose_name=_("platform"), on_delete=models.PROTECT, related_name="pushes"
    )
    event = models.ForeignKey(
        CaseEvent,
        verbose_name=_("event"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # A CaseAction; without choices so that new actions need no migration here.
    action = models.CharField(_("change"), max_length=24)
    case_status = models.CharField(_("case status pushed"), max_length=16, choices=CaseStatus.choices)
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(
        _("delivery"), max_length=16, choices=PushStatus.choices, default=PushStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    # Set while a worker sends it: no one else sends it meanwhile; a worker
    # that died mid-send leaves it to be retried once this has passed.
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("push to the hotline platform")
        verbose_name_plural = _("pushes to the hotline platform")
        permissions = [("retry_hotlinepush", _("Retry pushes to the hotline platform"))]
        indexes = [
            # The retry job: rows still to deliver, by when they are due.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "failed"]),
                name="hotlinepush_due",
            ),
            models.Index(fields=["case", "id"]),
            models.Index(fields=["status", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.case_status} ({self.get_status_display()})"

    @property
    def action_label(self) -> str:
        try:
            return str(CaseAction(self.action).label)
        except ValueError:
            return self.action
