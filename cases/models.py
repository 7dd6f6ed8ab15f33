from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from cases.choices import (
    AttachmentKind,
    CaseAction,
    CaseSource,
    CaseStatus,
    CategoryKind,
    ExtensionStatus,
    RejectReason,
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
    tracking_code = models.CharField(_("tracking code"), max_length=12, unique=True)
    idempotency_key = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(_("version"), default=1)

    status = models.CharField(
        _("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.REPORTED
    )
    source = models.CharField(_("source"), max_length=16, choices=CaseSource.choices)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
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
        related_name="cases",
    )
    community = models.ForeignKey(
        "communities.Community",
        verbose_name=_("community"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
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
    reporter_phone = models.CharField(_("reporter phone"), max_length=32, blank=True, db_index=True)
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
        related_name="cases",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned officer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
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
        ]
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
    file = models.ImageField(_("file"), upload_to=attachment_path, width_field="width", height_field="height")
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


class ExtensionRequest(models.Model):
    """A handler's request for more time (延期), decided by a supervisor."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="extension_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    requested_due_at = models.DateTimeField(_("new deadline asked for"))
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=16, choices=ExtensionStatus.choices, default=ExtensionStatus.PENDING
    )
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
        ordering = ["-created_at", "-id"]
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


class Open311Client(models.Model):
    """A machine client of the Open311 endpoint: a 12345 platform or a 311 app.

    Its API key lets it post service requests, which become cases with the
    client's source, filed as its account (a staff account whose role may
    report cases, e.g. operator: the timeline names it). Without public
    reads (settings.OPEN311_PUBLIC_READS) the key also reads the requests of
    its source. Deactivating the client revokes the key at once.
    """

    SOURCES = (CaseSource.HOTLINE_12345, CaseSource.OPEN311)

    name = models.CharField(_("name"), max_length=100)
    api_key = models.CharField(_("API key"), max_length=64, unique=True, default=new_api_key)
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
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("Open311 client")
        verbose_name_plural = _("Open311 clients")

    def __str__(self) -> str:
        return self.name
