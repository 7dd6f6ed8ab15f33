"""The operators' list of pushes to the 12345 platform that failed, with "retry now".

Operators and supervisors only (the `view_hotlinepush` role permission), and
only the pushes of cases in their scope (the gate); a push outside it is 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases.choices import PushStatus
from cases.filtersets import HotlinePushFilterSet
from cases.hotline import hotline_push_retry
from cases.models import HotlinePush
from cases.selectors import hotline_pushes_for
from cases.views.desk import PER_PAGE, _safe_next
from chengguan.errors import DomainError
from chengguan.permissions import has_role_permission, restrict

# Without a choice of delivery status the list shows what needs an operator.
DEFAULT_STATUSES = [PushStatus.FAILED.value, PushStatus.DEAD.value]


@login_required
def hotline_pushes(request: HttpRequest) -> HttpResponse:
    if not has_role_permission(request.user, HotlinePush, "view"):
        raise PermissionDenied
    data = request.GET.copy()
    if not data.getlist("status"):
        data.setlist("status", DEFAULT_STATUSES)
    filterset = HotlinePushFilterSet(data, queryset=hotline_pushes_for(request.user), request=request)
    paginator = Paginator(filterset.qs, PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "cases/desk/hotline_pushes.html",
        {
            "filterset": filterset,
            "page_obj": page,
            "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "is_filtered": any(value for key, value in request.GET.items() if key != "page"),
            "may_retry": has_role_permission(request.user, HotlinePush, "retry"),
        },
    )


@login_required
@require_POST
def hotline_push_retry_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not has_role_permission(request.user, HotlinePush, "retry"):
        raise PermissionDenied
    push = get_object_or_404(restrict(HotlinePush.objects.all(), request.user, "retry"), pk=pk)
    back = _safe_next(request, reverse("desk:hotline_pushes"))
    try:
        hotline_push_retry(push=push, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(
            request,
            _("The push for %(number)s is being sent again. The list shows whether it got through.")
            % {"number": push.case.number},
        )
    return redirect(back)
