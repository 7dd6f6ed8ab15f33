"""Template helpers of the casework desk: sortable column headers and working-time durations."""

from datetime import timedelta
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

register = template.Library()

ORDERING_PARAM = "ordering"


@register.simple_tag(takes_context=True)
def sortable_th(context: dict[str, Any], key: str, label: str) -> str:
    """A column header that sorts the list by `key`; clicking again reverses the order.

    The current order is the `ordering` parameter, or the worklist's default.
    """
    request = context["request"]
    current = request.GET.get(ORDERING_PARAM) or context.get("default_ordering", "")
    if current == key:
        state, following, arrow = "ascending", f"-{key}", "▲"
    elif current == f"-{key}":
        state, following, arrow = "descending", key, "▼"
    else:
        state, following, arrow = "", key, ""
    query = request.GET.copy()
    query[ORDERING_PARAM] = following
    query.pop("page", None)
    return format_html(
        '<th scope="col"{}><a class="sort" href="?{}">{}'
        '<span class="sort__arrow" aria-hidden="true">{}</span></a></th>',
        format_html(' aria-sort="{}"', state) if state else "",
        query.urlencode(),
        label,
        arrow,
    )


@register.filter
def work_duration(value: timedelta | None, day_length: timedelta | None = None) -> str:
    """Working time as people say it: "2 working days 3 h", "3 h 20 min", "45 min"."""
    if value is None:
        return ""
    minutes = int(value.total_seconds() // 60)
    day_minutes = int(day_length.total_seconds() // 60) if day_length else 8 * 60
    days, rest = divmod(minutes, day_minutes) if day_minutes else (0, minutes)
    hours, minutes = divmod(rest, 60)
    if days:
        text = ngettext("%(days)d working day", "%(days)d working days", days) % {"days": days}
        return _("%(days)s %(hours)d h") % {"days": text, "hours": hours} if hours else text
    if hours and minutes:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    if hours:
        return _("%(hours)d h") % {"hours": hours}
    return _("%(minutes)d min") % {"minutes": minutes}
