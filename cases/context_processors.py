"""Template context for every page: the desk menu's worklist counts and the notification bell."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from cases.worklists import worklist_counts, worklists_for

_ATTR = "_desk_nav"


class DeskNav:
    """Computed on first use and at most once per request (the request holds it).

    `worklists` is one aggregate query over cases, `unread` one count of
    notifications; a page that shows neither runs neither.
    """

    def __init__(self, user: Any) -> None:
        self.user = user

    @cached_property
    def worklists(self) -> list[dict[str, Any]]:
        if not self.user.has_perm("cases.view_case"):
            return []
        mine = worklists_for(self.user)
        counts = worklist_counts(self.user)
        return [
            {
                "slug": wl.slug,
                "title": wl.title,
                "url": reverse("desk:worklist", args=[wl.slug]),
                "count": counts.get(wl.slug, 0),
            }
            for wl in mine
        ]

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
