"""Filters for the geography and the handling units (API lists).

The querysets filtered are the gate's, so filters only narrow what the user
may see; references to other objects are plain ids (an id outside the
user's scope simply matches nothing).
"""

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from chengguan.filters import IdFilter, OrderingFilter
from communities.choices import CommunityKind, UnitKind
from communities.models import Community, District, GridCell, HandlingUnit, Street

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
