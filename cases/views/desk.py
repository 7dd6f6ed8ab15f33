"""The casework desk: role worklists, case actions, bulk dispatch and notifications.

Views are thin: lists start at the gate (cases.worklists, which use
cases.selectors.cases_for), actions are looked up in cases.actions and
call one service each. A DomainError becomes a message for the user, never
a server error. Everything works as plain forms and links; htmx (boosted
inside the desk's pages) only saves the page reload.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases.actions import ACTIONS, DeskAction, dispatch_many, perform
from cases.choices import CaseStatus
from cases.context_processors import desk as desk_context
from cases.forms.desk import BulkDispatchForm
from cases.models import Case
from cases.selectors import cases_for
from cases.views.intake import OPERATOR_PERMISSION
from cases.views.lists import list_tools
from cases.views.staff import case_detail_queryset, render_case_detail
from cases.worklists import WORKLISTS, annotate_deadlines
from chengguan.errors import DomainError, InvalidInput
from chengguan.models import Notification
from chengguan.notifications import notifications_mark_read
from chengguan.pagination import CappedPaginator

PER_PAGE = 25


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@login_required
def desk_home(request: HttpRequest) -> HttpResponse:
    context: dict[str, object] = {}
    nav = desk_context(request).get("desk_nav")
    if nav is not None and not nav.worklists and request.user.has_perm(OPERATOR_PERMISSION):
        # An operator's work is the intake inbox, which is no worklist: say what waits there
        # (one count, only for a desk with no worklist to show).
        context["inbox_waiting"] = (
            cases_for(request.user, "register").filter(status=CaseStatus.REPORTED).order_by().count()
        )
    return render(request, "cases/desk/home.html", context)


@login_required
def worklist(request: HttpRequest, slug: str) -> HttpResponse:
    queue = WORKLISTS.get(slug)
    if queue is None:
        raise Http404
    if not queue.is_for(request.user):
        raise PermissionDenied
    filterset = queue.filterset_class(request.GET, queryset=queue.queryset(request.user), request=request)
    paginator = CappedPaginator(filterset.qs, PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = annotate_deadlines(list(page.object_list))
    context = {
        "worklist": queue,
        "filterset": filterset,
        "page_obj": page,
        "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "is_filtered": any(value for key, value in request.GET.items() if key not in ("page", "ordering")),
        "default_ordering": queue.ordering[0],
        **list_tools(request, queue.slug),
    }
    if "select" in queue.columns:
        context["bulk_form"] = BulkDispatchForm(user=request.user)
    return render(request, "cases/desk/worklist.html", context)


@login_required
@require_POST
def case_act(request: HttpRequest, number: str, action: str) -> HttpResponse:
    desk_action = ACTIONS.get(action)
    if desk_action is None:
        raise Http404
    # Outside the user's scope the case does not exist for them: 404.
    case = get_object_or_404(case_detail_queryset(request.user), number=number)
    detail = reverse("cases:detail", args=[case.number])
    if not desk_action.is_available(request.user, case):
        messages.error(
            request,
            _("“%(action)s” is not something you can do on this case now. The page shows the case as it is.")
            % {"action": desk_action.label},
        )
        return redirect(detail)
    if "insert_template" in request.POST:
        return _insert_template(request, desk_action, case)
    form = desk_action.form(request.user, case, data=request.POST, files=request.FILES)
    if form.is_valid():
        try:
            done = perform(desk_action, case=case, actor=request.user, form=form)
        except InvalidInput as error:
            # Keep what the user typed: they only need to correct it.
            messages.error(request, str(error.message))
        except DomainError as error:
            messages.error(request, str(error.message))
            return redirect(detail)
        else:
            messages.success(request, done)
            return redirect(detail)
    return render_case_detail(request, case, bound=form, bound_slug=desk_action.slug, status=422)


def _insert_template(request: HttpRequest, desk_action: DeskAction, case: Case) -> HttpResponse:
    """The no-JavaScript "Insert" of a reply template: the form comes back,
    unsubmitted, with what the user typed and the template's text added."""
    typed = {
        key: value
        for key, value in request.POST.items()
        if key not in ("csrfmiddlewaretoken", "insert_template")
    }
    form = desk_action.form(request.user, case, initial=typed)
    if not form.insert_template(request.POST.get("reply_template", "")):
        messages.info(request, _("Choose a ready phrase to insert."))
    form.keep_open = True
    return render_case_detail(request, case, bound=form, bound_slug=desk_action.slug)


@login_required
@require_POST
def bulk_dispatch(request: HttpRequest) -> HttpResponse:
    if not WORKLISTS["dispatch"].is_for(request.user):
        raise PermissionDenied
    back = _safe_next(request, reverse("desk:worklist", args=["dispatch"]))
    form = BulkDispatchForm(request.POST, user=request.user)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(back)
    data = form.cleaned_data
    outcome = dispatch_many(
        actor=request.user,
        versions=data["cases"],
        handling_unit=data["handling_unit"],
        assignee=data["assignee"],
        note=data["note"],
    )
    if outcome.dispatched:
        messages.success(
            request,
            _("Dispatched %(count)d case(s): %(numbers)s.")
            % {"count": len(outcome.dispatched), "numbers": "、".join(outcome.dispatched)},
        )
    for number, message in outcome.failed:
        failure = _("%(number)s was not dispatched: %(reason)s") % {"number": number, "reason": message}
        messages.error(request, failure)
    return redirect(back)


# --- notifications -----------------------------------------------------------------


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    rows = Notification.objects.filter(recipient_id=request.user.pk)
    unread_only = request.GET.get("unread") == "1"
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    paginator = Paginator(rows.order_by("-created_at", "-id"), PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "cases/desk/notifications.html",
        {
            "page_obj": page,
            "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "unread_only": unread_only,
        },
    )


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    pks = None if request.POST.get("all") else [int(pk) for pk in request.POST.getlist("id") if pk.isdigit()]
    if pks != []:
        notifications_mark_read(recipient=request.user, pks=pks)
    return redirect(_safe_next(request, reverse("desk:notifications")))


@login_required
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow a notification's link, marking it read on the way."""
    notification = get_object_or_404(Notification, pk=pk, recipient_id=request.user.pk)
    notifications_mark_read(recipient=request.user, pks=[notification.pk])
    target = notification.url
    if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("desk:notifications")
    return redirect(target)
