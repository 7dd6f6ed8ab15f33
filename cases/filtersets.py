"""Filters for case lists: one FilterSet for the HTML list, the API and exports.

The queryset it filters is always the gate's (cases.selectors.cases_for), so
the filters only ever narrow what the user may see. Choices that name other
objects (communities) come from the same gate, so a user is never offered
an area outside their scope.
"""

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters.widgets import BooleanWidget, SuffixedMultiWidget

from cases.choices import OPEN_STATUSES, CaseSource, CaseStatus, Urgency
from cases.models import Case, Category
from chengguan import clock
from chengguan.permissions import restrict
from communities.models import Community


class DateInput(forms.DateInput):
    """A native date picker; the value is ISO (YYYY-MM-DD) in every language."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class DateRangeInput(SuffixedMultiWidget):
    """`<name>_after` and `<name>_before` as two date pickers."""

    suffixes = ["after", "before"]

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__((DateInput, DateInput), attrs)


class OverdueWidget(BooleanWidget):
    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.choices = [("", _("Any")), ("true", _("Overdue")), ("false", _("Not overdue"))]


def categories(request: Any) -> QuerySet[Category]:
    # Ordered by code, parents come right before their subcategories.
    return Category.objects.filter(is_active=True).select_related("parent").order_by("code")


def communities(request: Any) -> QuerySet[Community]:
    user = getattr(request, "user", None)
    return restrict(Community.objects.filter(is_active=True), user).order_by("code")


class CaseFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_q",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Case number, tracking code or description")}
        ),
    )
    status = django_filters.MultipleChoiceFilter(
        label=_("Status"), choices=CaseStatus.choices, widget=forms.CheckboxSelectMultiple
    )
    source = django_filters.ChoiceFilter(label=_("Source"), choices=CaseSource.choices, empty_label=_("Any"))
    category = django_filters.ModelChoiceFilter(
        label=_("Category"), queryset=categories, method="filter_category", empty_label=_("Any")
    )
    community = django_filters.ModelChoiceFilter(
        label=_("Community"), queryset=communities, empty_label=_("Any")
    )
    urgency = django_filters.ChoiceFilter(label=_("Urgency"), choices=Urgency.choices, empty_label=_("Any"))
    reported_at = django_filters.DateFromToRangeFilter(label=_("Reported between"), widget=DateRangeInput)
    overdue = django_filters.BooleanFilter(label=_("Deadline"), method="filter_overdue", widget=OverdueWidget)

    class Meta:
        model = Case
        fields = ["q", "status", "source", "category", "community", "urgency", "reported_at", "overdue"]

    def filter_q(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__icontains=value)
            | Q(tracking_code__icontains=value)
            | Q(title__icontains=value)
            | Q(description__icontains=value)
        )

    def filter_category(self, queryset: QuerySet[Case], name: str, value: Category) -> QuerySet[Case]:
        # A top-level category stands for all of its subcategories.
        if value.parent_id is None:
            return queryset.filter(Q(category=value) | Q(category__parent=value))
        return queryset.filter(category=value)

    def filter_overdue(self, queryset: QuerySet[Case], name: str, value: bool | None) -> QuerySet[Case]:
        if value is None:
            return queryset
        overdue = Q(status__in=OPEN_STATUSES, deadline__lt=clock.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
