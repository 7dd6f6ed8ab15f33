"""The operator's intake desk (受理台): take hotline and walk-in reports, work the inbox.

Reads start at the gate (cases_for / restrict); writes are service calls.
The intake form files a report (case_report) and may follow up at once with
one more service (register, or merge into the case the duplicate hint
offered); each inbox action calls exactly one service. Inbox actions answer
htmx with the re-rendered inbox item and a plain POST with a redirect and a
message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from cases import services
from cases.choices import CaseStatus, RejectReason, Urgency
from cases.filtersets import IntakeFilterSet
from cases.forms.intake import (
    INTAKE_SOURCES,
    THEN_REGISTER,
    UNSURE,
    DuplicateQueryForm,
    IntakeForm,
    MergeForm,
    RegisterForm,
    RejectForm,
    category_label,
    first_error,
    intake_categories,
    intake_communities,
)
from cases.models import Case, Category
from cases.selectors import (
    NEARBY_DAYS,
    NEARBY_RADIUS_M,
    cases_for,
    open_cases_alike,
    open_cases_near,
    reporter_phone_history,
)
from chengguan.errors import ActionNotPermitted, DomainError, InvalidInput, StaleObject
from chengguan.pagination import CappedPaginator
from chengguan.permissions import can, restrict

OPERATOR_PERMISSION = "cases.register_case"
INBOX_PER_PAGE = 25
HINTS_SHOWN = 5
CALLER_CASES_SHOWN = 3
SESSION_SOURCE = "intake.source"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def operator_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in (else the login page) and holding the operator's role permission (else 403)."""
    return login_required(permission_required(OPERATOR_PERMISSION, raise_exception=True)(view))


# --- reads -----------------------------------------------------------------------


def _with_earlier_reports(queryset: QuerySet[Case], user: Any) -> QuerySet[Case]:
    """Annotate `earlier_reports`: reports from the same phone before this one, in one query.

    Counted among the cases the operator can see, like everything else they are shown.
    """
    earlier = (
        restrict(Case.objects.all(), user, "view")
        .filter(reporter_phone=OuterRef("reporter_phone"), reported_at__lt=OuterRef("reported_at"))
        .exclude(reporter_phone="")
        .order_by()
        .values("reporter_phone")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return queryset.annotate(
        earlier_reports=Coalesce(Subquery(earlier, output_field=IntegerField()), Value(0))
    )


# The links of an inbox item: reverse() once per list, the number put in per item
# (25 items × 5 links were a tenth of the inbox's time).
_ITEM_LINKS = {
    "detail": "cases:detail",
    "register": "intake:register",
    "reject": "intake:reject",
    "duplicates": "intake:duplicates",
    "merge": "intake:merge",
}
_NUMBER = "0number0"


def _item_links() -> dict[str, str]:
    return {key: reverse(name, args=[_NUMBER]) for key, name in _ITEM_LINKS.items()}


def _inbox_item(user: Any, case: Case, links: dict[str, str] | None = None) -> Case:
    """Decorate a case for the inbox item template (no queries)."""
    case.can_register = case.status == CaseStatus.REPORTED and can(user, "register", case)  # type: ignore[attr-defined]
    case.category_input = category_label(case.category) if case.category else ""  # type: ignore[attr-defined]
    number = quote(case.number, safe="")
    case.links = {key: url.replace(_NUMBER, number) for key, url in (links or _item_links()).items()}  # type: ignore[attr-defined]
    return case


def _visible_nearby(
    user: Any, *, category: Category | None, lat: float, lng: float, exclude: Case | None = None
) -> list[Case]:
    """The duplicate hint: open cases of the category nearby that the operator can see."""
    # Ask for more than are shown, as some may lie outside the operator's scope.
    near = open_cases_near(category=category, lat=lat, lng=lng, exclude=exclude, limit=50)
    return [case for case in near if can(user, "view", case)][:HINTS_SHOWN]


def _visible_alike(
    user: Any,
    *,
    category: Category | None,
    community: Any,
    address: str,
    description: str,
    exclude: Case | None = None,
) -> list[Case]:
    """The duplicate hint for a report without a point: open cases of the category in its
    community with a similar address or description, that the operator can see."""
    alike = open_cases_alike(
        category=category,
        community=community,
        address=address,
        description=description,
        exclude=exclude,
        limit=50,
    )
    return [case for case in alike if can(user, "view", case)][:HINTS_SHOWN]


def _hint_list(alike: list[Case], near: list[Case]) -> list[Case]:
    """Cases alike in words first (they name the report's place), then those near it; each once.

    `distance_m` is None for a case matched by its words only, which the hint shows as such.
    """
    listed = {case.pk for case in near}
    for case in alike:
        if case.pk not in listed:
            case.distance_m = None  # type: ignore[attr-defined]
    by_words = [case for case in alike if case.pk not in listed]
    return (by_words + near)[:HINTS_SHOWN]


def _case_point(case: Case) -> tuple[float, float] | None:
    if case.lat is not None and case.lng is not None:
        return case.lat, case.lng
    community = case.community
    if community is not None and community.centroid_lat is not None and community.centroid_lng is not None:
        return community.centroid_lat, community.centroid_lng
    return None


def _page_context(request: HtmxHttpRequest) -> dict[str, Any]:
    """What every intake page needs besides its main part: the lists behind the inputs."""
    return {
        "categories": list(intake_categories()),
        "unsure_label": UNSURE,
        "communities": list(intake_communities(request.user)),
        "urgencies": Urgency.choices,
        "reject_reasons": RejectReason.choices,
    }


def _inbox_context(request: HtmxHttpRequest) -> dict[str, Any]:
    user = request.user
    waiting = _with_earlier_reports(cases_for(user, "register").filter(status=CaseStatus.REPORTED), user)
    filterset = IntakeFilterSet(request.GET, queryset=waiting, request=request)
    # The intake form on the same page has fields of the same names.
    filterset.form.auto_id = "inbox_%s"
    paginator = CappedPaginator(filterset.qs.order_by("reported_at", "pk"), INBOX_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    links = _item_links()
    items = [_inbox_item(user, case, links) for case in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("filed", None)
    return {
        "filterset": filterset,
        "page_obj": page,
        "items": items,
        "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        # The filters without the page, for the page links (includes/pagination.html).
        "filter_query": query,
        # Where the items' plain POSTs lead back to (once, not per item and form).
        "next_url": request.get_full_path(),
        "is_filtered": any(value for key, value in query.items()),
    }


def _hints_context(user: Any, query: DuplicateQueryForm) -> dict[str, Any]:
    query.is_valid()
    data = getattr(query, "cleaned_data", {})
    category, point = data.get("category"), query.point()
    duplicates = (
        _visible_nearby(user, category=category, lat=point[0], lng=point[1])
        if category is not None and point is not None
        else []
    )
    # Without a point of its own the report is placed by its community only: compare its words too.
    by_words = category is not None and data.get("community") is not None and not query.has_own_point()
    if by_words:
        alike = _visible_alike(
            user,
            category=category,
            community=data["community"],
            address=data.get("address") or "",
            description=data.get("description") or "",
        )
        duplicates = _hint_list(alike, duplicates)
    caller = None
    phone = data.get("reporter_phone")
    if phone:
        from_phone = cases_for(user).filter(reporter_phone=phone).order_by("-reported_at", "-pk")
        caller = {
            "phone": phone,
            "count": from_phone.count(),
            "latest": list(from_phone[:CALLER_CASES_SHOWN]),
            # Repeated and malicious reporters (不实/恶意投诉): last 90 days, how many marked false.
            "history": reporter_phone_history(user, phone),
        }
    return {
        "duplicates": duplicates,
        "searched": category is not None and point is not None,
        "from_centre": point is not None and data.get("lat") is None,
        "by_words": by_words,
        "caller": caller,
        "radius": NEARBY_RADIUS_M,
        "days": NEARBY_DAYS,
    }


# --- the desk: intake form, duplicate hint and inbox ----------------------------


@operator_required
@require_http_methods(["GET", "HEAD", "POST"])
def desk(request: HtmxHttpRequest) -> HttpResponse:
    user = request.user
    can_report = user.has_perm("cases.add_case")
    form: IntakeForm | None = None
    hints: dict[str, Any] = {}
    if request.method == "POST":
        if not can_report:
            raise PermissionDenied
        if "check" in request.POST:
            # Without script, "check for duplicates" re-renders the form with the hint.
            form = IntakeForm(initial=request.POST.dict(), user=user)
        else:
            form = IntakeForm(request.POST, request.FILES, user=user)
            if form.is_valid():
                try:
                    case = services.case_report(actor=user, **form.report_kwargs())
                except DomainError as error:
                    field = error.params.get("field")
                    form.add_error(field if field in form.fields else None, str(error.message))
                else:
                    request.session[SESSION_SOURCE] = form.cleaned_data["source"]
                    _follow_up(request, case, form)
                    return redirect(f"{reverse('intake:desk')}?filed={case.number}")
        hints = _hints_context(user, DuplicateQueryForm(request.POST, user=user))
    page = _page_context(request)
    if form is None and can_report:
        communities = page["communities"]
        form = IntakeForm(
            user=user,
            initial={
                "idempotency_key": uuid.uuid4().hex,
                "source": request.session.get(SESSION_SOURCE, INTAKE_SOURCES[0].value),
                # An operator of a single community need not choose it.
                "community": communities[0] if len(communities) == 1 else None,
            },
        )

    filed = None
    if request.GET.get("filed"):
        filed = cases_for(user).select_related("merged_into").filter(number=request.GET["filed"]).first()
    return render(
        request,
        "cases/intake/desk.html",
        {
            "form": form,
            "filed": filed,
            **hints,
            **page,
            **_inbox_context(request),
        },
    )


def _follow_up(request: HtmxHttpRequest, case: Case, form: IntakeForm) -> None:
    """Register or merge the report just filed, if the operator asked for it.

    A replayed POST gets the case filed the first time; when that was already
    registered or merged, there is nothing left to do. Should the follow-up
    fail, the report is kept and waits in the inbox.
    """
    master, then = form.master_case, form.cleaned_data["then"]
    if case.status != CaseStatus.REPORTED or (master is None and then != THEN_REGISTER):
        return
    try:
        if master is not None:
            services.case_merge_duplicate(
                case=case, master=master, actor=request.user, expected_version=case.version
            )
        else:
            services.case_register(case=case, actor=request.user, expected_version=case.version)
    except DomainError as error:
        messages.warning(
            request,
            _("Report %(number)s was filed but not yet processed: %(reason)s It is waiting in the inbox.")
            % {"number": case.number, "reason": error.message},
        )


@operator_required
@require_GET
def check(request: HtmxHttpRequest) -> HttpResponse:
    """The duplicate and repeat-caller hint for the half-filled intake form (htmx)."""
    hints = _hints_context(request.user, DuplicateQueryForm(request.GET, user=request.user))
    return render(request, "cases/intake/_hints.html", hints)


@operator_required
@require_GET
def inbox(request: HtmxHttpRequest) -> HttpResponse:
    """The inbox on its own page; htmx gets just the list (filters, pages)."""
    context = _inbox_context(request)
    if request.htmx:
        return render(request, "cases/intake/_inbox.html", {**_page_context(request), **context})
    return render(request, "cases/intake/inbox.html", {**_page_context(request), **context})


@operator_required
@require_GET
def duplicates(request: HtmxHttpRequest, number: str) -> HttpResponse:
    """Open cases a filed report may duplicate, each with a merge button."""
    case = get_object_or_404(cases_for(request.user, "register"), number=number)
    point = _case_point(case)
    near = (
        _visible_nearby(request.user, category=case.category, lat=point[0], lng=point[1], exclude=case)
        if point is not None
        else []
    )
    by_words = case.category_id is not None and case.community_id is not None and case.lat is None
    if by_words:
        alike = _visible_alike(
            request.user,
            category=case.category,
            community=case.community,
            address=case.address,
            description=case.description,
            exclude=case,
        )
        near = _hint_list(alike, near)
    context = {
        "case": case,
        "duplicates": near,
        "by_words": by_words,
        "searched": point is not None and case.category_id is not None,
        "radius": NEARBY_RADIUS_M,
        "days": NEARBY_DAYS,
    }
    template = "cases/intake/_duplicates.html" if request.htmx else "cases/intake/duplicates.html"
    return render(request, template, context)


# --- inbox actions: one service each ------------------------------------------------


def _action_case(request: HtmxHttpRequest, number: str) -> Case:
    # Outside the operator's scope the case does not exist for them.
    return get_object_or_404(cases_for(request.user, "register"), number=number)


def _back(request: HtmxHttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("intake:inbox")


def _done(request: HtmxHttpRequest, case: Case, outcome: str) -> HttpResponse:
    if request.htmx:
        case.refresh_from_db()
        return render(request, "cases/intake/_item_done.html", {"case": case, "outcome": outcome})
    messages.success(request, outcome)
    return _back(request)


def _failed(request: HtmxHttpRequest, case: Case, message: str, status: int) -> HttpResponse:
    """Show why the action did not happen; the case is shown as it now is."""
    if not request.htmx:
        messages.error(request, f"{case.number}: {message}")
        return _back(request)
    fresh = _with_earlier_reports(cases_for(request.user, "view"), request.user).filter(pk=case.pk).first()
    if fresh is None:
        status = 404
        return render(
            request, "cases/intake/_item_done.html", {"case": case, "error": message}, status=status
        )
    context = {
        "case": _inbox_item(request.user, fresh),
        "error": message,
        # Where a later plain POST from this item should lead back to: the page it is on.
        "next_url": request.htmx.current_url_abs_path or reverse("intake:inbox"),
        **_page_context(request),
    }
    return render(request, "cases/intake/_item.html", context, status=status)


def _domain_failure(request: HtmxHttpRequest, case: Case, error: DomainError) -> HttpResponse:
    status = 403 if isinstance(error, ActionNotPermitted) else 400 if isinstance(error, InvalidInput) else 409
    message = str(error.message)
    if isinstance(error, StaleObject) and request.htmx:
        # The item comes back as the case now is: that is the reload.
        message = f"{message} {_('The report is shown below as it is now.')}"
    return _failed(request, case, message, status)


@operator_required
@require_POST
def register(request: HtmxHttpRequest, number: str) -> HttpResponse:
    case = _action_case(request, number)
    form = RegisterForm(request.POST, user=request.user)
    if not form.is_valid():
        return _failed(request, case, first_error(form), 400)
    try:
        services.case_register(
            case=case,
            actor=request.user,
            note=form.cleaned_data["note"],
            expected_version=form.cleaned_data["expected_version"],
            **form.corrections(case),
        )
    except DomainError as error:
        return _domain_failure(request, case, error)
    return _done(request, case, _("%(number)s registered.") % {"number": case.number})


@operator_required
@require_POST
def reject(request: HtmxHttpRequest, number: str) -> HttpResponse:
    case = _action_case(request, number)
    form = RejectForm(request.POST)
    if not form.is_valid():
        return _failed(request, case, first_error(form), 400)
    try:
        services.case_reject(
            case=case,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
            expected_version=form.cleaned_data["expected_version"],
        )
    except DomainError as error:
        return _domain_failure(request, case, error)
    return _done(request, case, _("%(number)s rejected.") % {"number": case.number})


@operator_required
@require_POST
def merge(request: HtmxHttpRequest, number: str) -> HttpResponse:
    case = _action_case(request, number)
    form = MergeForm(request.POST, user=request.user)
    if not form.is_valid() or form.master_case is None:
        return _failed(request, case, first_error(form), 400)
    try:
        services.case_merge_duplicate(
            case=case,
            master=form.master_case,
            actor=request.user,
            note=form.cleaned_data["note"],
            expected_version=form.cleaned_data["expected_version"],
        )
    except DomainError as error:
        return _domain_failure(request, case, error)
    return _done(
        request,
        case,
        _("%(number)s merged into %(master)s.") % {"number": case.number, "master": form.master_case.number},
    )
