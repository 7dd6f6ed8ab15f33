"""Project-wide pages: the home page (public landing, a resident's reports, or staff overview)."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cases.choices import CaseStatus
from cases.models import Category
from cases.selectors import case_counts_for, reports_of
from cases.views.public import SHORT_STATUS_FOR_RESIDENTS
from chengguan.roles import Role

REPORTS_PER_PAGE = 20


def home(request: HttpRequest) -> HttpResponse:
    context: dict[str, object] = {}
    user = request.user
    if user.is_authenticated:
        role_names = set(user.groups.values_list("name", flat=True))
        # A resident's account: no role and not staff (cases.selectors._resident_accounts).
        if not role_names and not user.is_staff and not user.is_superuser:
            paginator = Paginator(reports_of(user), REPORTS_PER_PAGE)
            page = paginator.get_page(request.GET.get("page"))
            context.update(
                is_resident=True,
                page_obj=page,
                page_range=paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
                reports=[
                    (case, SHORT_STATUS_FOR_RESIDENTS[CaseStatus(case.status)]) for case in page.object_list
                ],
            )
            return render(request, "home.html", context)
        counts = case_counts_for(user)
        context.update(
            roles=[role.label for role in Role if role.value in role_names],
            status_counts=[(status, counts[status.value]) for status in CaseStatus],
            total_cases=sum(counts[status.value] for status in CaseStatus),
            overdue_count=counts["overdue"],
            can_view_cases=user.has_perm("cases.view_case"),
        )
    else:
        context["categories"] = Category.objects.filter(parent__isnull=True, is_active=True).order_by("code")
    return render(request, "home.html", context)
