"""What the intake inbox renders per item, in Python (issue #9).

An item's "Correct first" panel has a community <select>; 25 items × the
operator's communities as a template loop was most of the inbox's time
(about 0.9 s of 1.2 s at 80 communities). The options are rendered once per
list and only the selected one differs per item. An item's times are one
tag each rather than two `date` filters (cases.templatetags.deadlines).
"""

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# The list last rendered and its options: one page renders the same list for
# every item. Holding the list keeps its id from being reused.
_last: tuple[Any, dict[int, tuple[str, str]]] | None = None


def _options(communities: Any) -> dict[int, tuple[str, str]]:
    global _last
    last = _last
    if last is not None and last[0] is communities:
        return last[1]
    rendered = {}
    for community in communities:
        label = (community.pk, community.name, community.street.name)
        rendered[community.pk] = (
            str(format_html('<option value="{}">{}（{}）</option>', *label)),
            str(format_html('<option value="{}" selected>{}（{}）</option>', *label)),
        )
    _last = (communities, rendered)
    return rendered


@register.simple_tag
def community_options(communities: Any, selected_id: int | None) -> SafeString:
    """The communities' `<option>`s, "name（street）", with `selected_id` selected."""
    options = _options(communities)
    return mark_safe("".join(pair[pk == selected_id] for pk, pair in options.items()))
