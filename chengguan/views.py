"""Project-wide pages: the home page (public landing or staff overview)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cases.choices import CaseStatus
from cases.models import Category
from cases.selectors import case_counts_for
from chengguan.roles import Role


def home(request: HttpRequest) -> HttpResponse:
    context: dict[str, object] = {}
    user = request.user
    if user.is_authenticated:
        counts = case_counts_for(user)
        role_names = set(user.groups.values_list("name", flat=True))
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
