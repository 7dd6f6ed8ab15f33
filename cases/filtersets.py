"""Filters for case lists: one FilterSet for the HTML list, the API and exports.

The queryset it filters is always the gate's (cases.selectors.cases_for), so
the filters only ever narrow what the user may see. Choices that name other
objects (communities) come from the same gate, so a user is never offered
an area outside their scope.
"""

from datetime import timedelta
from typing import Any

import django_filters
from django import forms
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, QuerySet, Value
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.widgets import BooleanWidget, SuffixedMultiWidget

from cases.choices import (
    OPEN_STATUSES,
    AttachmentKind,
    CaseAction,
    CaseSource,
    CaseStatus,
    CategoryKind,
    ParkingRequestStatus,
    PushKind,
    PushStatus,
    Satisfaction,
    Urgency,
    VisitStatus,
)
from cases.models import (
    Case,
    CaseAttachment,
    CaseEvent,
    Category,
    HotlinePush,
    Open311Client,
    ParkingRequest,
    ReturnVisit,
)
from cases.services import PHONE_RE, normalise_phone
from chengguan import clock
from chengguan.filters import IdFilter, LazyOrderingLabels, MomentRangeFilter, OrderingFilter
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
    # Only what the select shows: the boundaries are large.
    return (
        restrict(Community.objects.filter(is_active=True), user).only("pk", "code", "name").order_by("code")
    )


# Fewer digits than this are part of a case number, not a phone number.
PHONE_SEARCH_MIN_DIGITS = 4


def case_search_q(value: str, *, phone: bool) -> Q:
    """The cases a search box value finds: by number, tracking code, text or place, and by phone.

    Every text lookup is `icontains`, which Django writes on PostgreSQL as
    `UPPER(col::text) LIKE UPPER('%value%')`: the trigram indexes of
    migration 0016 are built on exactly those expressions, so a search at a
    million cases reads the index, not the table. The phone number (only for
    users who may see it, cases.view_reporter_contact) matches the stored,
    normalised number in full (its btree index) or, with fewer digits, its
    last digits (手机尾号, trigram index).
    """
    found = (
        Q(number__icontains=value)
        | Q(tracking_code__icontains=value)
        | Q(title__icontains=value)
        | Q(description__icontains=value)
        | Q(address__icontains=value)
    )
    digits = normalise_phone(value)
    if phone and PHONE_RE.match(digits):
        found |= Q(reporter_phone=digits)
    elif phone and digits.isdigit() and len(digits) >= PHONE_SEARCH_MIN_DIGITS:
        found |= Q(reporter_phone__endswith=digits)
    return found


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
        user = getattr(self.request, "user", None)
        contact = bool(user is not None and user.has_perm("cases.view_reporter_contact"))
        # The planner cannot tell how many cases a LIKE finds through a trigram
        # index (its statistics are of trigrams): given the list's order, it
        # may walk the reported_at index through a million cases looking for
        # the first 25 matches of a case number that matches once. Sorting on
        # an expression no index provides makes it collect the matches from
        # the search indexes and sort those (at most a few hundred milliseconds
        # when a search matches a hundred thousand cases, the price of
        # counting them anyway). An `ordering` filter still sorts after this.
        newest_first = ExpressionWrapper(
            F("reported_at") + Value(timedelta(0)), output_field=DateTimeField()
        ).desc()
        return queryset.filter(case_search_q(value, phone=contact)).order_by(newest_first, "-pk")

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


class IntakeFilterSet(CaseFilterSet):
    """The operator's inbox of reports waiting to be accepted (status `reported`).

    Status is fixed by the inbox, so it is not offered; the search also finds
    a report by the caller's phone number or its address, which is how
    callers ring back about what they reported.
    """

    status = None  # type: ignore[assignment]
    community = django_filters.ModelChoiceFilter(
        label=_("Community"),
        queryset=lambda request: communities(request).defer("boundary"),
        empty_label=_("Any"),
    )
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_q",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Case number, caller phone, address or description")}
        ),
    )

    class Meta(CaseFilterSet.Meta):
        fields = ["q", "source", "category", "community", "urgency", "reported_at", "overdue"]

    def filter_q(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__icontains=value)
            | Q(tracking_code__icontains=value)
            | Q(reporter_phone__icontains=value)
            | Q(address__icontains=value)
            | Q(title__icontains=value)
            | Q(description__icontains=value)
        )


# --- casework desk worklists (cases.worklists) --------------------------------


class StableOrderingFilter(django_filters.OrderingFilter):
    """A whitelisted `ordering` parameter.

    Empty values sort last in both directions (on SQLite and PostgreSQL
    alike) and the primary key breaks ties, so consecutive pages never
    overlap.
    """

    def filter(self, qs: QuerySet[Case], value: list[str] | None) -> QuerySet[Case]:
        from django.db.models import F

        params = [param for param in value or [] if param]
        if not params:
            return qs
        ordering = []
        for param in params:
            name = self.get_ordering_value(param)
            field = F(name.lstrip("-"))
            ordering.append(
                field.desc(nulls_last=True) if name.startswith("-") else field.asc(nulls_last=True)
            )
        return qs.order_by(*ordering, "-pk" if params[0].startswith("-") else "pk")


WORKLIST_ORDERING_FIELDS = (
    ("deadline", "deadline"),
    ("reported_at", "reported"),
    ("number", "number"),
    ("updated_at", "updated"),
)


class ReturnedWidget(BooleanWidget):
    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.choices = [("", _("Any")), ("true", _("Returned")), ("false", _("Not returned"))]


class ReworkedWidget(BooleanWidget):
    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.choices = [("", _("Any")), ("true", _("Reworked")), ("false", _("Not reworked"))]


class WorklistFilterSet(CaseFilterSet):
    """The case filters plus a whitelisted sort order, for the desk's worklists."""

    # Set by the table's column headers (cases.templatetags.desk.sortable_th)
    # or, on phones where the table is cards, by this field among the filters.
    ordering = StableOrderingFilter(
        label=_("Sort by"),
        fields=WORKLIST_ORDERING_FIELDS,
        field_labels={
            "deadline": _("Deadline"),
            "reported_at": _("Reported on"),
            "number": _("Case number"),
            "updated_at": _("Last change"),
        },
        empty_label=_("Default"),
    )

    class Meta(CaseFilterSet.Meta):
        fields = [*CaseFilterSet.Meta.fields, "ordering"]


class SingleStatusWorklistFilterSet(WorklistFilterSet):
    """For a worklist of one status, where filtering by status means nothing."""

    status = None  # type: ignore[assignment]
    community = django_filters.ModelChoiceFilter(
        label=_("Community"),
        queryset=lambda request: communities(request).defer("boundary"),
        empty_label=_("Any"),
    )

    class Meta(WorklistFilterSet.Meta):
        fields = [name for name in WorklistFilterSet.Meta.fields if name != "status"]


class DispatchQueueFilterSet(SingleStatusWorklistFilterSet):
    """Registered cases waiting for dispatch; `returned` narrows to the ones handed back.

    The queryset must carry the `last_action` annotation (cases.worklists).
    """

    returned = django_filters.BooleanFilter(
        label=_("Returned by the handler"), method="filter_returned", widget=ReturnedWidget
    )

    class Meta(SingleStatusWorklistFilterSet.Meta):
        fields = [*SingleStatusWorklistFilterSet.Meta.fields, "returned"]

    def filter_returned(self, queryset: QuerySet[Case], name: str, value: bool | None) -> QuerySet[Case]:
        if value is None:
            return queryset
        returned = Q(last_action="return")
        return queryset.filter(returned) if value else queryset.exclude(returned)


class HandlerQueueFilterSet(WorklistFilterSet):
    """The handler's cases: the status filter offers only the handling statuses."""

    status = django_filters.MultipleChoiceFilter(
        label=_("Status"),
        choices=[(s.value, s.label) for s in (CaseStatus.DISPATCHED, CaseStatus.IN_PROGRESS)],
        widget=forms.CheckboxSelectMultiple,
    )
    reworked = django_filters.BooleanFilter(
        label=_("Sent back for rework"), method="filter_reworked", widget=ReworkedWidget
    )

    class Meta(WorklistFilterSet.Meta):
        fields = [*WorklistFilterSet.Meta.fields, "reworked"]

    def filter_reworked(self, queryset: QuerySet[Case], name: str, value: bool | None) -> QuerySet[Case]:
        if value is None:
            return queryset
        return queryset.filter(rework_count__gt=0) if value else queryset.filter(rework_count=0)


# --- REST API lists (cases.api) ---------------------------------------------------


class StableApiOrderingFilter(LazyOrderingLabels, StableOrderingFilter):
    """The desk's stable sort order, with labels translated when shown (the OpenAPI schema)."""


class CaseApiFilterSet(CaseFilterSet):
    """The staff list's case filters plus the handler and a whitelisted sort order, for the API."""

    handling_unit = IdFilter(label=_("Handling unit id"), field_name="handling_unit_id")
    assignee = IdFilter(label=_("Assigned officer id"), field_name="assignee_id")
    ordering = StableApiOrderingFilter(label=_("Sort by"), fields=WORKLIST_ORDERING_FIELDS)

    class Meta(CaseFilterSet.Meta):
        fields = [*CaseFilterSet.Meta.fields, "handling_unit", "assignee", "ordering"]


class CaseEventFilterSet(django_filters.FilterSet):
    case = django_filters.CharFilter(label=_("Case number"), field_name="case__number")
    action = django_filters.MultipleChoiceFilter(label=_("Action"), choices=CaseAction.choices)
    created_at = MomentRangeFilter(label=_("Between"))
    ordering = OrderingFilter(label=_("Sort by"), fields=(("created_at", "created_at"),))

    class Meta:
        model = CaseEvent
        fields = ["case", "action", "is_public", "created_at", "ordering"]


class CaseAttachmentFilterSet(django_filters.FilterSet):
    case = django_filters.CharFilter(label=_("Case number"), field_name="case__number")
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=AttachmentKind.choices)
    ordering = OrderingFilter(label=_("Sort by"), fields=(("created_at", "created_at"),))

    class Meta:
        model = CaseAttachment
        fields = ["case", "kind", "ordering"]


class CategoryFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search by code or name"), method="filter_q")
    parent = IdFilter(label=_("Parent category id"), field_name="parent_id")
    top_level = django_filters.BooleanFilter(
        label=_("Only top-level categories"), field_name="parent", lookup_expr="isnull"
    )
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=CategoryKind.choices)
    ordering = OrderingFilter(
        label=_("Sort by"), fields=(("sort_order", "sort_order"), ("code", "code"), ("name", "name"))
    )

    class Meta:
        model = Category
        fields = ["q", "parent", "top_level", "kind", "is_active", "ordering"]

    def filter_q(self, queryset: QuerySet[Category], name: str, value: str) -> QuerySet[Category]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(code__icontains=value) | Q(name__icontains=value) | Q(name_en__icontains=value)
        )


class ReturnVisitFilterSet(django_filters.FilterSet):
    case = django_filters.CharFilter(label=_("Case number"), field_name="case__number")
    status = django_filters.ChoiceFilter(label=_("Status"), choices=VisitStatus.choices)
    liaison = IdFilter(label=_("Liaison id"), field_name="liaison_id")
    satisfaction = django_filters.ChoiceFilter(label=_("Satisfaction"), choices=Satisfaction.choices)
    due_at = MomentRangeFilter(label=_("Due between"))
    ordering = OrderingFilter(label=_("Sort by"), fields=(("due_at", "due_at"), ("visited_at", "visited_at")))

    class Meta:
        model = ReturnVisit
        fields = ["case", "status", "liaison", "satisfaction", "due_at", "ordering"]


class ParkingRequestFilterSet(django_filters.FilterSet):
    """Parking requests (挂账申请), e.g. those waiting for a supervisor: `?status=pending`."""

    case = django_filters.CharFilter(label=_("Case number"), field_name="case__number")
    status = django_filters.ChoiceFilter(label=_("Status"), choices=ParkingRequestStatus.choices)
    requested_by = IdFilter(label=_("Requested by (user id)"), field_name="requested_by_id")
    created_at = MomentRangeFilter(label=_("Requested between"))
    ordering = OrderingFilter(
        label=_("Sort by"), fields=(("created_at", "created_at"), ("decided_at", "decided_at"))
    )

    class Meta:
        model = ParkingRequest
        fields = ["case", "status", "requested_by", "created_at", "ordering"]


# --- drill-down from the dashboard (cases.dashboard) ---------------------------
#
# Added to CaseFilterSet itself, after its subclasses were made: the case list
# (and whatever else uses CaseFilterSet) accepts them, the desk's worklists do
# not. The geographic and handler filters are plain ids behind the gate's
# queryset (an id outside the user's scope just finds nothing) and hidden in
# the form; `indicator` with `period_start`/`period_end` is the filter of one
# dashboard figure (cases.indicators), so a tile and its list count alike.


class IndicatorFilter(django_filters.ChoiceFilter):
    """The cases one figure of DESIGN §6 counts, for the days period_start..period_end.

    Without dates the period is today; with one date, that day.
    """

    def filter(self, qs: QuerySet[Case], value: str) -> QuerySet[Case]:
        from cases.indicators import Period, cases_matching

        if not value:
            return qs
        data = self.parent.form.cleaned_data
        first = data.get("period_start") or data.get("period_end") or timezone.localdate(clock.now())
        last = data.get("period_end") or first
        return cases_matching(qs, value, Period.days(min(first, last), max(first, last)))


def _period_bound(queryset: QuerySet[Case], name: str, value: Any) -> QuerySet[Case]:
    return queryset  # read by IndicatorFilter


def _drill_down_filters() -> dict[str, django_filters.Filter]:
    from cases.indicators import INDICATOR_LABELS

    def hidden_id(field_name: str, label: Any) -> IdFilter:
        return IdFilter(field_name=field_name, label=label, widget=forms.HiddenInput)

    return {
        "indicator": IndicatorFilter(
            label=_("Dashboard figure"), choices=list(INDICATOR_LABELS.items()), empty_label=_("Any")
        ),
        "period_start": django_filters.DateFilter(
            label=_("Figure period from"), method=_period_bound, widget=DateInput
        ),
        "period_end": django_filters.DateFilter(
            label=_("Figure period until"), method=_period_bound, widget=DateInput
        ),
        "district": hidden_id("district_id", _("District")),
        "street": hidden_id("community__street_id", _("Street office")),
        "grid_cell": hidden_id("grid_cell_id", _("Grid cell")),
        "handling_unit": hidden_id("handling_unit_id", _("Handling unit")),
        "assignee": hidden_id("assignee_id", _("Assigned officer")),
        "false_report": django_filters.BooleanFilter(
            field_name="false_report", label=_("False or malicious report"), widget=forms.HiddenInput
        ),
    }


CaseFilterSet.base_filters.update(_drill_down_filters())


class HotlinePushFilterSet(django_filters.FilterSet):
    """The operators' list of pushes to the 12345 platform (cases.hotline)."""

    q = django_filters.CharFilter(field_name="case__number", lookup_expr="icontains", label=_("Case number"))
    status = django_filters.MultipleChoiceFilter(
        label=_("Delivery"), choices=PushStatus.choices, widget=forms.CheckboxSelectMultiple
    )
    client = django_filters.ModelChoiceFilter(
        label=_("Platform"),
        queryset=Open311Client.objects.exclude(push_kind=PushKind.NONE).only("pk", "name"),
        empty_label=_("Any"),
    )
    created = django_filters.DateFromToRangeFilter(
        field_name="created_at", label=_("Changed on"), widget=DateRangeInput
    )

    class Meta:
        model = HotlinePush
        fields = ["q", "status", "client", "created"]
