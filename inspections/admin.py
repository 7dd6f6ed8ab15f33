"""门前三包 reference data in the admin: responsibility units, their agreements and the checklist.

Units and agreements are listed in the admin's scope (the gate, as every other
page); a new unit is registered through inspections.services, other saves are
audited in the admin's transaction. Nothing is deleted here: inspections and
notices refer to units and checklist items, and a signed agreement is a
record; what is no longer used is made inactive.
"""

from datetime import date
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Max, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models import Category
from chengguan import clock
from chengguan.admin import NoDeleteMixin
from chengguan.audit import audit
from chengguan.permissions import restrict, scope_for
from communities.models import Community, GridCell
from inspections.models import Agreement, ChecklistItem, ResponsibilityUnit
from inspections.services import responsibility_unit_create

NOT_PERMITTED = _("You are not allowed to do this.")


def _today() -> date:
    return timezone.localtime(clock.now()).date()


# --- responsibility units (门前三包责任单位) ----------------------------------------------

UNIT_FIELDS = (
    "name",
    "kind",
    "community",
    "grid_cell",
    "address",
    "lat",
    "lng",
    "contact_name",
    "contact_phone",
    "licence_number",
    "is_active",
)


class ResponsibilityUnitForm(forms.ModelForm):
    actor: Any = None

    class Meta:
        model = ResponsibilityUnit
        fields = UNIT_FIELDS

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        community = data.get("community")
        if community is not None:
            # The rule of inspections.services.responsibility_unit_create, for changes too.
            scope = scope_for(self.actor)
            if not (scope.city_wide or community.pk in scope.community_ids):
                self.add_error("community", NOT_PERMITTED)
            grid_cell = data.get("grid_cell")
            if grid_cell is not None and grid_cell.community_id != community.pk:
                self.add_error("grid_cell", _("Choose grid cells of this community."))
        if ("lat" in data and "lng" in data) and (data["lat"] is None) != (data["lng"] is None):
            self.add_error("lng", _("A location needs both latitude and longitude."))
        return data


class AgreementInline(admin.TabularInline):
    """A unit's agreements, to read; each is changed on its own page."""

    model = Agreement
    fields = ("number", "starts_on", "ends_on", "signed_on", "signed_by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ResponsibilityUnit)
class ResponsibilityUnitAdmin(NoDeleteMixin, admin.ModelAdmin):
    form = ResponsibilityUnitForm
    list_display = (
        "name",
        "kind",
        "community",
        "address",
        "contact_name",
        "agreement_until",
        "is_active",
    )
    list_filter = ("is_active", "kind", "community__street__district")
    list_select_related = ("community",)
    search_fields = ("name", "address", "licence_number", "contact_name", "community__name")
    autocomplete_fields = ("community", "grid_cell")
    fields = (*UNIT_FIELDS, "created_at")
    readonly_fields = ("created_at",)
    inlines = (AgreementInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ResponsibilityUnit]:
        queryset = restrict(super().get_queryset(request), request.user, "view")
        return queryset.annotate(agreement_ends_on=Max("agreements__ends_on"))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "community":
            kwargs["queryset"] = restrict(Community.objects.all(), request.user, "view")
        elif db_field.name == "grid_cell":
            kwargs["queryset"] = restrict(GridCell.objects.all(), request.user, "view")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user  # type: ignore[attr-defined]
        return form

    @admin.display(description=_("agreement valid until"), ordering="agreement_ends_on")
    def agreement_until(self, obj: ResponsibilityUnit) -> Any:
        return getattr(obj, "agreement_ends_on", None) or "—"

    def save_model(self, request: HttpRequest, obj: ResponsibilityUnit, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            audit(
                actor=request.user,  # type: ignore[arg-type]  # the admin is signed in
                action="unit.changed",
                target=obj,
                changed=sorted(form.changed_data),
            )
            return
        # The form ran the service's checks, so it accepts the unit (and audits it).
        saved = responsibility_unit_create(
            actor=request.user,
            community=obj.community,
            name=obj.name,
            address=obj.address,
            kind=obj.kind,
            grid_cell=obj.grid_cell,
            lat=obj.lat,
            lng=obj.lng,
            contact_name=obj.contact_name,
            contact_phone=obj.contact_phone,
            licence_number=obj.licence_number,
        )
        if not obj.is_active:
            saved.is_active = False
            saved.save(update_fields=["is_active"])
        obj.pk, obj.created_at = saved.pk, saved.created_at


# --- responsibility agreements (门前三包责任书) ------------------------------------------


class InForceFilter(admin.SimpleListFilter):
    title = _("validity")
    parameter_name = "validity"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("current", _("In force")), ("future", _("Not yet in force")), ("expired", _("Expired"))]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        today = _today()
        if self.value() == "current":
            return queryset.filter(starts_on__lte=today, ends_on__gte=today)
        if self.value() == "future":
            return queryset.filter(starts_on__gt=today)
        if self.value() == "expired":
            return queryset.filter(ends_on__lt=today)
        return queryset


class AgreementForm(forms.ModelForm):
    class Meta:
        model = Agreement
        fields = ("unit", "number", "starts_on", "ends_on", "signed_on", "signed_by", "duties")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        starts_on, ends_on, signed_on = data.get("starts_on"), data.get("ends_on"), data.get("signed_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", _("The agreement must end on or after the day it starts."))
        if signed_on and ends_on and signed_on > ends_on:
            self.add_error("signed_on", _("The agreement cannot be signed after it ends."))
        return data


@admin.register(Agreement)
class AgreementAdmin(NoDeleteMixin, admin.ModelAdmin):
    form = AgreementForm
    list_display = ("number", "unit", "community", "starts_on", "ends_on", "signed_on", "signed_by")
    list_filter = (InForceFilter, "unit__community__street__district")
    list_select_related = ("unit__community",)
    search_fields = ("number", "unit__name", "unit__address", "signed_by")
    autocomplete_fields = ("unit",)
    date_hierarchy = "ends_on"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Agreement]:
        # Agreements are seen where their units are (the gate's rule for units).
        units = restrict(ResponsibilityUnit.objects.all(), request.user, "view")
        return super().get_queryset(request).filter(unit__in=units.values("pk"))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "unit":
            kwargs["queryset"] = restrict(ResponsibilityUnit.objects.all(), request.user, "view")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("community"), ordering="unit__community__name")
    def community(self, obj: Agreement) -> Any:
        return obj.unit.community

    def save_model(self, request: HttpRequest, obj: Agreement, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit(
            actor=request.user,  # type: ignore[arg-type]  # the admin is signed in
            action="agreement.changed" if change else "agreement.created",
            target=obj,
            unit=obj.unit_id,
            starts_on=obj.starts_on.isoformat(),
            ends_on=obj.ends_on.isoformat(),
            changed=sorted(form.changed_data),
        )


# --- the inspection checklist --------------------------------------------------------


@admin.register(ChecklistItem)
class ChecklistItemAdmin(NoDeleteMixin, admin.ModelAdmin):
    """What inspections check; the working days to rectify set the notice's deadline."""

    list_display = ("code", "name", "group", "rectify_days", "category", "sort_order", "is_active")
    list_editable = ("sort_order", "is_active")
    list_filter = ("group", "is_active")
    list_select_related = ("category__parent",)
    search_fields = ("code", "name", "requirement")
    fields = ("code", "group", "name", "requirement", "rectify_days", "category", "sort_order", "is_active")
    ordering = ("sort_order", "code")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "category":
            # Cases are filed under a leaf category only.
            kwargs["queryset"] = Category.objects.filter(parent__isnull=False).select_related("parent")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: ChecklistItem, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit(
            actor=request.user,  # type: ignore[arg-type]  # the admin is signed in
            action="checklist_item.changed" if change else "checklist_item.created",
            target=obj,
            changed=sorted(form.changed_data),
        )
