"""Times and deadlines as the case lists show them, one tag each instead of an include per row."""

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag
def time_element(moment: Any) -> SafeString:
    """`<time>` of an aware moment in the current time zone: what
    `<time datetime="{{ moment|date:'c' }}">{{ moment|date:"Y-m-d H:i" }}</time>` writes."""
    if not isinstance(moment, datetime):
        # None, or a variable the template does not have; localtime(None) would be now.
        return mark_safe("")
    local = timezone.localtime(moment)
    return format_html('<time datetime="{}">{}</time>', local.isoformat(), local.strftime("%Y-%m-%d %H:%M"))


@register.simple_tag
def plain_deadline(case: Any) -> SafeString:
    """A case's deadline with an "Overdue" badge past it, or a dash when it has none.

    The lists' and inbox's short form; the desk's worklists and the case page
    also show the working time left (cases/desk/includes/deadline.html).
    """
    if not case.deadline:
        return mark_safe('<span class="muted">—</span>')
    if not case.is_overdue():
        return time_element(case.deadline)
    return format_html(
        '{} <span class="badge badge--overdue">{}</span>', time_element(case.deadline), _("Overdue")
    )
