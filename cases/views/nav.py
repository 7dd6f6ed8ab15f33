"""The desk menu's worklist counts, loaded by the menu after the page (static/js/desknav.js).

Counting the open cases of every worklist is an aggregate over the open
cases: it stays out of every staff page's response and is cached per user
for a few seconds (cases.worklists.cached_worklist_counts).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@login_required
@require_GET
def nav_counts(request: HttpRequest) -> HttpResponse:
    """One count element per worklist of the user (none for a user without worklists)."""
    from cases.context_processors import DeskNav

    response = render(request, "cases/desk/nav_counts.html", {"worklists": DeskNav(request.user).worklists})
    # Never kept by the browser: after an action the next page asks again.
    response["Cache-Control"] = "private, no-store"
    return response
