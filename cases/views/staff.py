"""Staff pages for cases. Reads only; every query starts at the gate (cases_for).

The detail page offers the desk's actions (cases.actions); they post to
cases.views.desk.
"""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from cases.actions import action_forms, pending_extension
from cases.filtersets import CaseFilterSet
from cases.forms.desk import CaseActionForm
from cases.models import Case
from cases.selectors import case_timeline, cases_for
from cases.worklists import deadline_info
from chengguan import clock
from chengguan.worktime import get_calendar

CASES_PER_PAGE = 25


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    filterset = CaseFilterSet(request.GET, queryset=cases_for(request.user), request=request)
    paginator = Paginator(filterset.qs, CASES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "cases/case_list.html",
        {
            "filterset": filterset,
            "page_obj": page,
            "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "is_filtered": any(value for key, value in request.GET.items() if key != "page"),
        },
    )


def case_detail_queryset(user: Any) -> QuerySet[Case]:
    return cases_for(user).select_related("district", "grid_cell", "merged_into", "subject_officer")


@login_required
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    # Outside the user's scope the case does not exist for them: 404, not 403.
    case = get_object_or_404(case_detail_queryset(request.user), number=number)
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
    pending = pending_extension(case)
    return render(
        request,
        "cases/case_detail.html",
        {
            "case": case,
            "timeline": case_timeline(case),
            # Photos filed with the report are not tied to a timeline event.
            "report_photos": case.attachments.filter(event__isnull=True),
            "show_reporter_contact": request.user.has_perm("cases.view_reporter_contact"),
            "actions": action_forms(request.user, case, pending, bound=bound, bound_slug=bound_slug),
            "pending_extension": pending,
            "deadline": deadline_info(case, now=clock.now(), calendar=get_calendar()),
        },
        status=status,
    )
