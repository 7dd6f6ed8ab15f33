"""Dashboard pages: the supervisor dashboard, its CSV downloads, the monthly
assessment (月度考核) with its exports and two-way rating input, and the public
statistics page. Reads come from cases.dashboard, the one write from
cases.assessment; the views only parse parameters and render.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from cases import dashboard as reads
from cases.assessment import two_way_rating_submit
from cases.forms.dashboard import AssessmentMonthForm, DashboardForm, TwoWayRatingForm
from cases.models import TwoWayRating
from chengguan.errors import DomainError


def _analytic(view: Any) -> Any:
    """The view's reads and its rendering (which runs the lazy ones) without JIT (cases.dashboard)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with reads.analytic_reads():
            return view(request, *args, **kwargs)

    return wrapper


def _staff(view: Any) -> Any:
    """Signed in (else to the login page), holding the case role (else 403); scope comes from the gate."""
    view = _analytic(view)
    view = permission_required("cases.view_case", raise_exception=True)(view)
    return login_required(view)


def _dashboard(request: HttpRequest) -> tuple[DashboardForm, reads.Dashboard]:
    """The form and the dashboard asked for; `?fresh=1` recomputes the cached figures (throttled)."""
    if request.GET.get("fresh"):
        reads.start_afresh(request.user)
    form = DashboardForm(request.GET, choices=reads.filter_choices(request.user))
    return form, reads.Dashboard(request.user, form.filters(), form.period_choice())


# The map's table of numbers lists the busiest cells; the CSV has them all.
HOT_CELLS = 30


# What json_script escapes, with str.replace: str.translate walks the whole text
# character by character, and the map's GeoJSON is the page's largest part.
_JSON_SCRIPT_ESCAPES = (("&", "\\u0026"), ("<", "\\u003C"), (">", "\\u003E"))


def _json_script(value: Any, element_id: str) -> SafeString:
    """django.utils.html.json_script, faster for large values: compact JSON, the same escapes."""
    text = json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":"))
    for char, escaped in _JSON_SCRIPT_ESCAPES:
        text = text.replace(char, escaped)
    return format_html('<script id="{}" type="application/json">{}</script>', element_id, mark_safe(text))


def _query_without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


@_staff
def index(request: HttpRequest) -> HttpResponse:
    form, dashboard = _dashboard(request)
    paginator: Paginator[int] = Paginator(dashboard.attention_ids, reads.ATTENTION_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    # The charts, downloads and pages read the figures just computed: no "fresh" in their links.
    query = _query_without(request, "page", "fresh")
    map_data = dashboard.geojson()
    tiles = dashboard.tiles
    return render(
        request,
        "cases/dashboard/index.html",
        {
            "form": form,
            "dashboard": dashboard,
            "dperiod": dashboard.dperiod,
            "tiles": tiles,
            "charts": dashboard.chart_data(),
            "map_data": map_data,
            "map_data_script": _json_script(map_data, "dash-map-data"),
            "hot_cells": sorted(
                (cell for cell in dashboard.grid_cells if cell["count"]), key=lambda cell: -cell["count"]
            )[:HOT_CELLS],
            "map_config": {
                "tileUrl": settings.MAP_TILE_URL,
                "tileAttribution": settings.MAP_TILE_ATTRIBUTION,
            },
            "page_obj": page,
            "attention_cases": dashboard.attention_cases(page.object_list),
            "page_range": paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1),
            "attention_url": dashboard.url("attention"),
            "csv_links": [
                (chart, f"{reverse('dashboard:chart_csv', args=[chart])}?{query}") for chart in reads.CHARTS
            ],
            "data_urls": {
                chart: f"{reverse('dashboard:chart_data', args=[chart])}?{query}"
                for chart in reads.ASYNC_CHARTS
            },
            "query": query,
            # After every figure above was read: when the oldest of them was computed.
            "as_of": dashboard.as_of,
            "refresh_url": f"?{query}&fresh=1" if query else "?fresh=1",
            "strings": {
                "lang": request.LANGUAGE_CODE,  # type: ignore[attr-defined]
                "reported": _("Reports received"),
                "closed": _("Closed"),
                "cases": _("cases"),
                "date": _("Date"),
                "category": _("Category"),
                "source": _("Source"),
                "failed": _("The chart could not be loaded."),
            },
        },
    )


def _cell(value: Any) -> Any:
    """A value as a spreadsheet cell: text that a spreadsheet would run as a formula stays text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _csv_response(filename: str, header: list[Any], rows: list[list[Any]]) -> HttpResponse:
    buffer = io.StringIO()
    # The BOM makes spreadsheet programs read the Chinese text as UTF-8.
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([str(cell) for cell in header])
    for row in rows:
        writer.writerow(["" if cell is None else _cell(cell) for cell in row])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@_staff
def chart_csv(request: HttpRequest, chart: str) -> HttpResponse:
    if chart not in reads.CHARTS:
        raise Http404
    _form, dashboard = _dashboard(request)
    header, rows = reads.chart_rows(dashboard, chart)
    period = dashboard.dperiod
    return _csv_response(f"{chart}-{period.first:%Y%m%d}-{period.last:%Y%m%d}.csv", header, rows)


@_staff
def chart_data(request: HttpRequest, chart: str) -> HttpResponse:
    """One chart's rows as JSON for the dashboard's script: the same gate, scope and period as its CSV."""
    if chart not in reads.ASYNC_CHARTS:
        raise Http404
    _form, dashboard = _dashboard(request)
    period = dashboard.dperiod
    rows = reads.chart_items(dashboard, chart)
    return JsonResponse(
        {
            "chart": chart,
            "first": period.first.isoformat(),
            "last": period.last.isoformat(),
            "rows": rows,
            "as_of": dashboard.as_of.isoformat(),
        }
    )


# --- monthly assessment -------------------------------------------------------


def _assessment(
    request: HttpRequest, *, cached: bool = False
) -> tuple[AssessmentMonthForm, reads.Assessment]:
    form = AssessmentMonthForm(request.GET or None)
    return form, reads.Assessment(request.user, form.chosen(), cached=cached)


@_staff
def assessment(request: HttpRequest) -> HttpResponse:
    """The month's rankings from the cached figures; `?fresh=1` recomputes them (throttled)."""
    if request.GET.get("fresh"):
        reads.start_afresh(request.user)
    form, report = _assessment(request, cached=True)
    month = f"{report.first:%Y-%m}"
    user = request.user
    as_of = report.as_of
    return render(
        request,
        "cases/dashboard/assessment.html",
        {
            "form": form,
            "report": report,
            "month": month,
            "previous_month": f"{report.previous_first:%Y-%m}",
            "next_month": f"{reads.month_last_day(report.first) + timedelta(days=1):%Y-%m}",
            "weights": report.weights,
            "xlsx_url": f"{reverse('dashboard:assessment_export', args=['xlsx'])}?month={month}",
            "csv_url": f"{reverse('dashboard:assessment_export', args=['csv'])}?month={month}",
            "can_rate": user.has_perm("cases.rate_liaison") or user.has_perm("cases.rate_community"),
            "as_of": as_of,
            "as_of_today": timezone.localdate(as_of) == timezone.localdate(report.now),
            "refresh_url": f"?month={month}&fresh=1",
        },
    )


def _xlsx(report: reads.Assessment) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheets = [("units", _("Handling units")), ("liaisons", _("Liaisons"))]
    for index, (kind, title) in enumerate(sheets):
        sheet = book.active if index == 0 else book.create_sheet()
        assert sheet is not None
        sheet.title = title[:31]
        header, rows = reads.assessment_table(report, kind)
        sheet.append([f"{title} · {report.first:%Y-%m}"])
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append([str(cell) for cell in header])
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([_cell(cell) for cell in row])
        sheet.freeze_panes = "C3"
        sheet.column_dimensions["B"].width = 24
    ratings = book.create_sheet(_("Two-way ratings")[:31])
    ratings.append(
        [
            _("Community"),
            _("Rating of the liaison"),
            _("Liaison"),
            _("Comment"),
            _("Rating of the community's cooperation"),
            _("Comment"),
        ]
    )
    for entry in report.two_way:
        of_liaison, of_community = entry["of_liaison"], entry["of_community"]
        ratings.append(
            [
                _cell(entry["community"].name),
                of_liaison.score if of_liaison else None,
                _cell(of_liaison.liaison.display_name if of_liaison else ""),
                _cell(of_liaison.comment if of_liaison else ""),
                of_community.score if of_community else None,
                _cell(of_community.comment if of_community else ""),
            ]
        )
    weights = book.create_sheet(_("Weights")[:31])
    for key, weight in report.weights.items():
        weights.append([str(reads.weight_label(key)), weight])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@_staff
def assessment_export(request: HttpRequest, fmt: str) -> HttpResponse:
    # Computed now, not from the page's cache: a file kept as the month's record
    # carries no "as of", and "overdue now" would otherwise be up to
    # ASSESSMENT_CACHE_SECONDS old. Exports are few; their cost does not matter.
    _form, report = _assessment(request)
    name = f"assessment-{report.first:%Y-%m}"
    if fmt == "xlsx":
        response = HttpResponse(
            _xlsx(report),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        return response
    if fmt == "csv":
        # One table: units and liaisons one after the other, the liaisons' extra columns empty for units.
        header, _rows = reads.assessment_table(report, "liaisons")
        header = [_("Kind"), header[0], _("Unit or liaison"), *header[2:]]
        rows: list[list[Any]] = []
        for kind, label in [("units", _("Handling unit")), ("liaisons", _("Liaison"))]:
            _header, kind_rows = reads.assessment_table(report, kind)
            rows += [[label, *row, *[None] * (len(header) - 1 - len(row))] for row in kind_rows]
        return _csv_response(f"{name}.csv", header, rows)
    raise Http404


@login_required
@require_http_methods(["GET", "POST"])
def rate(request: HttpRequest) -> HttpResponse:
    """Two-way assessment input: the forms for the directions the user may rate in."""
    user = request.user
    directions = [
        direction
        for direction, permission in [
            (TwoWayRating.Direction.OF_LIAISON, "cases.rate_liaison"),
            (TwoWayRating.Direction.OF_COMMUNITY, "cases.rate_community"),
        ]
        if user.has_perm(permission)
    ]
    if not directions:
        raise PermissionDenied
    posted = request.POST.get("direction") if request.method == "POST" else None
    forms = []
    for direction in directions:
        bound = posted == direction
        form = TwoWayRatingForm(
            request.POST if bound else None, user=user, direction=direction, prefix=direction
        )
        if bound and form.is_valid():
            try:
                two_way_rating_submit(
                    actor=user,
                    community=form.cleaned_data["community"],
                    direction=direction,
                    month=form.cleaned_data["month"],
                    score=form.cleaned_data["score"],
                    comment=form.cleaned_data["comment"],
                )
            except DomainError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Thank you: your rating has been recorded."))
                return redirect("dashboard:rate")
        forms.append(form)
    given = (
        TwoWayRating.objects.filter(rater_id=user.pk)
        .select_related("community", "liaison")
        .order_by("-month", "community__code")[:24]
    )
    status = 400 if posted and any(f.is_bound and f.errors for f in forms) else 200
    return render(request, "cases/dashboard/rate.html", {"forms": forms, "given": given}, status=status)


# --- public statistics (no login) ---------------------------------------------


@_analytic
def public(request: HttpRequest) -> HttpResponse:
    rows = reads.public_community_stats()
    return render(request, "cases/dashboard/public.html", {"rows": rows, "days": reads.PUBLIC_DAYS})
