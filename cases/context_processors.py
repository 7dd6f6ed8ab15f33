"""Template context for every page: the desk menu's worklists and the notification bell."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from cases.worklists import cached_worklist_counts, peek_worklist_counts, worklists_for

_ATTR = "_desk_nav"


class DeskNav:
    """Computed on first use and at most once per request (the request holds it).

    `links` (the menu on every page) shows the worklist counts only when the
    cache has them and never counts: counting is an aggregate over the open
    cases, which the menu loads after the page (cases.views.nav).
    `worklists` counts (through the same short-lived cache), for the desk's
    own overview. `unread` is one count of notifications; a page that shows
    none of them runs none of them.
    """

    def __init__(self, user: Any) -> None:
        self.user = user

    def _items(self, counts: dict[str, int] | None) -> list[dict[str, Any]]:
        if not self.user.has_perm("cases.view_case"):
            return []
        return [
            {
                "slug": wl.slug,
                "title": wl.title,
                "url": reverse("desk:worklist", args=[wl.slug]),
                "count": None if counts is None else counts.get(wl.slug, 0),
            }
            for wl in worklists_for(self.user)
        ]

    @cached_property
    def links(self) -> list[dict[str, Any]]:
        """The user's worklists; `count` None when not counted in the last few seconds."""
        return self._items(peek_worklist_counts(self.user))

    @cached_property
    def counts_pending(self) -> bool:
        return any(item["count"] is None for item in self.links)

    @cached_property
    def worklists(self) -> list[dict[str, Any]]:
        """The user's worklists with their counts (one aggregate query unless cached)."""
        if not self.user.has_perm("cases.view_case"):
            return []
        return self._items(cached_worklist_counts(self.user))

    @cached_property
    def unread(self) -> int:
        from chengguan.models import Notification

        return Notification.objects.filter(recipient_id=self.user.pk, read_at__isnull=True).count()


def desk(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    nav = getattr(request, _ATTR, None)
    if nav is None:
        nav = DeskNav(user)
        setattr(request, _ATTR, nav)
    return {"desk_nav": nav}
