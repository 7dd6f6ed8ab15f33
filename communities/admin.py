"""Admin for the geography (district → street → community → grid cell) and handling units.

Boundaries are edited as GeoJSON text and go through `Area.set_boundary`, so
the centre and bounding box are always derived from the polygon, never typed.
Districts, communities and handling units carry the object permissions that
scope users (chengguan.permissions), so their admins can manage them.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from guardian.admin import GuardedModelAdminMixin
from guardian.shortcuts import assign_perm, remove_perm

from chengguan import clock
from chengguan.audit import audit
from chengguan.errors import InvalidInput
from chengguan.services import SCOPE_PERMISSIONS, user_set_scope
from communities.models import (
    Area,
    Community,
    District,
    EnforcementDisclosure,
    Facility,
    GridCell,
    HandlingUnit,
    Street,
)
from communities.services import facility_import_csv, facility_place, facility_save


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


class ScopeAdminMixin(GuardedModelAdminMixin):
    """django-guardian's object-permission pages, with scope changes made through the service.

    Ticking or unticking the scope permission of the object (`oversee_district`,
    `work_in_community`, `work_for_unit`) for a user calls user_set_scope, so
    the change is audited as `scope.granted`/`scope.withdrawn` against the area,
    with the admin as actor, exactly as when made anywhere else. Other object
    permissions, and group permissions, go through guardian; the receivers in
    chengguan.security audit those rows. One save is one transaction.
    """

    def get_obj_perms_manage_user_form(self, request: HttpRequest) -> type[forms.Form]:
        base: Any = super().get_obj_perms_manage_user_form(request)
        actor = request.user

        class ScopeUserObjectPermissionsForm(base):  # type: ignore[misc,valid-type]
            def save_obj_perms(self) -> None:
                chosen = set(self.cleaned_data[self.get_obj_perms_field_name()])
                offered = {choice[0] for choice in self.get_obj_perms_field_choices()}
                held = set(self.get_obj_perms_field_initial())
                scope_codename = SCOPE_PERMISSIONS[type(self.obj)].split(".")[1]
                with transaction.atomic():
                    for codename in sorted((offered - chosen) & held):
                        self._change(codename, grant=False, scope_codename=scope_codename)
                    for codename in sorted(chosen - held):
                        self._change(codename, grant=True, scope_codename=scope_codename)

            def _change(self, codename: str, *, grant: bool, scope_codename: str) -> None:
                if codename == scope_codename:
                    user_set_scope(user=self.user, target=self.obj, grant=grant, actor=actor)
                else:
                    (assign_perm if grant else remove_perm)(codename, self.user, self.obj)

        return ScopeUserObjectPermissionsForm

    def obj_perms_manage_group_view(
        self, request: HttpRequest, object_pk: Any, group_id: Any
    ) -> HttpResponse:
        with transaction.atomic():
            return super().obj_perms_manage_group_view(request, object_pk, group_id)  # type: ignore[no-any-return]


@admin.register(District)
class DistrictAdmin(ScopeAdminMixin, AreaAdmin):  # type: ignore[misc]
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
class CommunityAdmin(ScopeAdminMixin, AreaAdmin):  # type: ignore[misc]
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
class HandlingUnitAdmin(ScopeAdminMixin, admin.ModelAdmin):  # type: ignore[misc]
    list_display = ["code", "name", "kind", "district", "contact_phone", "is_active"]
    list_filter = ["kind", "district", "is_active"]
    list_select_related = ["district"]
    search_fields = ["code", "name"]
    ordering = ["code"]


# --- facilities (城市服务码) and the enforcement disclosure ------------------------------


class FacilityImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("Columns: code, name, kind, lat, lng, address, community, active. UTF-8, header first."),
    )


class FacilityAdminForm(forms.ModelForm):
    class Meta:
        model = Facility
        fields = ["code", "name", "kind", "lat", "lng", "address", "community", "is_active"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("lat") is not None and data.get("lng") is not None:
            try:
                facility_place(lat=data["lat"], lng=data["lng"], community=data.get("community"))
            except InvalidInput as error:
                self.add_error(error.params.get("field") or None, str(error.message))
        return data


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    form = FacilityAdminForm
    list_display = ["code", "name", "kind", "community", "grid_cell", "is_active", "qr_links"]
    list_filter = ["kind", "community__street__district", "is_active"]
    list_select_related = ["community", "grid_cell"]
    search_fields = ["code", "name", "address", "community__name"]
    autocomplete_fields = ["community"]
    readonly_fields = ["grid_cell", "created_at"]
    fields = [
        "code",
        "name",
        "kind",
        "lat",
        "lng",
        "address",
        "community",
        "grid_cell",
        "is_active",
        "created_at",
    ]
    ordering = ["community", "code"]
    change_list_template = "admin/communities/facility/change_list.html"

    @admin.display(description=_("QR code"))
    def qr_links(self, obj: Facility) -> str:
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("communities:facility_qr_sheet", args=[obj.code]),
            _("print"),
            reverse("communities:facility_detail", args=[obj.code]),
            _("public page"),
        )

    def save_model(self, request: HttpRequest, obj: Facility, form: Any, change: bool) -> None:
        # Through the service, so the point is routed and the change audited.
        saved, _created = facility_save(
            code=obj.code,
            name=obj.name,
            kind=obj.kind,
            lat=obj.lat,
            lng=obj.lng,
            address=obj.address,
            community=obj.community if obj.community_id else None,
            is_active=obj.is_active,
            actor=request.user,
        )
        obj.pk, obj.grid_cell, obj.community = saved.pk, saved.grid_cell, saved.community

    def get_urls(self) -> list[Any]:
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="communities_facility_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        result = None
        form = FacilityImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            result = facility_import_csv(data=form.cleaned_data["file"].read(), actor=request.user)
            if result.ok:
                self.message_user(
                    request,
                    _("%(created)d facilities created, %(updated)d updated.")
                    % {"created": result.created, "updated": result.updated},
                    level=messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:communities_facility_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import facilities from CSV"),
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/communities/facility/import.html", context)


class DisclosureForm(forms.ModelForm):
    officers_text = forms.CharField(
        label=_("Officers on duty"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("One officer a line: name, then badge number, separated by a comma or a space."),
    )

    class Meta:
        model = EnforcementDisclosure
        fields = [
            "district",
            "matters",
            "legal_basis",
            "process",
            "appeal",
            "complaint_phone",
            "is_published",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["officers_text"] = "\n".join(
            f"{o.get('name', '')}, {o.get('badge', '')}" for o in (self.instance.officers or [])
        )

    def clean_officers_text(self) -> list[dict[str, str]]:
        officers = []
        for number, line in enumerate(self.cleaned_data["officers_text"].splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            parts = [p.strip() for p in line.replace("，", ",").replace(",", " ").split() if p.strip()]
            if len(parts) < 2:
                raise ValidationError(
                    _("Line %(line)d: give the officer's name and badge number.") % {"line": number}
                )
            officers.append({"name": " ".join(parts[:-1]), "badge": parts[-1]})
        return officers

    def save(self, commit: bool = True) -> Any:
        self.instance.officers = self.cleaned_data["officers_text"]
        self.instance.updated_at = clock.now()
        return super().save(commit=commit)


@admin.register(EnforcementDisclosure)
class EnforcementDisclosureAdmin(admin.ModelAdmin):
    form = DisclosureForm
    list_display = ["district", "complaint_phone", "is_published", "updated_at"]
    list_select_related = ["district"]
    list_filter = ["is_published"]

    def save_model(self, request: HttpRequest, obj: EnforcementDisclosure, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit(
            actor=request.user,  # type: ignore[arg-type]  # the admin is signed in
            action="disclosure.changed" if change else "disclosure.created",
            target=obj,
        )
