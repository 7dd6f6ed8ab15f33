from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chengguan import clock
from chengguan.permissions import RestrictedQuerySet
from liaisons.choices import AssignmentRole, PatrolFrequency, ScheduledPatrolStatus, Weekday


class LiaisonAssignment(models.Model):
    """A liaison's posting to a community (一区一员), kept as history.

    At most one open assignment per community and role; ending one and
    starting the next happen in one transaction (liaisons.services).
    """

    community = models.ForeignKey(
        "communities.Community",
        verbose_name=_("community"),
        on_delete=models.PROTECT,
        related_name="assignments",
    )
    liaison = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("liaison"),
        on_delete=models.PROTECT,
        related_name="assignments",
    )
    role = models.CharField(
        _("role"), max_length=16, choices=AssignmentRole.choices, default=AssignmentRole.RESPONSIBLE
    )
    duties = models.TextField(_("duties"), blank=True)
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"), null=True, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["community", "role", "-starts_at"]
        verbose_name = _("liaison assignment")
        verbose_name_plural = _("liaison assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["community", "role"],
                condition=Q(ends_at__isnull=True),
                name="one_open_assignment_per_community_role",
            )
        ]

    def __str__(self) -> str:
        return f"{self.community} – {self.liaison} ({self.get_role_display()})"


class PatrolPlan(models.Model):
    """How often a community must be patrolled (巡查计划)."""

    community = models.ForeignKey(
        "communities.Community",
        verbose_name=_("community"),
        on_delete=models.CASCADE,
        related_name="patrol_plans",
    )
    frequency = models.CharField(
        _("frequency"), max_length=16, choices=PatrolFrequency.choices, default=PatrolFrequency.WEEKLY
    )
    times_per_month = models.PositiveSmallIntegerField(
        _("times a month"), default=4, help_text=_("Only for the monthly frequency.")
    )
    preferred_weekday = models.PositiveSmallIntegerField(
        _("preferred weekday"), choices=Weekday.choices, default=Weekday.WEDNESDAY
    )
    notes = models.CharField(_("notes"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["community"]
        verbose_name = _("patrol plan")
        verbose_name_plural = _("patrol plans")

    def __str__(self) -> str:
        return f"{self.community} · {self.get_frequency_display()}"


class ScheduledPatrol(models.Model):
    """One patrol a plan expects in a window of days; the unit of 巡查完成率."""

    plan = models.ForeignKey(
        PatrolPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="slots"
    )
    community = models.ForeignKey(
        "communities.Community", verbose_name=_("community"), on_delete=models.CASCADE, related_name="+"
    )
    window_start = models.DateField(_("from"))
    window_end = models.DateField(_("until"))
    due_date = models.DateField(_("due on"))
    slot = models.PositiveSmallIntegerField(_("slot"), default=0)
    status = models.CharField(
        _("status"), max_length=8, choices=ScheduledPatrolStatus.choices, default=ScheduledPatrolStatus.DUE
    )
    patrol = models.ForeignKey(
        "PatrolLog",
        verbose_name=_("patrol"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="slots",
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "slot"]
        verbose_name = _("scheduled patrol")
        verbose_name_plural = _("scheduled patrols")
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "window_start", "slot"], name="one_scheduled_patrol_per_slot"
            )
        ]
        indexes = [
            models.Index(fields=["status", "window_end"]),
            models.Index(fields=["community", "due_date"]),
        ]

    def __str__(self) -> str:
        return f"{self.community} {self.due_date}"


class PatrolLog(models.Model):
    """A patrol as the liaison logged it (巡查台账)."""

    liaison = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("liaison"), on_delete=models.PROTECT, related_name="patrols"
    )
    community = models.ForeignKey(
        "communities.Community", verbose_name=_("community"), on_delete=models.PROTECT, related_name="patrols"
    )
    grid_cells = models.ManyToManyField(
        "communities.GridCell", verbose_name=_("grid cells covered"), blank=True
    )
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"))
    notes = models.TextField(_("notes"), blank=True)
    # A phone that lost its connection resubmits the same draft: one patrol.
    client_uuid = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("logged at"), default=clock.now)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("patrol log")
        verbose_name_plural = _("patrol logs")
        indexes = [
            models.Index(fields=["community", "started_at"]),
            models.Index(fields=["liaison", "started_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.community} {self.started_at:%Y-%m-%d %H:%M}"


class PatrolPhoto(models.Model):
    patrol = models.ForeignKey(
        PatrolLog, verbose_name=_("patrol"), on_delete=models.CASCADE, related_name="photos"
    )
    finding = models.ForeignKey(
        "PatrolFinding",
        verbose_name=_("finding"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="photos",
    )
    file = models.ImageField(_("file"), upload_to="patrols/%Y/%m/")
    created_at = models.DateTimeField(_("uploaded at"), default=clock.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("patrol photo")
        verbose_name_plural = _("patrol photos")

    def __str__(self) -> str:
        return f"{self.patrol_id} photo"


class PatrolFinding(models.Model):
    """A problem found on patrol; it becomes a case (source = patrol) in one step."""

    patrol = models.ForeignKey(
        PatrolLog, verbose_name=_("patrol"), on_delete=models.CASCADE, related_name="findings"
    )
    category = models.ForeignKey(
        "cases.Category",
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    description = models.TextField(_("description"))
    address = models.CharField(_("address"), max_length=200, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    fixed_on_spot = models.BooleanField(_("fixed on the spot"), default=False)
    case = models.OneToOneField(
        "cases.Case",
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="finding",
    )
    created_at = models.DateTimeField(_("found at"), default=clock.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("patrol finding")
        verbose_name_plural = _("patrol findings")

    def __str__(self) -> str:
        return self.description[:40]


class Meeting(models.Model):
    """A coordination meeting (协调会/例会会商) in a community, with its minutes."""

    community = models.ForeignKey(
        "communities.Community",
        verbose_name=_("community"),
        on_delete=models.PROTECT,
        related_name="meetings",
    )
    held_at = models.DateTimeField(_("held at"))
    title = models.CharField(_("title"), max_length=100)
    location = models.CharField(_("place"), max_length=100, blank=True)
    attendees = models.TextField(
        _("attendees"), help_text=_("Residents' committee, property company, units…")
    )
    issues = models.TextField(_("issues discussed"))
    resolutions = models.TextField(_("resolutions"), blank=True)
    cases = models.ManyToManyField(
        "cases.Case", verbose_name=_("linked cases"), blank=True, related_name="meetings"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded at"), default=clock.now)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-held_at", "-id"]
        verbose_name = _("coordination meeting")
        verbose_name_plural = _("coordination meetings")

    def __str__(self) -> str:
        return f"{self.held_at:%Y-%m-%d} {self.title}"


class CoverPeriod(models.Model):
    """A period in which a backup liaison (B角) covers a community (leave, urgent work).

    While the period runs the backup holds the community's scope exactly as
    its responsible liaison does; `granted_at`/`withdrawn_at` record when the
    access was given and taken back (liaisons.services.cover_sync).
    """

    community = models.ForeignKey(
        "communities.Community",
        verbose_name=_("community"),
        on_delete=models.PROTECT,
        related_name="cover_periods",
    )
    backup = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("covering liaison"),
        on_delete=models.PROTECT,
        related_name="cover_periods",
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    reason = models.CharField(_("reason"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=clock.now, editable=False)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    granted_at = models.DateTimeField(_("access granted at"), null=True, blank=True, editable=False)
    withdrawn_at = models.DateTimeField(_("access withdrawn at"), null=True, blank=True, editable=False)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("cover period")
        verbose_name_plural = _("cover periods")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="cover_ends_after_start"
            )
        ]
        indexes = [models.Index(fields=["starts_at", "ends_at"])]

    def __str__(self) -> str:
        return f"{self.community} – {self.backup}"

    def is_running(self, at: object = None) -> bool:
        """True while the period covers the moment `at` (now by default) and is not cancelled."""
        moment = at or clock.now()
        return self.cancelled_at is None and self.starts_at <= moment < self.ends_at  # type: ignore[operator]
