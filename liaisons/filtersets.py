"""Filters for the patrol and meeting lists.

The querysets they filter come from the gate, so filters only ever narrow
what the user may see; the communities and liaisons they offer come from
the same scope.
"""

from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters import fields as filter_fields
from django_filters.widgets import SuffixedMultiWidget

from chengguan.filters import IdFilter, MomentRangeFilter, OrderingFilter
from communities.models import Community
from liaisons.choices import AssignmentRole
from liaisons.home import communities_overseen
from liaisons.models import CoverPeriod, LiaisonAssignment, Meeting, PatrolLog

User = get_user_model()


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


class NamedChoiceField(filter_fields.ModelChoiceField):
    """Options labelled by the object's `display_name` or `name`, not its str()."""

    def label_from_instance(self, obj: Any) -> str:
        return str(getattr(obj, "display_name", None) or obj.name)


class CommunityFilter(django_filters.ModelChoiceFilter):
    field_class = NamedChoiceField

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Community"))
        kwargs.setdefault("empty_label", _("Any"))
        super().__init__(queryset=communities, **kwargs)


def communities(request: Any) -> QuerySet[Community]:
    return communities_overseen(getattr(request, "user", None))


def liaisons(request: Any) -> QuerySet[Any]:
    """Everyone ever posted to a community the user may look at."""
    return (
        User.objects.filter(assignments__community__in=communities(request))
        .distinct()
        .order_by("name", "username")
    )


class LiaisonFilter(django_filters.ModelChoiceFilter):
    field_class = NamedChoiceField


class PatrolFilterSet(django_filters.FilterSet):
    community = CommunityFilter()
    liaison = LiaisonFilter(label=_("Liaison"), queryset=liaisons, empty_label=_("Anyone"))
    date = django_filters.DateFromToRangeFilter(
        label=_("Patrolled between"), field_name="started_at__date", widget=DateRangeInput
    )

    class Meta:
        model = PatrolLog
        fields = ["community", "liaison", "date"]


class MeetingFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_q",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Title, attendees or issues")}),
    )
    community = CommunityFilter()
    date = django_filters.DateFromToRangeFilter(
        label=_("Held between"), field_name="held_at__date", widget=DateRangeInput
    )

    class Meta:
        model = Meeting
        fields = ["q", "community", "date"]

    def filter_q(self, queryset: QuerySet[Meeting], name: str, value: str) -> QuerySet[Meeting]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value)
            | Q(attendees__icontains=value)
            | Q(issues__icontains=value)
            | Q(resolutions__icontains=value)
        )


# --- REST API lists (liaisons.api) ------------------------------------------------
# Plain ids rather than choice lists: the queryset is the gate's, so an id
# outside the caller's scope simply matches nothing.


class LiaisonAssignmentApiFilterSet(django_filters.FilterSet):
    community = IdFilter(label=_("Community id"), field_name="community_id")
    liaison = IdFilter(label=_("Liaison id"), field_name="liaison_id")
    role = django_filters.ChoiceFilter(label=_("Role"), choices=AssignmentRole.choices)
    ordering = OrderingFilter(
        label=_("Sort by"), fields=(("starts_at", "starts_at"), ("community__code", "community"))
    )

    class Meta:
        model = LiaisonAssignment
        fields = ["community", "liaison", "role", "ordering"]


class PatrolApiFilterSet(django_filters.FilterSet):
    community = IdFilter(label=_("Community id"), field_name="community_id")
    liaison = IdFilter(label=_("Liaison id"), field_name="liaison_id")
    started_at = MomentRangeFilter(label=_("Started between"))
    ordering = OrderingFilter(label=_("Sort by"), fields=(("started_at", "started_at"),))

    class Meta:
        model = PatrolLog
        fields = ["community", "liaison", "started_at", "ordering"]


class MeetingApiFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search title, attendees or issues"), method="filter_q")
    community = IdFilter(label=_("Community id"), field_name="community_id")
    held_at = MomentRangeFilter(label=_("Held between"))
    ordering = OrderingFilter(label=_("Sort by"), fields=(("held_at", "held_at"),))

    class Meta:
        model = Meeting
        fields = ["q", "community", "held_at", "ordering"]

    filter_q = MeetingFilterSet.filter_q


class CoverPeriodApiFilterSet(django_filters.FilterSet):
    """Cover periods (AB角): by community, covering liaison, state at this moment and dates."""

    community = IdFilter(label=_("Community id"), field_name="community_id")
    backup = IdFilter(label=_("Covering liaison's id"), field_name="backup_id")
    state = django_filters.ChoiceFilter(
        label=_("State now"),
        method="filter_state",
        choices=[
            ("planned", _("Planned")),
            ("running", _("Running")),
            ("over", _("Over")),
            ("cancelled", _("Cancelled")),
        ],
    )
    starts_at = MomentRangeFilter(label=_("Starts between"))
    ordering = OrderingFilter(label=_("Sort by"), fields=(("starts_at", "starts_at"), ("ends_at", "ends_at")))

    class Meta:
        model = CoverPeriod
        fields = ["community", "backup", "state", "starts_at", "ordering"]

    def filter_state(self, queryset: QuerySet[CoverPeriod], name: str, value: str) -> QuerySet[CoverPeriod]:
        from chengguan import clock

        now = clock.now()
        if value == "cancelled":
            return queryset.filter(cancelled_at__isnull=False)
        live = queryset.filter(cancelled_at__isnull=True)
        if value == "planned":
            return live.filter(starts_at__gt=now)
        if value == "running":
            return live.filter(starts_at__lte=now, ends_at__gt=now)
        if value == "over":
            return live.filter(ends_at__lte=now)
        return queryset
