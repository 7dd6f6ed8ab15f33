"""门前三包: responsibility units along the streets, their agreements,
inspections against a checklist and rectification notices."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from chengguan import clock
from chengguan.permissions import RestrictedQuerySet
from inspections.choices import ChecklistGroup, NoticeStatus, UnitKind


class ResponsibilityUnit(models.Model):
    """A shop or unit responsible for the pavement in front of it (门前三包责任单位)."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=UnitKind.choices, default=UnitKind.SHOP)
    address = models.CharField(_("address"), max_length=200)
    community = models.ForeignKey(
        "communities.Community", verbose_name=_("community"), on_delete=models.PROTECT, related_name="shops"
    )
    grid_cell = models.ForeignKey(
        "communities.GridCell",
        verbose_name=_("grid cell"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="shops",
    )
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=64, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    licence_number = models.CharField(_("business licence number"), max_length=64, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["community", "name"]
        verbose_name = _("responsibility unit")
        verbose_name_plural = _("responsibility units")

    def __str__(self) -> str:
        return self.name


class Agreement(models.Model):
    """The signed 门前三包 responsibility agreement for a period."""

    unit = models.ForeignKey(
        ResponsibilityUnit, verbose_name=_("unit"), on_delete=models.CASCADE, related_name="agreements"
    )
    number = models.CharField(_("agreement number"), max_length=32, unique=True)
    starts_on = models.DateField(_("valid from"))
    ends_on = models.DateField(_("valid until"))
    signed_on = models.DateField(_("signed on"))
    signed_by = models.CharField(_("signed by"), max_length=64)
    duties = models.TextField(_("duties"))

    class Meta:
        ordering = ["-ends_on"]
        verbose_name = _("responsibility agreement")
        verbose_name_plural = _("responsibility agreements")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")), name="agreement_period_ordered"
            )
        ]

    def __str__(self) -> str:
        return self.number


class ChecklistItem(models.Model):
    """One thing an inspection checks (configurable in the admin)."""

    code = models.CharField(_("code"), max_length=16, unique=True)
    group = models.CharField(_("group"), max_length=16, choices=ChecklistGroup.choices)
    name = models.CharField(_("item"), max_length=100)
    requirement = models.CharField(_("requirement"), max_length=200, blank=True)
    rectify_days = models.PositiveSmallIntegerField(
        _("working days to rectify"), default=3, help_text=_("Used for the rectification notice deadline.")
    )
    category = models.ForeignKey(
        "cases.Category",
        verbose_name=_("case category if not rectified"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")

    def __str__(self) -> str:
        return self.name


class Inspection(models.Model):
    """An inspection of a unit against the checklist."""

    unit = models.ForeignKey(
        ResponsibilityUnit, verbose_name=_("unit"), on_delete=models.PROTECT, related_name="inspections"
    )
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("inspector"),
        on_delete=models.PROTECT,
        related_name="inspections",
    )
    inspected_at = models.DateTimeField(_("inspected at"))
    passed = models.BooleanField(_("passed"))
    notes = models.TextField(_("notes"), blank=True)
    # Set when this inspection re-checks an earlier rectification notice (复查).
    rechecks = models.ForeignKey(
        "RectificationNotice",
        verbose_name=_("re-inspection of"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reinspections",
    )
    client_uuid = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-inspected_at", "-id"]
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")

    def __str__(self) -> str:
        return f"{self.unit} {self.inspected_at:%Y-%m-%d}"


class InspectionResult(models.Model):
    inspection = models.ForeignKey(
        Inspection, verbose_name=_("inspection"), on_delete=models.CASCADE, related_name="results"
    )
    item = models.ForeignKey(
        ChecklistItem, verbose_name=_("item"), on_delete=models.PROTECT, related_name="+"
    )
    passed = models.BooleanField(_("passed"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["item__sort_order", "item__code"]
        verbose_name = _("inspection result")
        verbose_name_plural = _("inspection results")
        constraints = [models.UniqueConstraint(fields=["inspection", "item"], name="one_result_per_item")]

    def __str__(self) -> str:
        return f"{self.item} {'✓' if self.passed else '✗'}"


class RectificationNotice(models.Model):
    """整改通知书: what failed, what to do, by when; re-inspected after the deadline."""

    number = models.CharField(_("notice number"), max_length=32, unique=True)
    inspection = models.OneToOneField(
        Inspection, verbose_name=_("inspection"), on_delete=models.PROTECT, related_name="notice"
    )
    unit = models.ForeignKey(
        ResponsibilityUnit, verbose_name=_("unit"), on_delete=models.PROTECT, related_name="notices"
    )
    failed_items = models.ManyToManyField(ChecklistItem, verbose_name=_("failed items"), related_name="+")
    requirements = models.TextField(_("what must be done"))
    issued_at = models.DateTimeField(_("issued at"))
    deadline = models.DateTimeField(_("rectify by"))
    status = models.CharField(
        _("status"), max_length=16, choices=NoticeStatus.choices, default=NoticeStatus.ISSUED
    )
    closed_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    case = models.OneToOneField(
        "cases.Case",
        verbose_name=_("case filed"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rectification_notice",
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("rectification notice")
        verbose_name_plural = _("rectification notices")
        indexes = [models.Index(fields=["status", "deadline"])]

    def __str__(self) -> str:
        return self.number
