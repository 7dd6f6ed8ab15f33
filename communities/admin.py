"""Admin for the geography (district → street → community → grid cell) and handling units.

Boundaries are edited as GeoJSON text and go through `Area.set_boundary`, so
the centre and bounding box are always derived from the polygon, never typed.
Districts, communities and handling units carry the object permissions that
scope users (chengguan.permissions), so their admins can manage them.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from guardian.admin import GuardedModelAdmin, GuardedModelAdminMixin

from communities.models import Area, Community, District, GridCell, HandlingUnit, Street


class AreaForm(forms.ModelForm):
    boundary_geojson = forms.CharField(
        label=_("Boundary (GeoJSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80, "spellcheck": "false"}),
        help_text=_(
            "A GeoJSON Polygon or MultiPolygon (or a Feature holding one) in WGS-84 "
            "longitude/latitude. The centre and bounding box are computed from it. "
            "Leave empty for no boundary."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.boundary:
            self.initial["boundary_geojson"] = json.dumps(
                self.instance.boundary, ensure_ascii=False, indent=2
            )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if "boundary_geojson" not in cleaned:
            return cleaned
        text = cleaned["boundary_geojson"].strip()
        try:
            geojson = json.loads(text) if text else None
        except json.JSONDecodeError as exc:
            self.add_error(
                "boundary_geojson",
                _("The boundary is not valid JSON (line %(line)d, column %(column)d).")
                % {"line": exc.lineno, "column": exc.colno},
            )
            return cleaned
        instance: Area = self.instance
        try:
            instance.set_boundary(geojson)
        except ValidationError as exc:
            self.add_error("boundary_geojson", exc)
        return cleaned


class AreaAdmin(admin.ModelAdmin):
    form = AreaForm
    search_fields = ["code", "name"]
    list_filter = ["is_active"]
    ordering = ["code"]
    readonly_fields = ["centroid", "bounding_box"]
    parent_fields: list[str] = []
    extra_fields: list[str] = []

    def get_fieldsets(self, request: Any, obj: Any = None) -> Any:
        return [
            (None, {"fields": ["code", "name", *self.parent_fields, *self.extra_fields, "is_active"]}),
            (_("Boundary"), {"fields": ["boundary_geojson", "centroid", "bounding_box"]}),
        ]

    @admin.display(description=_("centre (lat, lng)"))
    def centroid(self, obj: Area) -> str:
        if obj.centroid_lat is None or obj.centroid_lng is None:
            return "—"
        return f"{obj.centroid_lat:.6f}, {obj.centroid_lng:.6f}"

    @admin.display(description=_("bounding box (lat, lng)"))
    def bounding_box(self, obj: Area) -> str:
        if obj.min_lat is None:
            return "—"
        return f"{obj.min_lat:.6f}, {obj.min_lng:.6f} – {obj.max_lat:.6f}, {obj.max_lng:.6f}"

    @admin.display(description=_("boundary"), boolean=True)
    def has_boundary(self, obj: Area) -> bool:
        return obj.min_lat is not None


@admin.register(District)
class DistrictAdmin(GuardedModelAdminMixin, AreaAdmin):  # type: ignore[misc]
    extra_fields = ["city", "complaint_phone"]
    list_display = ["code", "name", "city", "complaint_phone", "has_boundary", "is_active"]
    list_filter = ["city", "is_active"]


@admin.register(Street)
class StreetAdmin(AreaAdmin):
    parent_fields = ["district"]
    list_display = ["code", "name", "district", "has_boundary", "is_active"]
    list_filter = ["district", "is_active"]
    list_select_related = ["district"]


@admin.register(Community)
class CommunityAdmin(GuardedModelAdminMixin, AreaAdmin):  # type: ignore[misc]
    parent_fields = ["street"]
    extra_fields = ["kind", "address", "phone"]
    list_display = ["code", "name", "kind", "street", "district", "phone", "has_boundary", "is_active"]
    list_filter = ["kind", "street__district", "is_active"]
    list_select_related = ["street__district"]
    autocomplete_fields = ["street"]

    @admin.display(description=_("district"), ordering="street__district__name")
    def district(self, obj: Community) -> District:
        return obj.street.district


@admin.register(GridCell)
class GridCellAdmin(AreaAdmin):
    parent_fields = ["community"]
    list_display = ["code", "name", "community", "has_boundary", "is_active"]
    list_filter = ["community__street__district", "is_active"]
    list_select_related = ["community"]
    autocomplete_fields = ["community"]
    search_fields = ["code", "name", "community__name"]


@admin.register(HandlingUnit)
class HandlingUnitAdmin(GuardedModelAdmin):
    list_display = ["code", "name", "kind", "district", "contact_phone", "is_active"]
    list_filter = ["kind", "district", "is_active"]
    list_select_related = ["district"]
    search_fields = ["code", "name"]
    ordering = ["code"]
