"""门前三包 on a phone: shops, inspections against the checklist, rectification notices
(整改通知书, printable) and their re-inspection (复查).

Views are thin: reads start at the gate (restrict), forms validate, one
service writes, a DomainError becomes a message on the page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Max, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from chengguan import clock
from chengguan.errors import DomainError
from chengguan.permissions import scope_for
from inspections import services
from inspections.choices import NoticeStatus
from inspections.filtersets import ShopFilterSet
from inspections.forms import InspectionForm, ReinspectForm, ShopForm, active_checklist
from inspections.models import Inspection, InspectionResult, RectificationNotice, ResponsibilityUnit
from liaisons.views import field_view, paginate

GEOGRAPHY_BOUNDARIES = ("community__boundary", "community__street__boundary")


def shops_for(user: Any) -> QuerySet[ResponsibilityUnit]:
    """The units the user may see, each with its earliest open notice deadline and last inspection."""
    open_notices = RectificationNotice.objects.filter(unit=OuterRef("pk"), status=NoticeStatus.ISSUED)
    last_inspection = (
        Inspection.objects.filter(unit=OuterRef("pk"))
        .order_by()
        .values("unit")
        .annotate(last=Max("inspected_at"))
        .values("last")
    )
    return (
        ResponsibilityUnit.objects.restrict(user)
        .select_related("community")
        .defer("community__boundary")
        .annotate(
            open_notice_deadline=Subquery(open_notices.order_by("deadline").values("deadline")[:1]),
            last_inspected_at=Subquery(last_inspection[:1]),
        )
    )


def notices_for(user: Any) -> QuerySet[RectificationNotice]:
    return RectificationNotice.objects.restrict(user).select_related(
        "unit__community__street__district", "unit__grid_cell", "inspection__inspector", "case"
    )


def works_in(user: Any, unit: ResponsibilityUnit) -> bool:
    """Whether the user inspects here (the rule of inspections.services._require_inspector)."""
    scope = scope_for(user)
    return user.has_perm("inspections.add_inspection") and (
        scope.city_wide or unit.community_id in scope.community_ids
    )


@field_view("inspections.view_responsibilityunit")
def shop_list(request: HttpRequest) -> HttpResponse:
    queryset = shops_for(request.user).filter(is_active=True).order_by("community__code", "name", "pk")
    filterset = ShopFilterSet(request.GET, queryset=queryset, request=request)
    page = paginate(request, filterset.qs)
    now = clock.now()
    for shop in page["page_obj"].object_list:
        shop.reinspection_due = bool(shop.open_notice_deadline and shop.open_notice_deadline <= now)
    return render(
        request,
        "inspections/shop_list.html",
        {
            "filterset": filterset,
            "can_add": request.user.has_perm("inspections.add_responsibilityunit")
            and bool(scope_for(request.user).community_ids),
            **page,
        },
    )


@field_view("inspections.add_responsibilityunit")
def shop_new(request: HttpRequest) -> HttpResponse:
    form = ShopForm(request.POST or None, user=request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                unit = services.responsibility_unit_create(actor=request.user, **form.service_kwargs())
            except DomainError as error:
                form.add_error(None, str(error.message))
            else:
                messages.success(request, _("Shop %(name)s registered.") % {"name": unit.name})
                return redirect("inspections:shop_detail", pk=unit.pk)
        status = 400
    return render(
        request,
        "inspections/shop_form.html",
        {"form": form, "has_communities": form.fields["community"].queryset.exists()},  # type: ignore[attr-defined]
        status=status,
    )


@field_view("inspections.view_responsibilityunit")
def shop_detail(request: HttpRequest, pk: int) -> HttpResponse:
    unit = get_object_or_404(
        shops_for(request.user).select_related("community__street", "grid_cell").defer(*GEOGRAPHY_BOUNDARIES),
        pk=pk,
    )
    inspections = unit.inspections.select_related("inspector", "notice", "rechecks").order_by(
        "-inspected_at", "-id"
    )[:20]
    return render(
        request,
        "inspections/shop_detail.html",
        {
            "unit": unit,
            "agreements": unit.agreements.all(),
            "inspections": inspections,
            "notices": unit.notices.select_related("case").order_by("-issued_at", "-id"),
            "can_inspect": works_in(request.user, unit),
            "today": timezone.localdate(),
            "now": clock.now(),
        },
    )


@field_view("inspections.add_inspection")
def shop_inspect(request: HttpRequest, pk: int) -> HttpResponse:
    unit = get_object_or_404(shops_for(request.user).filter(is_active=True), pk=pk)
    form = InspectionForm(request.POST or None, items=active_checklist())
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                inspection = services.inspection_record(
                    unit=unit,
                    inspector=request.user,
                    outcomes=form.outcomes(),
                    notes=form.cleaned_data["notes"],
                    requirements=form.cleaned_data["requirements"],
                    client_uuid=form.cleaned_data["client_uuid"],
                )
            except DomainError as error:
                form.add_error(None, str(error.message))
            else:
                notice = RectificationNotice.objects.filter(inspection=inspection).first()
                if notice is None:
                    messages.success(request, _("Inspection recorded: everything passed."))
                    return redirect("inspections:shop_detail", pk=unit.pk)
                messages.warning(
                    request,
                    _("Inspection recorded. Rectification notice %(number)s issued; rectify by %(deadline)s.")
                    % {
                        "number": notice.number,
                        "deadline": f"{timezone.localtime(notice.deadline):%Y-%m-%d %H:%M}",
                    },
                )
                return redirect("inspections:notice_detail", pk=notice.pk)
        status = 400
    return render(request, "inspections/inspect_form.html", {"unit": unit, "form": form}, status=status)


@field_view("inspections.view_rectificationnotice")
def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(notices_for(request.user), pk=pk)
    failed = (
        InspectionResult.objects.filter(inspection_id=notice.inspection_id, passed=False)
        .select_related("item")
        .order_by("item__sort_order", "item__code")
    )
    return render(
        request,
        "inspections/notice_detail.html",
        {
            "notice": notice,
            "unit": notice.unit,
            "failed": failed,
            "reinspections": notice.reinspections.select_related("inspector").order_by("inspected_at"),
            "can_reinspect": notice.status == NoticeStatus.ISSUED and works_in(request.user, notice.unit),
            "deadline_passed": notice.deadline <= clock.now(),
        },
    )


@field_view("inspections.add_inspection")
def notice_reinspect(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(notices_for(request.user), pk=pk)
    if notice.status != NoticeStatus.ISSUED:
        messages.info(request, _("This notice has already been re-inspected."))
        return redirect("inspections:notice_detail", pk=notice.pk)
    form = ReinspectForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                notice = services.notice_reinspect(
                    notice=notice,
                    inspector=request.user,
                    rectified=form.cleaned_data["rectified"],
                    notes=form.cleaned_data["notes"],
                    client_uuid=form.cleaned_data["client_uuid"],
                )
            except DomainError as error:
                form.add_error(None, str(error.message))
            else:
                if notice.case is not None:
                    messages.warning(
                        request,
                        _("Not rectified: case %(number)s filed.") % {"number": notice.case.number},
                    )
                else:
                    messages.success(request, _("Rectified: the notice is settled."))
                return redirect("inspections:notice_detail", pk=notice.pk)
        status = 400
    return render(
        request,
        "inspections/reinspect_form.html",
        {
            "notice": notice,
            "unit": notice.unit,
            "form": form,
            "deadline_passed": notice.deadline <= clock.now(),
        },
        status=status,
    )
