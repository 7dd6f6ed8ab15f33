"""Staff pages for cases. Reads only; every query starts at the gate (cases_for).

The detail page offers the desk's actions (cases.actions); they post to
cases.views.desk.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render

from cases.actions import action_forms
from cases.filtersets import CaseFilterSet
from cases.forms.desk import CaseActionForm
from cases.lists import STAFF_LIST
from cases.models import Case
from cases.selectors import case_timeline, cases_for, reporter_phone_history
from cases.verbs import pending_extension_of, pending_parking_of
from cases.views.lists import list_tools
from cases.worklists import deadline_info
from chengguan import clock
from chengguan.masking import contact_revealed
from chengguan.pagination import CappedPaginator
from chengguan.worktime import get_calendar

CASES_PER_PAGE = 25


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    filterset = CaseFilterSet(request.GET, queryset=cases_for(request.user), request=request)
    paginator = CappedPaginator(filterset.qs, CASES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "cases/case_list.html",
        {
            "filterset": filterset,
            "page_obj": page,
            "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "is_filtered": any(value for key, value in request.GET.items() if key != "page"),
            **list_tools(request, STAFF_LIST),
        },
    )


def case_map_config(case: Case) -> dict[str, Any] | None:
    """The case's pin for the detail page's map; None (no map) without coordinates."""
    if case.lat is None or case.lng is None:
        return None
    return {
        "lat": case.lat,
        "lng": case.lng,
        "tileUrl": settings.MAP_TILE_URL,
        "tileAttribution": settings.MAP_TILE_ATTRIBUTION,
    }


def case_detail_queryset(user: Any) -> QuerySet[Case]:
    return cases_for(user).select_related(
        "district", "grid_cell", "merged_into", "subject_officer", "facility"
    )


@login_required
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    # Outside the user's scope the case does not exist for them: 404, not 403.
    case = get_object_or_404(case_detail_queryset(request.user), number=number)
    contact_revealed(actor=request.user, case=case, via="page")
    return render_case_detail(request, case)


def render_case_detail(
    request: HttpRequest,
    case: Case,
    *,
    bound: CaseActionForm | None = None,
    bound_slug: str = "",
    status: int = 200,
) -> HttpResponse:
    """The detail page, with the desk actions the user may take now.

    `bound` is an action form just posted with errors (cases.views.desk), shown
    again with the user's input.
    """
    timeline = list(case_timeline(case))
    return render(
        request,
        "cases/case_detail.html",
        {
            "case": case,
            "timeline": timeline,
            # Photos filed with the report are not tied to a timeline event.
            "report_photos": case.attachments.filter(event__isnull=True),
            "show_reporter_contact": request.user.has_perm("cases.view_reporter_contact"),
            "phone_history": reporter_phone_history(request.user, case.reporter_phone),
            "actions": action_forms(request.user, case, bound=bound, bound_slug=bound_slug),
            "pending_extension": pending_extension_of(case),
            "pending_parking": pending_parking_of(case),
            "moderated": moderated_fields(timeline),
            "deadline": deadline_info(case, now=clock.now(), calendar=get_calendar()),
            "map_config": case_map_config(case),
        },
        status=status,
    )


def moderated_fields(timeline: list[Any]) -> set[str]:
    """The fields staff corrected (moderation events), for the page's "edited" markers."""
    from cases.choices import CaseAction

    moderation = (CaseAction.TEXT_MODERATED, CaseAction.RECATEGORISED)
    return {
        name
        for event in timeline
        if event.action in moderation
        for name in (event.data or {}).get("changes", {})
    }


@login_required
def photo(request: HttpRequest, number: str, pk: int) -> HttpResponseBase:
    """A case photo for staff who may see the case, hidden ones included.

    Hidden photos have no public URL (cases.attachments); this is the only
    way to them, through the gate. Out of scope: 404.
    """
    import mimetypes

    from django.http import FileResponse, Http404

    from cases.attachments import open_attachment

    case = get_object_or_404(cases_for(request.user), number=number)
    attachment = get_object_or_404(case.attachments.all(), pk=pk)
    try:
        handle = open_attachment(attachment)
    except (FileNotFoundError, OSError):
        raise Http404 from None
    content_type = mimetypes.guess_type(attachment.file.name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
