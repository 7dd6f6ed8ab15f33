from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chengguan import clock
from chengguan.permissions import RestrictedQuerySet
from communities.choices import FACILITY_CATEGORY_CODES, CommunityKind, FacilityKind, UnitKind
from communities.geometry import boundary_facts, parse_boundary


class Area(models.Model):
    """Shared shape of every level of the geography: code, name, boundary, centre."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    boundary = models.JSONField(_("boundary (GeoJSON)"), null=True, blank=True)
    centroid_lat = models.FloatField(_("centre latitude"), null=True, blank=True)
    centroid_lng = models.FloatField(_("centre longitude"), null=True, blank=True)
    # The bounding box lets the database pick candidate areas for a point
    # before shapely does the exact test.
    min_lat = models.FloatField(null=True, blank=True, editable=False)
    min_lng = models.FloatField(null=True, blank=True, editable=False)
    max_lat = models.FloatField(null=True, blank=True, editable=False)
    max_lng = models.FloatField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def set_boundary(self, geojson: Any) -> None:
        """Validate a GeoJSON boundary and derive the centre and bounding box from it."""
        if geojson in (None, "", {}):
            self.boundary = None
            self.min_lat = self.min_lng = self.max_lat = self.max_lng = None
            return
        geometry = parse_boundary(geojson)
        if isinstance(geojson, dict) and geojson.get("type") == "Feature":
            geojson = geojson["geometry"]
        facts = boundary_facts(geometry)
        self.boundary = geojson
        self.centroid_lat, self.centroid_lng = facts.centroid_lat, facts.centroid_lng
        self.min_lat, self.min_lng = facts.min_lat, facts.min_lng
        self.max_lat, self.max_lng = facts.max_lat, facts.max_lng

    @classmethod
    def bbox_contains(cls, lat: float, lng: float) -> Q:
        return Q(min_lat__lte=lat, max_lat__gte=lat, min_lng__lte=lng, max_lng__gte=lng)


class District(Area):
    """区: the unit a bureau runs; supervisors and dispatchers are scoped to one."""

    city = models.CharField(_("city"), max_length=50)
    complaint_phone = models.CharField(_("complaint phone"), max_length=32, blank=True)

    class Meta(Area.Meta):
        verbose_name = _("district")
        verbose_name_plural = _("districts")
        permissions = [
            ("oversee_district", _("Oversee the district's cases")),
            ("oversee_city", _("Oversee every district's cases")),
        ]


class Street(Area):
    """街道: a street office within a district."""

    district = models.ForeignKey(
        District, verbose_name=_("district"), on_delete=models.PROTECT, related_name="streets"
    )

    class Meta(Area.Meta):
        verbose_name = _("street office")
        verbose_name_plural = _("street offices")


class Community(Area):
    """社区/村: the area one liaison officer is responsible for (一区一员)."""

    street = models.ForeignKey(
        Street, verbose_name=_("street office"), on_delete=models.PROTECT, related_name="communities"
    )
    kind = models.CharField(
        _("kind"), max_length=16, choices=CommunityKind.choices, default=CommunityKind.COMMUNITY
    )
    address = models.CharField(_("office address"), max_length=200, blank=True)
    phone = models.CharField(_("office phone"), max_length=32, blank=True)

    class Meta(Area.Meta):
        verbose_name = _("community")
        verbose_name_plural = _("communities")
        permissions = [("work_in_community", _("Work in the community"))]


class GridCell(Area):
    """网格: the unit cell of digital city management inside a community."""

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.PROTECT, related_name="grid_cells"
    )

    class Meta(Area.Meta):
        verbose_name = _("grid cell")
        verbose_name_plural = _("grid cells")


class HandlingUnit(models.Model):
    """处置单位: a department or contractor that fixes what is dispatched to it."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=UnitKind.choices, default=UnitKind.OTHER)
    district = models.ForeignKey(
        District,
        verbose_name=_("district"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="handling_units",
        help_text=_("Empty for a city-level unit."),
    )
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("handling unit")
        verbose_name_plural = _("handling units")
        permissions = [("work_for_unit", _("Work for the handling unit"))]

    def __str__(self) -> str:
        return self.name


class Facility(models.Model):
    """A public facility carrying a QR service code (城市服务码): street light, toilet, bin…

    Its point is routed to a community and grid cell (communities.services);
    a scan opens the complaint form pre-filled with the place and the facility.
    """

    code = models.CharField(
        _("code"),
        max_length=32,
        unique=True,
        help_text=_("Printed under the QR code; letters, digits, dots, dashes and underscores."),
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(
        _("kind"), max_length=16, choices=FacilityKind.choices, default=FacilityKind.OTHER
    )
    lat = models.FloatField(_("latitude"))
    lng = models.FloatField(_("longitude"))
    address = models.CharField(_("address"), max_length=200, blank=True)
    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.PROTECT, related_name="facilities"
    )
    grid_cell = models.ForeignKey(
        GridCell,
        verbose_name=_("grid cell"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="facilities",
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now, editable=False)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["community", "code"]
        verbose_name = _("facility")
        verbose_name_plural = _("facilities")
        constraints = [
            models.CheckConstraint(
                condition=Q(lat__gte=-90, lat__lte=90, lng__gte=-180, lng__lte=180),
                name="facility_coordinates_in_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def category_code(self) -> str:
        """The code of the complaint category a scan of this facility suggests ("" for none)."""
        return FACILITY_CATEGORY_CODES.get(self.kind, "")


class EnforcementDisclosure(models.Model):
    """执法信息公开: what a district's city-management enforcement covers, published as is."""

    district = models.OneToOneField(
        District, verbose_name=_("district"), on_delete=models.CASCADE, related_name="disclosure"
    )
    matters = models.TextField(_("enforcement matters"), help_text=_("One matter a line."))
    legal_basis = models.TextField(_("legal basis"), help_text=_("One law or regulation a line."))
    process = models.TextField(_("enforcement process"))
    appeal = models.TextField(_("how to appeal"))
    complaint_phone = models.CharField(_("complaint phone"), max_length=32)
    officers = models.JSONField(
        _("officers on duty"),
        default=list,
        blank=True,
        help_text=_('A list of {"name": …, "badge": …}; edited one officer a line in the admin.'),
    )
    is_published = models.BooleanField(_("published"), default=True)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)

    class Meta:
        verbose_name = _("enforcement disclosure")
        verbose_name_plural = _("enforcement disclosures")

    def __str__(self) -> str:
        return str(self.district)

    @staticmethod
    def _lines(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines() if line.strip()]

    @property
    def matter_lines(self) -> list[str]:
        return self._lines(self.matters)

    @property
    def legal_basis_lines(self) -> list[str]:
        return self._lines(self.legal_basis)
