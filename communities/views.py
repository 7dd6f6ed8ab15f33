"""Public community pages (人员信息上墙公开): the posted liaisons and how the community's cases fare."""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cases.choices import OPEN_STATUSES, CaseStatus
from cases.selectors import community_public_stats
from chengguan import clock
from chengguan.permissions import can, scope_for
from communities import qr
from communities.filtersets import FacilityFilterSet
from communities.models import Community, District, EnforcementDisclosure, Facility
from communities.public import communities_by_street, public_community, public_facility, responsible_liaisons
from communities.selectors import (
    REPEAT_FAULT_DAYS,
    REPEAT_FAULT_THRESHOLD,
    disclosure_results,
    facilities_listed,
    facilities_of,
    facility_public_cases,
    facility_recent_count,
)
from liaisons.choices import AssignmentRole
from liaisons.selectors import current_cover, current_liaison

PAST_CASES_PER_PAGE = 20
FACILITIES_PER_PAGE = 25


def _percent(rate: float | None) -> int | None:
    return None if rate is None else round(rate * 100)


@require_GET
def community_list(request: HttpRequest) -> HttpResponse:
    groups = communities_by_street()
    liaisons = responsible_liaisons(c for group in groups for c in group.communities)
    return render(
        request,
        "communities/community_list.html",
        {
            "groups": [
                (group.street, [(community, liaisons.get(community.pk)) for community in group.communities])
                for group in groups
            ],
        },
    )


@require_GET
def community_detail(request: HttpRequest, code: str) -> HttpResponse:
    community = public_community(code)
    if community is None:
        raise Http404
    stats = community_public_stats(community)
    return render(
        request,
        "communities/community_detail.html",
        {
            "community": community,
            "district": community.street.district,
            "responsible": current_liaison(community),
            "backup": current_liaison(community, AssignmentRole.BACKUP),
            "cover": current_cover(community),
            "stats": stats,
            "on_time_percent": _percent(stats["on_time_rate"]),
            "satisfaction_percent": _percent(stats["satisfaction_rate"]),
            "report_url": f"{reverse('public:report')}?{urlencode({'community': community.code})}",
            # Linked only when published: the disclosure page is a 404 otherwise.
            "has_disclosure": EnforcementDisclosure.objects.filter(
                district_id=community.street.district_id, is_published=True
            ).exists(),
            # Staff working here also get the way to its facilities and QR sheet.
            "staff_view": request.user.is_authenticated and can(request.user, "view", community),
            "facility_list_url": reverse("communities:facility_list") + f"?community={community.pk}",
        },
    )


# --- QR service codes (城市服务码): printable sheets for staff -------------------------------


@dataclass(frozen=True)
class QrLabel:
    title: str
    subtitle: str
    code: str
    url: str
    svg: str
    png_url: str
    svg_url: str


def _facility_label(request: HttpRequest, facility: Facility) -> QrLabel:
    url = qr.absolute(request, qr.facility_report_path(facility))
    return QrLabel(
        title=facility.name,
        subtitle=f"{facility.get_kind_display()} · {facility.community.name}",
        code=facility.code,
        url=url,
        svg=qr.qr_svg(url),
        png_url=reverse("communities:facility_qr_image", args=[facility.code, "png"]),
        svg_url=reverse("communities:facility_qr_image", args=[facility.code, "svg"]),
    )


def _community_label(request: HttpRequest, community: Community) -> QrLabel:
    url = qr.absolute(request, qr.community_report_path(community))
    return QrLabel(
        title=community.name,
        subtitle=_("Report any problem in this community"),
        code=community.code,
        url=url,
        svg=qr.qr_svg(url),
        png_url=reverse("communities:qr_image", args=[community.code, "png"]),
        svg_url=reverse("communities:qr_image", args=[community.code, "svg"]),
    )


def _staff_community(request: HttpRequest, code: str) -> Community:
    # Outside the user's scope the community does not exist for them.
    return get_object_or_404(
        Community.objects.restrict(request.user, "view").select_related("street__district"), code=code
    )


def _staff_facility(request: HttpRequest, code: str) -> Facility:
    return get_object_or_404(
        Facility.objects.restrict(request.user, "view").select_related("community__street__district"),
        code=code,
    )


@login_required
@require_GET
def qr_sheet(request: HttpRequest, code: str) -> HttpResponse:
    """A4 sheet of a community's QR codes: one for the community, one per active facility."""
    community = _staff_community(request, code)
    labels = [_community_label(request, community)]
    labels += [_facility_label(request, facility) for facility in facilities_of(community, request.user)]
    return render(
        request,
        "communities/qr_sheet.html",
        {
            "community": community,
            "labels": labels,
            "title": _("QR service codes of %(name)s") % {"name": community.name},
        },
    )


@login_required
@require_GET
def facility_qr_sheet(request: HttpRequest, code: str) -> HttpResponse:
    facility = _staff_facility(request, code)
    return render(
        request,
        "communities/qr_sheet.html",
        {
            "community": facility.community,
            "labels": [_facility_label(request, facility)],
            "title": _("QR service code of %(name)s") % {"name": facility.name},
        },
    )


def _image_response(url: str, fmt: str, filename: str) -> HttpResponse:
    if fmt == "png":
        response = HttpResponse(qr.qr_png(url), content_type="image/png")
    elif fmt == "svg":
        response = HttpResponse(qr.qr_svg_document(url), content_type="image/svg+xml")
    else:
        raise Http404
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


@login_required
@require_GET
def qr_image(request: HttpRequest, code: str, fmt: str) -> HttpResponse:
    community = _staff_community(request, code)
    return _image_response(
        qr.absolute(request, qr.community_report_path(community)), fmt, f"qr-{community.code}"
    )


@login_required
@require_GET
def facility_qr_image(request: HttpRequest, code: str, fmt: str) -> HttpResponse:
    facility = _staff_facility(request, code)
    return _image_response(
        qr.absolute(request, qr.facility_report_path(facility)), fmt, f"qr-{facility.code}"
    )


# --- the staff facility list -------------------------------------------------------------------


@login_required
@permission_required("communities.view_facility", raise_exception=True)
@require_GET
def facility_list(request: HttpRequest) -> HttpResponse:
    """Facilities in the user's scope with their open cases and repeat faults, filtered and paginated.

    Only for people with an area (a district, communities or the city):
    handling units work on what is dispatched to them and have none.
    """
    scope = scope_for(request.user)
    if not (scope.city_wide or scope.district_ids or scope.community_ids):
        raise PermissionDenied
    filterset = FacilityFilterSet(
        request.GET, queryset=facilities_listed(request.user, now=clock.now()), request=request
    )
    paginator = Paginator(filterset.qs, FACILITIES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    community = filterset.form.cleaned_data.get("community") if filterset.is_valid() else None
    return render(
        request,
        "communities/facility_list.html",
        {
            "filterset": filterset,
            "page_obj": page,
            "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "is_filtered": any(value for key, value in request.GET.items() if key != "page"),
            "community": community,
            "repeat_days": REPEAT_FAULT_DAYS,
            "repeat_threshold": REPEAT_FAULT_THRESHOLD,
        },
    )


# --- the public facility page -----------------------------------------------------------------


@require_GET
def facility_detail(request: HttpRequest, code: str) -> HttpResponse:
    """A facility's public page: its open and past cases (public fields only) and repeat faults."""
    facility = public_facility(code)
    if facility is None:
        raise Http404
    cases = facility_public_cases(facility)
    open_cases = list(cases.filter(status__in=OPEN_STATUSES - {CaseStatus.REPORTED})[:50])
    past = Paginator(cases.filter(status=CaseStatus.CLOSED), PAST_CASES_PER_PAGE)
    page = past.get_page(request.GET.get("page"))
    recent = facility_recent_count(facility, now=clock.now())
    return render(
        request,
        "communities/facility_detail.html",
        {
            "facility": facility,
            "community": facility.community,
            "open_cases": open_cases,
            "page_obj": page,
            "page_range": past.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "recent_count": recent,
            "repeat_days": REPEAT_FAULT_DAYS,
            "is_repeat_fault": recent >= REPEAT_FAULT_THRESHOLD,
            "report_url": qr.facility_report_path(facility),
        },
    )


# --- enforcement disclosure (执法信息公开) ----------------------------------------------------


@require_GET
def disclosure(request: HttpRequest, code: str) -> HttpResponse:
    """A district's enforcement disclosure with the last 12 months' results, for everyone."""
    district = get_object_or_404(District.objects.filter(is_active=True), code=code)
    info = getattr(district, "disclosure", None)
    if info is None or not info.is_published:
        raise Http404
    results = disclosure_results(district, now=clock.now())
    return render(
        request,
        "communities/disclosure.html",
        {"district": district, "info": info, "results": results},
    )
