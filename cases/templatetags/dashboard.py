"""Number formats of the dashboard pages, and the drill-down summary of the case list."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def percent(value: Any, digits: int = 1) -> str:
    """0.853 → 85.3%; None (nothing to divide by) → —."""
    if value is None or value == "":
        return "—"
    return f"{number_format(float(value) * 100, digits)}%"


@register.filter
def hours(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return _("%(hours)s h") % {"hours": number_format(float(value), 1)}


@register.filter
def score(value: Any) -> str:
    return "—" if value is None or value == "" else number_format(float(value), 2)


@register.filter
def figure(value: Any, kind: str) -> str:
    """A tile's value in its kind: count, rate, hours or score."""
    if kind == "rate":
        return percent(value)
    if kind == "hours":
        return hours(value)
    if kind == "score":
        return score(value)
    return "—" if value is None or value == "" else number_format(value, 0, force_grouping=True)


@register.filter
def change(value: Any, kind: str) -> str:
    """The change against the previous period: relative for counts, points for rates."""
    if value is None:
        return ""
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    size = abs(float(value))
    if kind == "count":
        return f"{sign}{number_format(size * 100, 0)}%"
    if kind == "rate":
        return _("%(sign)s%(points)s pts") % {"sign": sign, "points": number_format(size * 100, 1)}
    if kind == "hours":
        return _("%(sign)s%(hours)s h") % {"sign": sign, "hours": number_format(size, 1)}
    return f"{sign}{number_format(size, 2)}"


@register.filter
def select(field: Any) -> SafeString:
    """A bound choice field as a <select>, its options rendered in Python.

    Django renders every option through a template, which is slow for the
    long lists of the dashboard's scope filters (communities, liaisons).
    """
    value = field.value()
    current = "" if value is None else str(value)
    selected = mark_safe(" selected")
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((str(v), selected if str(v) == current else "", label) for v, label in field.field.choices),
    )
    return format_html('<select name="{}" id="{}">{}</select>', field.html_name, field.id_for_label, options)


@register.simple_tag
def drilldown_summary(filterset: Any) -> list[str]:
    """What the hidden drill-down filters of the case list narrow to, as "label: name" lines.

    Names come through the gate; an id the user cannot see shows as its label only.
    """
    from chengguan.permissions import restrict
    from communities.models import District, GridCell, HandlingUnit, Street

    form = getattr(filterset, "form", None)
    if form is None or not hasattr(form, "cleaned_data"):
        return []
    user = getattr(filterset, "request", None) and filterset.request.user
    models = {"district": District, "street": Street, "grid_cell": GridCell, "handling_unit": HandlingUnit}
    lines = []
    for field in form.hidden_fields():
        value = form.cleaned_data.get(field.name)
        if value in (None, ""):
            continue
        name = ""
        model = models.get(field.name)
        if model is not None:
            found = restrict(model._default_manager.filter(pk=value), user)
            name = found.values_list("name", flat=True).first() or ""
        elif field.name == "assignee":
            from chengguan.models import User
            from liaisons.models import LiaisonAssignment

            posted = restrict(LiaisonAssignment.objects.filter(liaison_id=value), user)
            person = User.objects.filter(pk=value, pk__in=posted.values("liaison_id")).first()
            name = person.display_name if person else ""
        elif field.name == "false_report":
            name = _("yes") if value else _("left out")
        lines.append(f"{field.label}: {name}" if name else str(field.label))
    return lines
