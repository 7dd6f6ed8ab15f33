"""Staff pages for cases. Reads only; every query starts at the gate (cases_for)."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from cases.filtersets import CaseFilterSet
from cases.selectors import case_timeline, cases_for

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


@login_required
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    # Outside the user's scope the case does not exist for them: 404, not 403.
    case = get_object_or_404(
        cases_for(request.user).select_related("district", "grid_cell", "merged_into", "subject_officer"),
        number=number,
    )
    return render(
        request,
        "cases/case_detail.html",
        {
            "case": case,
            "timeline": case_timeline(case),
            # Photos filed with the report are not tied to a timeline event.
            "report_photos": case.attachments.filter(event__isnull=True),
            "show_reporter_contact": request.user.has_perm("cases.view_reporter_contact"),
        },
    )
