"""Filters for the geography, the handling units and the facilities (API lists and the facility page).

The querysets filtered are the gate's, so filters only narrow what the user
may see; references to other objects are plain ids (an id outside the
user's scope simply matches nothing).
"""

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters import fields as filter_fields

from chengguan.filters import IdFilter, OrderingFilter
from communities.choices import CommunityKind, FacilityKind, UnitKind
from communities.models import Community, District, Facility, GridCell, HandlingUnit, Street

CODE_AND_NAME = (("code", "code"), ("name", "name"))


class CodeNameFilterSet(django_filters.FilterSet):
    """`q` searches code and name; `ordering` sorts by code or name."""

    q = django_filters.CharFilter(label=_("Search by code or name"), method="filter_q")
    ordering = OrderingFilter(label=_("Sort by"), fields=CODE_AND_NAME)

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value))


class DistrictFilterSet(CodeNameFilterSet):
    class Meta:
        model = District
        fields = ["q", "is_active", "ordering"]


class StreetFilterSet(CodeNameFilterSet):
    district = IdFilter(label=_("District id"), field_name="district_id")

    class Meta:
        model = Street
        fields = ["q", "district", "is_active", "ordering"]


class CommunityFilterSet(CodeNameFilterSet):
    street = IdFilter(label=_("Street office id"), field_name="street_id")
    district = IdFilter(label=_("District id"), field_name="street__district_id")
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=CommunityKind.choices)

    class Meta:
        model = Community
        fields = ["q", "street", "district", "kind", "is_active", "ordering"]


class GridCellFilterSet(CodeNameFilterSet):
    community = IdFilter(label=_("Community id"), field_name="community_id")

    class Meta:
        model = GridCell
        fields = ["q", "community", "is_active", "ordering"]


class HandlingUnitFilterSet(CodeNameFilterSet):
    district = IdFilter(label=_("District id"), field_name="district_id")
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=UnitKind.choices)

    class Meta:
        model = HandlingUnit
        fields = ["q", "district", "kind", "is_active", "ordering"]


class FacilityApiFilterSet(CodeNameFilterSet):
    community = IdFilter(label=_("Community id"), field_name="community_id")
    district = IdFilter(label=_("District id"), field_name="community__street__district_id")
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=FacilityKind.choices)
    is_repeat_fault = django_filters.BooleanFilter(label=_("Repeat fault"), field_name="is_repeat_fault")

    class Meta:
        model = Facility
        fields = ["q", "community", "district", "kind", "is_active", "is_repeat_fault", "ordering"]


# --- the staff facility page -------------------------------------------------------------


def facility_communities(request: Any) -> QuerySet[Community]:
    """The communities offered by the facility page's filter: those the user may see."""
    return (
        Community.objects.restrict(getattr(request, "user", None), "view")
        .filter(is_active=True)
        .only("pk", "code", "name")
        .order_by("code")
    )


class CommunityChoiceField(filter_fields.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.code})"


class CommunityChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = CommunityChoiceField


class YesNoSelect(forms.Select):
    """Any / yes / no with translated labels, sent as `true`/`false` like the API's booleans."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, choices=[("", _("Any")), ("true", _("Yes")), ("false", _("No"))])

    def format_value(self, value: Any) -> Any:  # a list, as ChoiceWidget.format_value
        value = {True: "true", False: "false"}.get(value, value)
        return [str(value)] if value not in (None, "") else [""]

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        return {"true": True, "false": False, "True": True, "False": False}.get(data.get(name))


class FacilityFilterSet(django_filters.FilterSet):
    """The staff facility list: search, community, kind, active, repeat faults."""

    q = django_filters.CharFilter(
        label=_("Search by code or name"),
        method="filter_q",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Code or name")}),
    )
    community = CommunityChoiceFilter(
        label=_("Community"), queryset=facility_communities, empty_label=_("Any")
    )
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=FacilityKind.choices, empty_label=_("Any"))
    is_active = django_filters.BooleanFilter(label=_("Active"), widget=YesNoSelect)
    is_repeat_fault = django_filters.BooleanFilter(label=_("Repeat fault"), widget=YesNoSelect)

    class Meta:
        model = Facility
        fields = ["q", "community", "kind", "is_active", "is_repeat_fault"]

    filter_q = CodeNameFilterSet.filter_q
