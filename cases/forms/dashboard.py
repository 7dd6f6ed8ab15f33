"""Forms of the dashboard pages: the period and scope picker, the assessment month, the two-way rating."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from cases.assessment import communities_to_rate, rating_months
from cases.dashboard import (
    MAX_CUSTOM_DAYS,
    DashboardFilters,
    DashboardPeriod,
    FilterChoices,
    dashboard_period,
    previous_month,
)
from cases.filtersets import DateInput
from cases.models import TwoWayRating
from chengguan import clock
from communities.models import Community

PERIOD_CHOICES = [
    ("today", _("Today")),
    ("week", _("This week")),
    ("month", _("This month")),
    ("custom", _("Custom")),
]


def _any(choices: list[tuple[Any, str]]) -> list[tuple[Any, Any]]:
    return [("", _("All")), *choices]


class DashboardForm(forms.Form):
    """GET parameters of the dashboard; invalid values are dropped, never an error page."""

    period = forms.ChoiceField(
        label=_("Period"), choices=PERIOD_CHOICES, required=False, widget=forms.RadioSelect
    )
    start = forms.DateField(label=_("From"), required=False, widget=DateInput)
    end = forms.DateField(label=_("Until"), required=False, widget=DateInput)
    district = forms.TypedChoiceField(label=_("District"), coerce=int, empty_value=None, required=False)
    street = forms.TypedChoiceField(label=_("Street office"), coerce=int, empty_value=None, required=False)
    community = forms.TypedChoiceField(label=_("Community"), coerce=int, empty_value=None, required=False)
    category = forms.TypedChoiceField(label=_("Category"), coerce=int, empty_value=None, required=False)
    source = forms.ChoiceField(label=_("Source"), required=False)
    unit = forms.TypedChoiceField(label=_("Handling unit"), coerce=int, empty_value=None, required=False)
    liaison = forms.TypedChoiceField(label=_("Liaison"), coerce=int, empty_value=None, required=False)

    SCOPE_FIELDS = ("district", "street", "community", "category", "source", "unit", "liaison")

    def __init__(self, data: Any, *, choices: FilterChoices) -> None:
        super().__init__(data)
        named: list[tuple[str, list[tuple[Any, str]]]] = [
            ("district", choices.districts),
            ("street", choices.streets),
            ("community", choices.communities),
            ("category", choices.categories),
            ("source", choices.sources),
            ("unit", choices.units),
            ("liaison", choices.liaisons),
        ]
        for name, options in named:
            self.fields[name].choices = _any(options)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("period") == "custom":
            start, end = data.get("start"), data.get("end")
            if not (start and end):
                self.add_error("start", _("Choose the first and the last day."))
            elif abs((end - start).days) + 1 > MAX_CUSTOM_DAYS:
                self.add_error("end", _("Choose at most %(days)s days.") % {"days": MAX_CUSTOM_DAYS})
        return data

    def _value(self, name: str) -> Any:
        self.is_valid()
        return self.cleaned_data.get(name)

    def filters(self) -> DashboardFilters:
        values = {name: self._value(name) for name in self.SCOPE_FIELDS}
        values["source"] = values["source"] or ""
        return DashboardFilters(**values)

    def period_choice(self) -> DashboardPeriod:
        kind = self._value("period") or "month"
        if kind == "custom" and ("start" in self.errors or "end" in self.errors):
            kind = "month"
        return dashboard_period(kind, self._value("start"), self._value("end"))

    @property
    def is_scoped(self) -> bool:
        return any(self._value(name) for name in self.SCOPE_FIELDS)


def _month_label(month: date) -> str:
    return date_format(month, "YEAR_MONTH_FORMAT")


class MonthInput(forms.DateInput):
    input_type = "month"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m")


class AssessmentMonthForm(forms.Form):
    month = forms.DateField(label=_("Month"), input_formats=["%Y-%m"], required=False, widget=MonthInput)

    def chosen(self) -> date:
        """The month asked for, or the month just ended."""
        if self.is_valid() and self.cleaned_data.get("month"):
            return self.cleaned_data["month"].replace(day=1)
        return previous_month(timezone.localdate(clock.now()).replace(day=1))


SCORE_CHOICES = [
    (5, _("5 – excellent")),
    (4, _("4 – good")),
    (3, _("3 – fair")),
    (2, _("2 – poor")),
    (1, _("1 – very poor")),
]


class TwoWayRatingForm(forms.Form):
    """One rating in one direction; the communities offered are the ones the user may rate."""

    month = forms.TypedChoiceField(label=_("Month"), coerce=date.fromisoformat)
    community = forms.ModelChoiceField(
        label=_("Community"), queryset=Community.objects.none(), empty_label=None
    )
    score = forms.TypedChoiceField(
        label=_("Score"), choices=SCORE_CHOICES, coerce=int, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, user: Any, direction: str, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", direction)
        super().__init__(*args, **kwargs)
        self.direction = direction
        self.direction_label = TwoWayRating.Direction(direction).label
        self.fields["community"].queryset = (  # type: ignore[attr-defined]
            communities_to_rate(user, direction).only("pk", "code", "name").order_by("code")
        )
        self.fields["month"].choices = [  # type: ignore[attr-defined]
            (month.isoformat(), _month_label(month)) for month in rating_months()
        ]
