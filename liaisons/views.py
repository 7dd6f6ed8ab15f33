"""Field work on a phone: the liaison's home, patrol logs, return visits and meetings.

Views are thin: reads start at the gate (restrict, cases_for, liaisons.home),
forms validate, one service writes, and a DomainError becomes a message on
the page, never a server error. Every page works as plain HTML forms;
static/js/patrol.js only adds the offline draft and location on top.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case as SqlCase
from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases.attachments import MAX_PHOTOS_PER_UPLOAD
from cases.choices import VisitStatus
from cases.models import ReturnVisit
from cases.selectors import cases_for
from cases.services import return_visit_record
from chengguan import clock
from chengguan.errors import DomainError
from chengguan.permissions import scope_for
from liaisons.filtersets import MeetingFilterSet, PatrolFilterSet
from liaisons.forms import (
    CoverForm,
    FindingForm,
    MeetingForm,
    PatrolForm,
    ReturnVisitForm,
    finding_categories,
    finding_formset,
    patrol_draft_initial,
)
from liaisons.home import field_home
from liaisons.models import CoverPeriod, Meeting, PatrolFinding, PatrolLog, PatrolPhoto
from liaisons.selectors import covers_for
from liaisons.services import cover_cancel, cover_create, meeting_record, patrol_finding_to_case, patrol_log

PER_PAGE = 25
RECENT_VISIT_DAYS = 30


def field_view(perm: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Signed in first (anonymous users go to the sign-in page), then the role's permission (403)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        return login_required(permission_required(perm, raise_exception=True)(view))

    return decorate


def paginate(request: HttpRequest, queryset: QuerySet[Any]) -> dict[str, Any]:
    paginator = Paginator(queryset, PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return {
        "page_obj": page,
        "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "is_filtered": any(value for key, value in request.GET.items() if key != "page"),
    }


def count_of(queryset: QuerySet[Any], field: str) -> Coalesce:
    """A correlated COUNT(*) of `queryset` rows pointing at the outer row through `field`."""
    counted = queryset.filter(**{field: OuterRef("pk")}).order_by().values(field)
    return Coalesce(Subquery(counted.annotate(n=Count("pk")).values("n")[:1]), 0, output_field=IntegerField())


# --- home -------------------------------------------------------------------------------


@field_view("liaisons.view_patrollog")
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "liaisons/home.html",
        {"home": field_home(request.user), "can_patrol": request.user.has_perm("liaisons.add_patrollog")},
    )


# --- patrols ----------------------------------------------------------------------------


@field_view("liaisons.view_patrollog")
def patrol_list(request: HttpRequest) -> HttpResponse:
    queryset = (
        PatrolLog.objects.restrict(request.user)
        .select_related("community", "liaison")
        .defer("community__boundary")
        .annotate(
            finding_count=count_of(PatrolFinding.objects.all(), "patrol"),
            open_finding_count=count_of(PatrolFinding.objects.filter(case__isnull=True), "patrol"),
            photo_count=count_of(PatrolPhoto.objects.all(), "patrol"),
        )
        .order_by("-started_at", "-id")
    )
    filterset = PatrolFilterSet(request.GET, queryset=queryset, request=request)
    return render(
        request,
        "liaisons/patrol_list.html",
        {
            "filterset": filterset,
            "can_patrol": request.user.has_perm("liaisons.add_patrollog"),
            **paginate(request, filterset.qs),
        },
    )


@field_view("liaisons.view_patrollog")
def patrol_detail(request: HttpRequest, pk: int) -> HttpResponse:
    patrol = get_object_or_404(
        PatrolLog.objects.restrict(request.user)
        .select_related("community__street", "liaison")
        .defer("community__boundary", "community__street__boundary")
        .prefetch_related(
            Prefetch("grid_cells", to_attr="cells"),
            Prefetch(
                "photos", queryset=PatrolPhoto.objects.filter(finding__isnull=True), to_attr="own_photos"
            ),
            Prefetch(
                "findings",
                queryset=PatrolFinding.objects.select_related("category__parent", "case").prefetch_related(
                    "photos"
                ),
                to_attr="finding_list",
            ),
        ),
        pk=pk,
    )
    user = request.user
    can_convert = user.has_perm("cases.add_case") and (
        patrol.liaison_id == user.pk or patrol.community_id in scope_for(user).community_ids
    )
    return render(request, "liaisons/patrol_detail.html", {"patrol": patrol, "can_convert": can_convert})


def _log_patrol(user: Any, form: PatrolForm, findings: Any) -> PatrolLog:
    """Log the patrol, then close at once the findings fixed on the spot, all or nothing.

    A replayed draft (same client_uuid) returns the patrol logged the first
    time and changes nothing.
    """
    data = form.cleaned_data
    filled: list[FindingForm] = findings.filled_forms()
    asked_at = clock.now()
    with transaction.atomic():
        log = patrol_log(
            liaison=user,
            community=data["community"],
            started_at=data["started_at"],
            ended_at=data["ended_at"],
            grid_cells=list(data["grid_cells"]),
            notes=data["notes"],
            photos=data["photos"],
            findings=[finding.finding_input() for finding in filled],
            client_uuid=data["client_uuid"],
        )
        if log.created_at < asked_at or log.liaison_id != user.pk:
            return log
        for row, finding in zip(log.findings.order_by("pk"), filled, strict=False):
            if finding.cleaned_data["fixed_on_spot"] and row.case_id is None:
                patrol_finding_to_case(
                    finding=row, actor=user, fixed_on_spot=True, result=finding.cleaned_data["result"]
                )
    return log


def _patrol_js_config() -> dict[str, Any]:
    """What static/js/patrol.js says, in the user's language."""
    return {
        "strings": {
            "sending": _("Sending…"),
            "pending": _("Draft saved; it will be sent again automatically."),
            "retrying": _("No connection yet; trying again…"),
            "restored": _("Your unsent draft was restored."),
            "discard": _("Discard the draft"),
            "photos_again": _("Photos are not kept in a draft; choose them again."),
            "signed_out": _("You were signed out. Sign in again; your draft is kept."),
            "locating": _("Finding your location…"),
            "location_failed": _("Could not get your location; type the address instead."),
            "accuracy": _("within %(metres)s m"),
            "finding": _("Finding %(number)s"),
            "too_many_photos": _("At most %(max)d photos can be uploaded at once."),
        },
        "max_photos": MAX_PHOTOS_PER_UPLOAD,
    }


@field_view("liaisons.add_patrollog")
def patrol_new(request: HttpRequest) -> HttpResponse:
    categories = finding_categories()
    status = 200
    if request.method == "POST" and "add_finding" in request.POST:
        # Without JavaScript, "add a finding" comes back here with one more blank finding.
        form = PatrolForm(initial=patrol_draft_initial(request.POST), user=request.user)
        findings = finding_formset(request.POST, categories=categories, extra_form=True)
    elif request.method == "POST":
        form = PatrolForm(request.POST, request.FILES, user=request.user)
        findings = finding_formset(request.POST, request.FILES, categories=categories)
        if form.is_valid() and findings.is_valid():
            try:
                log = _log_patrol(request.user, form, findings)
            except DomainError as error:
                form.add_error(None, str(error.message))
            else:
                messages.success(request, _("Patrol logged."))
                return redirect("liaisons:patrol_detail", pk=log.pk)
        status = 400
    else:
        form = PatrolForm(user=request.user)
        findings = finding_formset(categories=categories)
    community_field: Any = form.fields["community"]
    return render(
        request,
        "liaisons/patrol_form.html",
        {
            "form": form,
            "findings": findings,
            "has_communities": community_field.queryset.exists(),
            "draft_key": f"patrol-draft:{request.user.pk}",
            "js_config": _patrol_js_config(),
        },
        status=status,
    )


@field_view("liaisons.view_patrollog")
@require_POST
def finding_to_case(request: HttpRequest, pk: int) -> HttpResponse:
    finding = get_object_or_404(
        PatrolFinding.objects.select_related("patrol"),
        pk=pk,
        patrol__in=PatrolLog.objects.restrict(request.user),
    )
    try:
        case = patrol_finding_to_case(finding=finding, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error.message))
        return redirect("liaisons:patrol_detail", pk=finding.patrol_id)
    messages.success(request, _("Case %(number)s filed from the finding.") % {"number": case.number})
    return redirect("cases:detail", number=case.number)


# --- return visits (回访) ------------------------------------------------------------------


def _visits(user: Any) -> QuerySet[ReturnVisit]:
    return ReturnVisit.objects.restrict(user).select_related(
        "case__category__parent", "case__community", "liaison", "visited_by"
    )


@field_view("cases.view_returnvisit")
def visit_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    # Liaisons start with their own visits; supervisors with every visit in their area.
    default = "mine" if user.has_perm("liaisons.add_patrollog") else "all"
    who = request.GET.get("who") if request.GET.get("who") in ("mine", "all") else default
    since = clock.now() - timedelta(days=RECENT_VISIT_DAYS)
    queryset = _visits(user).filter(Q(status=VisitStatus.SCHEDULED) | Q(visited_at__gte=since))
    if who == "mine":
        queryset = queryset.filter(Q(liaison=user) | Q(visited_by=user))
    scheduled_first = SqlCase(
        When(status=VisitStatus.SCHEDULED, then=0), default=1, output_field=IntegerField()
    )
    queryset = queryset.order_by(
        scheduled_first,
        SqlCase(When(status=VisitStatus.SCHEDULED, then=F("due_at"))).asc(),
        F("visited_at").desc(nulls_last=True),
        "pk",
    )
    page = paginate(request, queryset)
    now = clock.now()
    for visit in page["page_obj"].object_list:
        visit.overdue = visit.status == VisitStatus.SCHEDULED and visit.due_at < now
    return render(
        request,
        "liaisons/visit_list.html",
        {
            **page,
            "who": who,
            "recent_days": RECENT_VISIT_DAYS,
            "show_contact": user.has_perm("cases.view_reporter_contact"),
        },
    )


@field_view("cases.view_returnvisit")
def visit_record(request: HttpRequest, pk: int) -> HttpResponse:
    visit = get_object_or_404(_visits(request.user), pk=pk)
    can_record = visit.status == VisitStatus.SCHEDULED and request.user.has_perm("cases.reopen_case")
    form = None
    status = 200
    if can_record:
        form = ReturnVisitForm(request.POST or None)
        if request.method == "POST":
            if form.is_valid():
                data = form.cleaned_data
                try:
                    return_visit_record(
                        visit=visit,
                        actor=request.user,
                        reached=data["reached"],
                        channel=data["channel"],
                        satisfaction=data["satisfaction"],
                        comment=data["comment"],
                        reopen=data["reopen"],
                    )
                except DomainError as error:
                    form.add_error(None, str(error.message))
                else:
                    if data["reopen"]:
                        messages.success(request, _("Return visit recorded; the case was reopened."))
                    else:
                        messages.success(request, _("Return visit recorded."))
                    return redirect("liaisons:visit_list")
            status = 400
    elif request.method == "POST":
        messages.error(request, _("This return visit has already been recorded."))
        return redirect("liaisons:visit_record", pk=visit.pk)
    return render(
        request,
        "liaisons/visit_record.html",
        {
            "visit": visit,
            "case": visit.case,
            "form": form,
            "show_contact": request.user.has_perm("cases.view_reporter_contact"),
        },
        status=status,
    )


# --- coordination meetings (协调会) -----------------------------------------------------------


@field_view("liaisons.view_meeting")
def meeting_list(request: HttpRequest) -> HttpResponse:
    queryset = (
        Meeting.objects.restrict(request.user)
        .select_related("community", "recorded_by")
        .defer("community__boundary")
        .annotate(case_count=count_of(Meeting.cases.through.objects.all(), "meeting"))
        .order_by("-held_at", "-id")
    )
    filterset = MeetingFilterSet(request.GET, queryset=queryset, request=request)
    return render(
        request,
        "liaisons/meeting_list.html",
        {
            "filterset": filterset,
            "can_record": request.user.has_perm("liaisons.add_meeting"),
            **paginate(request, filterset.qs),
        },
    )


@field_view("liaisons.add_meeting")
def meeting_new(request: HttpRequest) -> HttpResponse:
    form = MeetingForm(request.POST or None, user=request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                meeting = meeting_record(
                    community=data["community"],
                    actor=request.user,
                    held_at=data["held_at"],
                    title=data["title"],
                    location=data["location"],
                    attendees=data["attendees"],
                    issues=data["issues"],
                    resolutions=data["resolutions"],
                    cases=data["case_numbers"],
                )
            except DomainError as error:
                form.add_error(None, str(error.message))
            else:
                messages.success(request, _("Meeting recorded."))
                return redirect("liaisons:meeting_detail", pk=meeting.pk)
        status = 400
    return render(request, "liaisons/meeting_form.html", {"form": form}, status=status)


@field_view("liaisons.view_meeting")
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = get_object_or_404(
        Meeting.objects.restrict(request.user)
        .select_related("community__street__district", "recorded_by")
        .defer("community__boundary", "community__street__boundary", "community__street__district__boundary"),
        pk=pk,
    )
    # Linked cases are listed as far as the reader may see them.
    cases = cases_for(request.user).filter(meetings=meeting).order_by("number")
    return render(request, "liaisons/meeting_detail.html", {"meeting": meeting, "cases": cases})


# --- cover periods (AB角): supervisors name who covers a community --------------------------


@field_view("liaisons.view_coverperiod")
def cover_list(request: HttpRequest) -> HttpResponse:
    """Cover periods in the user's scope, newest first, with the form to add one."""
    can_change = request.user.has_perm("liaisons.change_coverperiod")
    form = CoverForm(request.POST or None, user=request.user) if can_change else None
    status = 200
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                cover_create(
                    community=data["community"],
                    backup=data["backup"],
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                    reason=data["reason"],
                    actor=request.user,
                )
            except DomainError as error:
                field = error.params.get("field") if error.params else None
                form.add_error(field if field in form.fields else None, str(error.message))
            else:
                messages.success(request, _("Cover saved."))
                return redirect("liaisons:cover_list")
        status = 400
    queryset = covers_for(request.user)
    community = request.GET.get("community")
    if community and community.isdigit():
        queryset = queryset.filter(community_id=int(community))
    return render(
        request,
        "liaisons/cover_list.html",
        {"form": form, "now": clock.now(), **paginate(request, queryset.order_by("-starts_at", "-pk"))},
        status=status,
    )


@require_POST
@field_view("liaisons.change_coverperiod")
def cover_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    cover = get_object_or_404(CoverPeriod.objects.restrict(request.user, "change"), pk=pk)
    try:
        cover_cancel(cover=cover, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Cover cancelled; the covering officer's access is withdrawn."))
    return redirect("liaisons:cover_list")
