"""Resident pages: the complaint form, nearby reports, the confirmation and the tracking page.

No login. Forms validate, services write, selectors read; what a resident
sees of a case is limited to what the public may know (no reporter data, no
internal events, no hidden photos).
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases import abuse, receipts, services
from cases.attachments import MAX_PHOTOS_PER_UPLOAD
from cases.choices import OPEN_STATUSES, AttachmentKind, CaseAction, CaseStatus, RejectReason
from cases.deadlines import stage_limit
from cases.forms.public import (
    CoReportForm,
    NearbyQueryForm,
    RatingForm,
    ReportForm,
    TrackForm,
    nearby_token,
    normalise_phone,
    read_prefill,
)
from cases.models import Case, CaseEvent, CaseFeedback
from cases.selectors import case_for_tracking, case_timeline, open_cases_near, tracking_master
from chengguan.errors import DomainError
from chengguan.masking import mask_phone
from chengguan.worktime import get_calendar
from communities.public import communities_extent, community_boundaries_geojson
from liaisons.selectors import current_liaison

EXCERPT_LENGTH = 60

# Statuses in a resident's words.
STATUS_FOR_RESIDENTS = {
    CaseStatus.REPORTED: gettext_lazy("We have received your report and are checking it."),
    CaseStatus.REGISTERED: gettext_lazy(
        "Your report has been accepted and will be passed to the people who fix it."
    ),
    CaseStatus.DISPATCHED: gettext_lazy(
        "The problem has been passed to the officer or unit who will fix it."
    ),
    CaseStatus.IN_PROGRESS: gettext_lazy("The problem is being dealt with."),
    CaseStatus.RESOLVED: gettext_lazy("The problem has been dealt with; the result is being checked."),
    CaseStatus.CLOSED: gettext_lazy("The problem has been dealt with and the case is closed."),
    CaseStatus.REJECTED: gettext_lazy("The report was not taken up."),
    CaseStatus.PARKED: gettext_lazy("The case is on hold for now; it will be taken up again later."),
}

SHORT_STATUS_FOR_RESIDENTS = {
    CaseStatus.REPORTED: gettext_lazy("Received"),
    CaseStatus.REGISTERED: gettext_lazy("Accepted"),
    CaseStatus.DISPATCHED: gettext_lazy("Being handled"),
    CaseStatus.IN_PROGRESS: gettext_lazy("Being handled"),
    CaseStatus.RESOLVED: gettext_lazy("Being checked"),
    CaseStatus.CLOSED: gettext_lazy("Closed"),
    CaseStatus.REJECTED: gettext_lazy("Not taken up"),
    CaseStatus.PARKED: gettext_lazy("On hold"),
}

# Public events in a resident's words.
ACTION_FOR_RESIDENTS = {
    CaseAction.REPORT: gettext_lazy("Report received"),
    CaseAction.REGISTER: gettext_lazy("Accepted as a case"),
    CaseAction.REJECT: gettext_lazy("Not taken up"),
    CaseAction.MERGE: gettext_lazy("Handled together with an earlier report of the same problem"),
    CaseAction.DISPATCH: gettext_lazy("Passed on to be fixed"),
    CaseAction.SIGN_FOR: gettext_lazy("Work started"),
    CaseAction.SUBMIT_RESULT: gettext_lazy("Dealt with; the result is being checked"),
    CaseAction.CLOSE: gettext_lazy("Result checked, case closed"),
    CaseAction.REWORK: gettext_lazy("Result not good enough, sent back to be fixed again"),
    CaseAction.REOPEN: gettext_lazy("Case reopened"),
    CaseAction.DUPLICATE_ADDED: gettext_lazy("Another report of the same problem was added"),
    CaseAction.CO_REPORTER_ADDED: gettext_lazy("Another resident reported the same problem"),
    CaseAction.RATED: gettext_lazy("Rated by the reporter"),
}

# The four steps of the progress bar and the statuses that have reached each.
PROGRESS_STEPS = [
    (gettext_lazy("Submitted"), set(CaseStatus)),
    (
        gettext_lazy("Accepted"),
        {CaseStatus.REGISTERED, CaseStatus.DISPATCHED, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED}
        | {CaseStatus.CLOSED, CaseStatus.PARKED},
    ),
    (
        gettext_lazy("Being handled"),
        {CaseStatus.DISPATCHED, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.CLOSED},
    ),
    (gettext_lazy("Closed"), {CaseStatus.CLOSED}),
]


# --- helpers -----------------------------------------------------------------------------------


def plain_working_time(amount: timedelta) -> str:
    """A stage limit in words: working hours up to a working day, whole working days above."""
    hours = amount / timedelta(hours=1)
    day_hours = get_calendar().day_length / timedelta(hours=1) or 8
    if hours <= day_hours:
        shown = max(1, math.ceil(hours))
        return ngettext("%(count)d working hour", "%(count)d working hours", shown) % {"count": shown}
    days = math.ceil(hours / day_hours)
    return ngettext("%(count)d working day", "%(count)d working days", days) % {"count": days}


_DIGIT_RUNS = re.compile(r"(?<!\d)\d[\d\s\-]{5,}\d(?!\d)")
_ID_NUMBERS = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def public_excerpt(text: str, length: int = EXCERPT_LENGTH) -> str:
    """The start of a description for strangers: phone and ID numbers masked, at most `length` characters."""
    flat = " ".join((text or "").split())
    flat = _ID_NUMBERS.sub(lambda m: mask_phone(m.group()), flat)
    flat = _DIGIT_RUNS.sub(lambda m: mask_phone(re.sub(r"\D", "", m.group())), flat)
    return flat if len(flat) <= length else flat[: length - 1] + "…"


def _json(data: dict[str, Any], status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})


def _rate_limited_message() -> str:
    return _(
        "You have sent many reports in a short time. Please wait a while and try again, "
        "or call 12345 or 12319 to report the problem."
    )


# --- the complaint form ------------------------------------------------------------------------


def _map_config(form: ReportForm) -> dict[str, Any]:
    extent = communities_extent()
    return {
        "tileUrl": settings.MAP_TILE_URL,
        "tileAttribution": settings.MAP_TILE_ATTRIBUTION,
        "areasUrl": reverse("public:areas"),
        "nearbyUrl": reverse("public:nearby"),
        "coReportUrl": reverse("public:co_report"),
        "extent": list(extent) if extent else None,
        "categories": {str(rules.pk): rules.as_json() for rules in form.category_rules},
        "strings": {
            "outside": _(
                "This spot is not inside any community we know. You may choose the community below; "
                "if you leave it, an operator will place your report."
            ),
            "inside": _("Community: %(name)s"),
            "pinPlaced": _("Pin placed."),
            "locating": _("Finding your location…"),
            "locateFailed": _(
                "Your location could not be found. Put the pin on the map or type the address instead."
            ),
            "noGeolocation": _("This browser cannot share its location. Put the pin on the map instead."),
            "nearbyTitle": _("Open reports of the same problem nearby"),
            "nearbyIntro": _(
                "If one of these is your problem, press “Me too” instead of filing it again: "
                "it counts your voice and you will be told about the result."
            ),
            "metres": _("%(distance)s m away"),
            "reportedOn": _("reported %(date)s"),
            "reports": _("%(count)s reports"),
            "meToo": _("Me too"),
            "confirm": _("Add me to this report"),
            "cancel": _("Cancel"),
            "phoneOptional": _("Mobile phone (optional, for the SMS about the result)"),
            "nameOptional": _("Your name (optional)"),
            "failed": _("That did not work. Please try again."),
            "sending": _("Sending…"),
            # The service's own words, with the name left for the script to fill in.
            "photosTooMany": _("At most %(max)d photos can be uploaded at once.")
            % {"max": MAX_PHOTOS_PER_UPLOAD},
            "photoTooLarge": _("The photo %(name)s is larger than %(limit)d MB.")
            % {"name": "%(name)s", "limit": settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)},
            "photoNotImage": _("%(name)s is not a JPEG, PNG or WebP photo.") % {"name": "%(name)s"},
            "removePhoto": _("Remove photo %(name)s"),
            "photoCount": _("%(count)s of %(max)s photos"),
            "matches": _("%(count)s kinds shown"),
            "chosen": _("Chosen:"),
        },
        "maxPhotos": MAX_PHOTOS_PER_UPLOAD,
        "maxPhotoMb": settings.ATTACHMENT_MAX_BYTES // (1024 * 1024),
    }


def _render_form(request: HttpRequest, form: ReportForm, *, status: int = 200, **extra: Any) -> HttpResponse:
    context = {
        "form": form,
        "map_config": _map_config(form),
        "privacy_open": bool(form.errors.get("consent")),
        **extra,
    }
    return render(request, "cases/public/report_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    """The complaint form: GET shows it (pre-filled from a QR code or link), POST files the report."""
    if request.method == "GET":
        return _render_form(
            request, ReportForm(initial=read_prefill(request.GET), captcha=abuse.captcha_required(request))
        )

    # A double click or a replayed POST files nothing new: the form's idempotency
    # key makes case_report return the report it already filed.
    form = ReportForm(request.POST, request.FILES, captcha=abuse.captcha_required(request))
    if abuse.report_rate_limited(request) or abuse.phone_rate_limited(
        request, normalise_phone(request.POST.get("reporter_phone"))
    ):
        # Keep what the resident typed; nothing is filed.
        form.is_valid()
        return _render_form(request, form, status=429, rate_limited=_rate_limited_message())

    if form.is_valid():
        try:
            case = services.case_report(actor=request.user, reporter=request.user, **form.report_kwargs())
        except DomainError as error:
            form.add_service_error(error)
        else:
            abuse.count_report(request)
            response = redirect("public:report_done", code=case.tracking_code)
            receipts.remember(request, response, case.tracking_code, as_filer=True)
            return response
    return _render_form(request, form, status=400)


@require_GET
def report_done(request: HttpRequest, code: str) -> HttpResponse:
    """The confirmation, for the browser that filed the report only (it shows the tracking code)."""
    if not receipts.filed(request, code):
        raise Http404
    case = case_for_tracking(code)
    if case is None:
        raise Http404
    handle = stage_limit(case.category, case.urgency, "handle")
    return render(
        request,
        "cases/public/report_done.html",
        {
            "case": case,
            "register_within": plain_working_time(stage_limit(case.category, case.urgency, "register")),
            "handle_within": plain_working_time(handle),
            "track_url": reverse("public:track_detail", args=[case.tracking_code]),
        },
    )


@require_GET
@cache_control(public=True, max_age=300)
def areas(request: HttpRequest) -> JsonResponse:
    """Community boundaries (GeoJSON) for the map, from this host so no other is asked."""
    return _json(community_boundaries_geojson())


# --- nearby reports and 我也遇到了 ---------------------------------------------------------------


@require_GET
def nearby(request: HttpRequest) -> JsonResponse:
    """Open reports of a category near a point (200 m, 7 days): what a stranger may see, nothing else."""
    if abuse.nearby_rate_limited(request):
        return _json({"error": _rate_limited_message(), "results": []}, status=429)
    form = NearbyQueryForm(request.GET)
    if not form.is_valid():
        return _json({"error": _("Choose a category and a place first."), "results": []}, status=400)
    found = open_cases_near(
        category=form.cleaned_data["category"], lat=form.cleaned_data["lat"], lng=form.cleaned_data["lng"]
    )
    results = [
        {
            "id": nearby_token(case),
            "number": case.number,
            "excerpt": public_excerpt(case.description),
            "status": case.status,
            "statusLabel": str(SHORT_STATUS_FOR_RESIDENTS[CaseStatus(case.status)]),
            "distance": case.distance_m,  # type: ignore[attr-defined]
            "reportedOn": timezone.localtime(case.reported_at).date().isoformat(),
            "reports": case.report_count,
        }
        for case in found
    ]
    return _json({"results": results})


@require_POST
def co_report(request: HttpRequest) -> JsonResponse:
    """我也遇到了: add the resident to an open case offered by `nearby`.

    The co-reporter gets the case number, never the case's tracking code: the
    code is the first reporter's key to the tracking and rating page. With a
    phone number they are texted on registration, closure or rejection.
    """
    if abuse.co_report_rate_limited(request):
        return _json({"error": _rate_limited_message()}, status=429)
    form = CoReportForm(request.POST)
    if not form.is_valid():
        return _json({"error": form.first_error()}, status=400)
    data = form.cleaned_data
    if abuse.phone_rate_limited(request, data["reporter_phone"], group=abuse.CO_REPORT_GROUP + ".phone"):
        return _json({"error": _rate_limited_message()}, status=429)
    try:
        co_reporter = services.case_add_co_reporter(
            case=data["case"],
            name=data["reporter_name"],
            phone=data["reporter_phone"],
            user=request.user,
            idempotency_key=data["idempotency_key"],
        )
    except Case.DoesNotExist:
        return _json({"error": _("This report no longer exists. Please file a new one.")}, status=400)
    except DomainError as error:
        return _json({"error": str(error.message)}, status=400)
    number = co_reporter.case.number
    if co_reporter.phone:
        message = _(
            "Thank you. You have been added to report %(number)s. We will text you when it is "
            "accepted and when it is closed."
        ) % {"number": number}
    else:
        message = _(
            "Thank you. You have been added to report %(number)s. Without a phone number we cannot "
            "tell you about the result."
        ) % {"number": number}
    return _json({"number": number, "message": message})


# --- tracking ------------------------------------------------------------------------------------


def _rate_limited_page(request: HttpRequest) -> HttpResponse:
    return render(request, "cases/public/rate_limited.html", {"message": _rate_limited_message()}, status=429)


def _not_found(request: HttpRequest, form: TrackForm | None = None) -> HttpResponse:
    return render(request, "cases/public/track_not_found.html", {"form": form or TrackForm()}, status=404)


@require_http_methods(["GET", "POST"])
def track(request: HttpRequest) -> HttpResponse:
    """Look a case up by its tracking code, optionally proving the phone number for rating."""
    if request.method == "GET" and "code" not in request.GET:
        return render(request, "cases/public/track_form.html", {"form": TrackForm()})
    if abuse.tracking_blocked(request):
        return _rate_limited_page(request)
    form = TrackForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        return render(request, "cases/public/track_form.html", {"form": form}, status=400)
    code, phone = form.cleaned_data["code"], form.cleaned_data["phone"]
    case = case_for_tracking(code, phone or None)
    if case is None:
        abuse.count_tracking_miss(request)
        if phone and case_for_tracking(code) is not None:
            form.add_error("phone", _("This phone number was not used to report this case."))
            return render(request, "cases/public/track_form.html", {"form": form}, status=400)
        return _not_found(request, form)
    response = redirect("public:track_detail", code=case.tracking_code)
    if phone:
        receipts.remember(request, response, case.tracking_code)
    return response


def _may_rate_without_phone(request: HttpRequest, case: Case) -> bool:
    user = request.user
    if user.is_authenticated and case.reporter_id == user.pk:
        return True
    return receipts.verified(request, case.tracking_code)


def _event_rows(case: Case) -> list[dict[str, Any]]:
    rows = []
    for event in case_timeline(case, public_only=True):
        rows.append(
            {
                "event": event,
                "label": ACTION_FOR_RESIDENTS.get(CaseAction(event.action), event.get_action_display()),
                "detail": _event_detail(case, event),
            }
        )
    return rows


def _event_detail(case: Case, event: CaseEvent) -> str:
    action = CaseAction(event.action)
    if action == CaseAction.DISPATCH and event.data.get("handling_unit_name"):
        return _("Handled by %(unit)s") % {"unit": event.data["handling_unit_name"]}
    if action == CaseAction.REJECT and event.data.get("reason"):
        try:
            return str(RejectReason(event.data["reason"]).label)
        except ValueError:
            return ""
    if action == CaseAction.MERGE and event.data.get("master"):
        return _("Merged into case %(number)s") % {"number": event.data["master"]}
    if action in (CaseAction.CO_REPORTER_ADDED, CaseAction.DUPLICATE_ADDED) and event.data.get(
        "report_count"
    ):
        return _("%(count)s reports of this problem so far") % {"count": event.data["report_count"]}
    return ""


def _feedback(case: Case) -> CaseFeedback | None:
    try:
        return case.feedback
    except ObjectDoesNotExist:
        return None


def _progress(status: CaseStatus) -> list[dict[str, Any]]:
    done = [status in reached for _label, reached in PROGRESS_STEPS]
    current = max((index for index, flag in enumerate(done) if flag), default=0)
    return [
        {"label": label, "done": flag, "current": index == current}
        for index, ((label, _reached), flag) in enumerate(zip(PROGRESS_STEPS, done, strict=True))
    ]


def _tracking_context(
    request: HttpRequest, case: Case, rating_form: RatingForm | None = None
) -> dict[str, Any]:
    photos = case.attachments.filter(is_hidden=False)
    feedback = _feedback(case)
    may_rate = case.status == CaseStatus.CLOSED and feedback is None
    if may_rate and rating_form is None:
        rating_form = RatingForm(needs_phone=not _may_rate_without_phone(request, case))
    liaison = current_liaison(case.community) if case.community_id and case.community else None
    # A merged report is handled in its master: the page shows the master's status,
    # and its result once closed, as the master's own page shows them to the public.
    master = tracking_master(case) if case.merged_into_id else None
    status = CaseStatus(master.status if master else case.status)
    after_photos = [p for p in photos if p.kind == AttachmentKind.AFTER]
    result = case.result
    if master:
        closed = status == CaseStatus.CLOSED
        result = master.result if closed else ""
        after_photos = (
            list(master.attachments.filter(is_hidden=False, kind=AttachmentKind.AFTER)) if closed else []
        )
    return {
        "case": case,
        "status": status,
        "status_text": STATUS_FOR_RESIDENTS[status],
        "status_label": SHORT_STATUS_FOR_RESIDENTS[status],
        "steps": _progress(status),
        "show_steps": status not in (CaseStatus.REJECTED, CaseStatus.PARKED),
        "events": _event_rows(case),
        "before_photos": [p for p in photos if p.kind == AttachmentKind.BEFORE],
        "after_photos": after_photos,
        "liaison": liaison,
        "feedback": feedback,
        "rating_form": rating_form if may_rate else None,
        "master": master,
        "master_open": master is not None and status in OPEN_STATUSES,
        "deadline": case.deadline if case.is_open else None,
        "result": result,
        "show_result": bool(result) and status in (CaseStatus.RESOLVED, CaseStatus.CLOSED),
    }


@require_GET
def track_detail(request: HttpRequest, code: str) -> HttpResponse:
    if abuse.tracking_blocked(request):
        return _rate_limited_page(request)
    case = case_for_tracking(code)
    if case is None:
        abuse.count_tracking_miss(request)
        return _not_found(request, TrackForm(initial={"code": code}))
    return render(request, "cases/public/track_detail.html", _tracking_context(request, case))


@require_POST
def rate(request: HttpRequest, code: str) -> HttpResponse:
    """The reporter's rating of a closed case: the phone used when reporting, or their account."""
    if abuse.tracking_blocked(request):
        return _rate_limited_page(request)
    case = case_for_tracking(code)
    if case is None:
        abuse.count_tracking_miss(request)
        return _not_found(request, TrackForm(initial={"code": code}))
    if case.status != CaseStatus.CLOSED or _feedback(case) is not None:
        # Nothing to rate (any more): the page says why.
        messages.info(
            request,
            _("This case has already been rated.")
            if case.status == CaseStatus.CLOSED
            else _("A case can be rated once it is closed."),
        )
        return redirect("public:track_detail", code=case.tracking_code)
    form = RatingForm(request.POST, needs_phone=not _may_rate_without_phone(request, case))
    if form.is_valid():
        phone = form.cleaned_data.get("phone")
        if form.needs_phone and case_for_tracking(code, phone) is None:
            abuse.count_tracking_miss(request)
            form.add_error("phone", _("This phone number was not used to report this case."))
        else:
            try:
                services.case_rate(
                    case=case,
                    satisfaction=form.cleaned_data["satisfaction"],
                    comment=form.cleaned_data["comment"],
                    actor=request.user,
                )
            except DomainError as error:
                # A rating given at the same moment from elsewhere, or the case reopened.
                messages.error(request, str(error.message))
                return redirect("public:track_detail", code=case.tracking_code)
            messages.success(request, _("Thank you for your rating."))
            response = redirect("public:track_detail", code=case.tracking_code)
            receipts.remember(request, response, case.tracking_code)
            return response
    return render(
        request, "cases/public/track_detail.html", _tracking_context(request, case, form), status=400
    )
