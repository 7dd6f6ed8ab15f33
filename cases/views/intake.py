"""The operator's intake desk (受理台): take hotline and walk-in reports, work the inbox.

Reads start at the gate (cases_for / restrict); writes are service calls.
The intake form files a report (case_report) and may follow up at once with
one more verb (register, or merge into the case the duplicate hint
offered); each inbox action runs exactly one verb of the workflow's table
(cases.verbs), as the case desk and the API do. Inbox actions answer htmx
with the re-rendered inbox item and a plain POST with a redirect and a
message.

An inbox item's "Correct first", "Reject" and "Merge" panels and the inbox's
filters are loaded when opened (htmx on `toggle`), without script each is a
link to a page of its own: rendering them for every item of a page was most
of the inbox's time. A report without a category shows "Correct first" open
at once, as it cannot be registered without one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from cases import services
from cases.choices import CaseSource, CaseStatus, RejectReason, Urgency
from cases.filtersets import IntakeFilterSet
from cases.forms.intake import (
    INTAKE_SOURCES,
    THEN_REGISTER,
    UNSURE,
    CaseActionForm,
    DuplicateQueryForm,
    IntakeForm,
    MergeForm,
    RegisterForm,
    RejectForm,
    category_label,
    conduct_subjects,
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
from cases.verbs import VERBS, Verb
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
    "register_form": "intake:register_form",
    "reject": "intake:reject",
    "reject_form": "intake:reject_form",
    "duplicates": "intake:duplicates",
    "merge": "intake:merge",
}
# The panels an item loads when opened (each a page of its own without script).
# Their links carry the version the item showed, which their forms send: the
# optimistic lock holds from the list on, however late a panel is opened; and
# where a plain POST from them leads back to.
_PANEL_LINKS = ("register_form", "reject_form", "duplicates")
_NUMBER = "0number0"


@dataclass(frozen=True)
class ItemLinks:
    paths: dict[str, str]
    # The panels' query after the version: "&next=…", or nothing.
    back: str = ""

    @classmethod
    def for_list(cls, next_url: str = "") -> ItemLinks:
        paths = {key: reverse(name, args=[_NUMBER]) for key, name in _ITEM_LINKS.items()}
        return cls(paths, f"&{urlencode({'next': next_url})}" if next_url else "")

    def of(self, case: Case) -> dict[str, str]:
        number = quote(case.number, safe="")
        links = {key: path.replace(_NUMBER, number) for key, path in self.paths.items()}
        query = f"?version={case.version}{self.back}"
        for key in _PANEL_LINKS:
            links[key] += query
        return links


# The labels of CaseSource, looked up once per item rather than get_source_display's
# dict of every choice.
_SOURCE_LABELS = dict(CaseSource.choices)


def _inbox_item(user: Any, case: Case, links: ItemLinks | None = None) -> Case:
    """Decorate a case for the inbox item template (no queries)."""
    case.can_register = case.status == CaseStatus.REPORTED and can(user, "register", case)  # type: ignore[attr-defined]
    case.category_input = category_label(case.category) if case.category else ""  # type: ignore[attr-defined]
    case.source_label = _SOURCE_LABELS.get(case.source, case.source)  # type: ignore[attr-defined]
    case.links = (links or ItemLinks.for_list()).of(case)  # type: ignore[attr-defined]
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
    user = request.user
    # Each read only when the page shows it: the inbox loads its items'
    # "Correct first" panels (the community choice) on demand, and a panel
    # loaded into a page finds the category list there.
    return {
        "categories": SimpleLazyObject(lambda: list(intake_categories())),
        "unsure_label": UNSURE,
        "communities": SimpleLazyObject(lambda: list(intake_communities(user))),
        # The officers a report may complain about ("Correct first").
        "officers": SimpleLazyObject(lambda: list(conduct_subjects())),
        "urgencies": Urgency.choices,
        "reject_reasons": RejectReason.choices,
        # Asked once, not per item.
        "contact_visible": user.has_perm("cases.view_reporter_contact"),
    }


# What an inbox item shows and the gate reads (cases.scopes.case_allows): the
# rest of a case's fifty-odd columns, and a community's boundary, are left in
# the database. A field the item template reads that is not here costs a query
# per item, which the inbox's query count test catches.
_ITEM_FIELDS = (
    *("number", "version", "status", "source", "urgency", "report_count", "reported_at", "deadline"),
    *("description", "address", "reporter_name", "reporter_phone", "category", "community"),
    *("district", "handling_unit", "assignee", "subject_officer"),
    *("category__code", "category__name", "category__name_en", "community__name"),
)


def _waiting(user: Any) -> QuerySet[Case]:
    """The reports waiting for the operator, with only what an inbox item shows."""
    waiting = (
        cases_for(user, "register")
        .filter(status=CaseStatus.REPORTED)
        .select_related(None)
        .select_related("category", "community")
        .only(*_ITEM_FIELDS)
    )
    return _with_earlier_reports(waiting, user)


# The inbox's filters (but the search) are loaded when opened: `?filters=open`
# shows them open, without script too; htmx asks for them alone.
SHOW_FILTERS = "filters"
FILTERS_ID = "inbox-filters"


def _inbox_filterset(request: HtmxHttpRequest, queryset: QuerySet[Case]) -> IntakeFilterSet:
    filterset = IntakeFilterSet(request.GET, queryset=queryset, request=request)
    # The intake form on the same page has fields of the same names.
    filterset.form.auto_id = "inbox_%s"
    return filterset


def _inbox_context(request: HtmxHttpRequest) -> dict[str, Any]:
    user = request.user
    filterset = _inbox_filterset(request, _waiting(user))
    paginator = CappedPaginator(filterset.qs.order_by("reported_at", "pk"), INBOX_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    next_url = request.get_full_path()
    links = ItemLinks.for_list(next_url)
    items = [_inbox_item(user, case, links) for case in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("filed", None)
    is_filtered = any(value for key, value in query.items() if key != SHOW_FILTERS)
    return {
        "filterset": filterset,
        "page_obj": page,
        "items": items,
        "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        # The filters without the page, for the page links (includes/pagination.html).
        "filter_query": query,
        # Where the items' plain POSTs lead back to (once, not per item and form).
        "next_url": next_url,
        "is_filtered": is_filtered,
        "show_filters": is_filtered or SHOW_FILTERS in query or bool(filterset.form.errors),
        "filters_url": f"{reverse('intake:inbox')}?{SHOW_FILTERS}=open",
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
                    if case.subject_officer_id is not None and not can(user, "view", case):
                        return _passed_to_supervisors(request, case)
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


def _passed_to_supervisors(request: HtmxHttpRequest, case: Case) -> HttpResponse:
    """A complaint about an officer's conduct, filed by someone who may not see one.

    It goes to the supervisors, who register and dispatch it; the operator
    neither sees it nor registers or merges it, but still gives the caller
    the tracking code.
    """
    messages.success(
        request,
        _(
            "Report %(number)s is a complaint about an officer's conduct: it was passed to the "
            "supervisors. Tracking code for the caller: %(code)s"
        )
        % {"number": case.number, "code": case.tracking_code},
    )
    return redirect("intake:desk")


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
            VERBS["merge"].perform(case, request.user, {"master": master}, version=case.version)
        else:
            VERBS["register"].perform(case, request.user, {}, version=case.version)
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
    """The inbox on its own page; htmx gets just the list (filters, pages), or
    the filters alone when they are opened."""
    if request.htmx and request.htmx.target == FILTERS_ID:
        filterset = _inbox_filterset(request, Case.objects.none())
        return render(request, "cases/intake/_inbox_filters.html", {"filterset": filterset})
    context = {**_page_context(request), **_inbox_context(request)}
    template = "cases/intake/_inbox.html" if request.htmx else "cases/intake/inbox.html"
    return render(request, template, context)


@operator_required
@require_GET
def duplicates(request: HtmxHttpRequest, number: str) -> HttpResponse:
    """An item's "Merge" panel: open cases the report may duplicate, each with a
    merge button, and a merge by case number; without script a page of its own."""
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
        **_panel_context(request, case),
    }
    template = "cases/intake/_merge.html" if request.htmx else "cases/intake/duplicates.html"
    return render(request, template, context)


# --- inbox actions: one verb each (cases.verbs) ------------------------------------


def _action_case(request: HtmxHttpRequest, number: str) -> Case:
    # Outside the operator's scope the case does not exist for them.
    return get_object_or_404(cases_for(request.user, "register"), number=number)


def _safe_next(request: HtmxHttpRequest, target: str) -> str:
    """`target` if it is a page of this site, else the inbox."""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("intake:inbox")


def _back(request: HtmxHttpRequest) -> HttpResponse:
    return redirect(_safe_next(request, request.POST.get("next", "")))


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
    # Where a later plain POST from this item should lead back to: the page it is on.
    next_url = request.htmx.current_url_abs_path or reverse("intake:inbox")
    context = {
        "case": _inbox_item(request.user, fresh, ItemLinks.for_list(next_url)),
        "error": message,
        "next_url": next_url,
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


@dataclass(frozen=True)
class InboxAction:
    """An inbox action: a verb of cases.verbs with the intake desk's own form and message.

    The verb's service checks the permission again under a row lock and has
    the last word; its domain errors are shown as they are (_domain_failure).
    """

    verb: Verb
    # The form of the action, bound to the request's POST.
    form: Callable[[HtmxHttpRequest], CaseActionForm]
    # The verb's input from the valid form (the service's keyword arguments).
    verb_input: Callable[[Any, Case], dict[str, Any]]
    # The message once it is done, from the valid form and the case.
    done: Callable[[Any, Case], str]


def _register_input(form: RegisterForm, case: Case) -> dict[str, Any]:
    # Only what differs from the case is a correction.
    return {"note": form.cleaned_data["note"], **form.corrections(case)}


def _reject_input(form: RejectForm, case: Case) -> dict[str, Any]:
    return {"reason": form.cleaned_data["reason"], "note": form.cleaned_data["note"]}


def _merge_input(form: MergeForm, case: Case) -> dict[str, Any]:
    return {"master": form.master_case, "note": form.cleaned_data["note"]}


INBOX_ACTIONS: dict[str, InboxAction] = {
    "register": InboxAction(
        VERBS["register"],
        lambda request: RegisterForm(request.POST, user=request.user),
        _register_input,
        lambda form, case: _("%(number)s registered.") % {"number": case.number},
    ),
    "reject": InboxAction(
        VERBS["reject"],
        lambda request: RejectForm(request.POST),
        _reject_input,
        lambda form, case: _("%(number)s rejected.") % {"number": case.number},
    ),
    "merge": InboxAction(
        VERBS["merge"],
        lambda request: MergeForm(request.POST, user=request.user),
        _merge_input,
        lambda form, case: (
            _("%(number)s merged into %(master)s.")
            % {"number": case.number, "master": form.master_case.number}
        ),
    ),
}


def _act(request: HtmxHttpRequest, number: str, name: str) -> HttpResponse:
    action = INBOX_ACTIONS[name]
    case = _action_case(request, number)
    form = action.form(request)
    if not form.is_valid():
        return _failed(request, case, first_error(form), 400)
    try:
        action.verb.perform(
            case,
            request.user,
            action.verb_input(form, case),
            version=form.cleaned_data["expected_version"],
        )
    except DomainError as error:
        return _domain_failure(request, case, error)
    return _done(request, case, action.done(form, case))


@operator_required
@require_POST
def register(request: HtmxHttpRequest, number: str) -> HttpResponse:
    """Register a waiting report, with the corrections the operator made, if any."""
    return _act(request, number, "register")


@operator_required
@require_POST
def reject(request: HtmxHttpRequest, number: str) -> HttpResponse:
    return _act(request, number, "reject")


@operator_required
@require_POST
def merge(request: HtmxHttpRequest, number: str) -> HttpResponse:
    """Merge a waiting report into the open case it duplicates."""
    return _act(request, number, "merge")


# --- an item's panels, loaded when opened -------------------------------------------


def _panel_context(request: HtmxHttpRequest, case: Case) -> dict[str, Any]:
    """What an item's panel link carries: the version of the case the item showed
    (else the current one) and where a plain POST leads back to (else the inbox)."""
    try:
        version = int(request.GET.get("version", ""))
    except ValueError:
        version = case.version
    return {
        "version": version if version >= 1 else case.version,
        "next_url": _safe_next(request, request.GET.get("next", "")),
    }


def _panel(request: HtmxHttpRequest, number: str, *, fragment: str, page: str) -> HttpResponse:
    case = _inbox_item(request.user, _action_case(request, number))
    context = {"case": case, **_page_context(request), **_panel_context(request, case)}
    return render(request, fragment if request.htmx else page, context)


@operator_required
@require_GET
def register_form(request: HtmxHttpRequest, number: str) -> HttpResponse:
    """An item's "Correct first" panel: category, urgency, community and a note
    (the item holds the rest of the form); without script a page with the whole form."""
    return _panel(request, number, fragment="cases/intake/_correct.html", page="cases/intake/correct.html")


@operator_required
@require_GET
def reject_form(request: HtmxHttpRequest, number: str) -> HttpResponse:
    """An item's "Reject" panel: the reason and a note to the reporter; without
    script a page of its own."""
    return _panel(request, number, fragment="cases/intake/_reject.html", page="cases/intake/reject.html")
