"""Filters for the shop list (门前三包责任单位).

The queryset filtered is the gate's (restrict(..., "view")) and the
communities offered come from the same scope.
"""

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters.widgets import BooleanWidget

from chengguan.filters import IdFilter, MomentRangeFilter, OrderingFilter
from inspections.choices import NoticeStatus, UnitKind
from inspections.models import Inspection, RectificationNotice, ResponsibilityUnit
from liaisons.filtersets import CommunityFilter


class OpenNoticeWidget(BooleanWidget):
    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.choices = [("", _("Any")), ("true", _("Open notice")), ("false", _("No open notice"))]


class ShopFilterSet(django_filters.FilterSet):
    """Expects the queryset annotated with `open_notice_deadline` (inspections.views.shops_for)."""

    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_q",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Name, address, contact or licence number")}
        ),
    )
    community = CommunityFilter()
    has_open_notice = django_filters.BooleanFilter(
        label=_("Rectification notice"), method="filter_open_notice", widget=OpenNoticeWidget
    )

    class Meta:
        model = ResponsibilityUnit
        fields = ["q", "community", "has_open_notice"]

    def filter_q(
        self, queryset: QuerySet[ResponsibilityUnit], name: str, value: str
    ) -> QuerySet[ResponsibilityUnit]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(address__icontains=value)
            | Q(contact_name__icontains=value)
            | Q(licence_number__icontains=value)
        )

    def filter_open_notice(
        self, queryset: QuerySet[ResponsibilityUnit], name: str, value: bool | None
    ) -> QuerySet[ResponsibilityUnit]:
        if value is None:
            return queryset
        # Annotated by inspections.views.shops_for.
        return queryset.filter(open_notice_deadline__isnull=not value)  # type: ignore[misc]


# --- REST API lists (inspections.api) ---------------------------------------------
# Plain ids rather than choice lists: the queryset is the gate's, so an id
# outside the caller's scope simply matches nothing.


class ShopApiFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search name, address, contact or licence number"), method="filter_q"
    )
    community = IdFilter(label=_("Community id"), field_name="community_id")
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=UnitKind.choices)
    ordering = OrderingFilter(label=_("Sort by"), fields=(("name", "name"), ("created_at", "created_at")))

    class Meta:
        model = ResponsibilityUnit
        fields = ["q", "community", "kind", "is_active", "ordering"]

    filter_q = ShopFilterSet.filter_q


class InspectionApiFilterSet(django_filters.FilterSet):
    shop = IdFilter(label=_("Responsibility unit id"), field_name="unit_id")
    community = IdFilter(label=_("Community id"), field_name="unit__community_id")
    inspector = IdFilter(label=_("Inspector id"), field_name="inspector_id")
    inspected_at = MomentRangeFilter(label=_("Inspected between"))
    ordering = OrderingFilter(label=_("Sort by"), fields=(("inspected_at", "inspected_at"),))

    class Meta:
        model = Inspection
        fields = ["shop", "community", "inspector", "passed", "inspected_at", "ordering"]


class RectificationNoticeApiFilterSet(django_filters.FilterSet):
    shop = IdFilter(label=_("Responsibility unit id"), field_name="unit_id")
    community = IdFilter(label=_("Community id"), field_name="unit__community_id")
    status = django_filters.ChoiceFilter(label=_("Status"), choices=NoticeStatus.choices)
    deadline = MomentRangeFilter(label=_("Deadline between"))
    ordering = OrderingFilter(
        label=_("Sort by"), fields=(("issued_at", "issued_at"), ("deadline", "deadline"))
    )

    class Meta:
        model = RectificationNotice
        fields = ["shop", "community", "status", "deadline", "ordering"]
