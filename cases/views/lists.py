"""Tools of the case lists (staff list and desk worklists): saved filters and exports.

Thin views over cases.saved_filters and cases.exports. A saved filter or an
export job of another user does not exist for you (404).
"""

from __future__ import annotations

import tempfile
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases import exports
from cases.forms.lists import ExportForm, SavedFilterForm, SavedFilterNameForm
from cases.lists import filtered_cases, list_title, list_url, normalise_querystring
from cases.models import ExportJob
from cases.saved_filters import (
    saved_filter_create,
    saved_filter_delete,
    saved_filter_rename,
    saved_filters_of,
)
from chengguan.errors import ActionNotPermitted, DomainError

PER_PAGE = 25


def list_tools(request: HttpRequest, list_key: str) -> dict[str, Any]:
    """Context of templates/cases/includes/list_tools.html: the saved filters and the current ones."""
    try:
        query = normalise_querystring(request.GET)
    except DomainError:
        query = ""
    return {
        "list_key": list_key,
        "list_query": query,
        "saved_filters": list(saved_filters_of(request.user, list_key)),
        "save_filter_form": SavedFilterNameForm(auto_id="id_save_filter_%s"),
    }


def _back(list_key: str, querystring: str) -> str:
    try:
        base = list_url(list_key)
    except Exception:  # an unknown list: the staff list
        base = reverse("cases:list")
    return f"{base}?{querystring}" if querystring else base


def _form_errors(request: HttpRequest, form: Any) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))


# --- saved filters --------------------------------------------------------------------


@login_required
@require_POST
def saved_filter_add(request: HttpRequest) -> HttpResponse:
    form = SavedFilterForm(request.POST)
    list_key = request.POST.get("list", "")
    querystring = request.POST.get("querystring", "")
    if not form.is_valid():
        _form_errors(request, form)
        return redirect(_back(list_key, querystring))
    data = form.cleaned_data
    try:
        saved = saved_filter_create(
            owner=request.user, list_key=data["list"], name=data["name"], querystring=data["querystring"]
        )
    except ActionNotPermitted:
        raise PermissionDenied from None
    except DomainError as error:
        messages.error(request, str(error.message))
        return redirect(_back(list_key, querystring))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect(_back(list_key, querystring))
    messages.success(request, _("Filter “%(name)s” saved.") % {"name": saved.name})
    return redirect(saved.url)


@login_required
@require_GET
def saved_filter_list(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(saved_filters_of(request.user).order_by("list_key", "name", "pk"), PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    for saved in page.object_list:
        saved.list_title = list_title(saved.list_key)  # type: ignore[attr-defined]
    return render(
        request,
        "cases/lists/saved_filter_list.html",
        {
            "page_obj": page,
            "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def saved_filter_edit(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(saved_filters_of(request.user), pk=pk)
    form = SavedFilterNameForm(request.POST or None, initial={"name": saved.name})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                saved_filter_rename(saved_filter=saved, actor=request.user, name=form.cleaned_data["name"])
            except DomainError as error:
                form.add_error("name", str(error.message))
            except ValidationError as error:
                form.add_error("name", error)
            else:
                messages.success(request, _("Filter renamed to “%(name)s”.") % {"name": saved.name})
                return redirect("cases:saved_filters")
        saved.refresh_from_db()
        status = 422
    return render(
        request,
        "cases/lists/saved_filter_edit.html",
        {"saved": saved, "form": form, "list_title": list_title(saved.list_key)},
        status=status,
    )


@login_required
@require_POST
def saved_filter_remove(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(saved_filters_of(request.user), pk=pk)
    name = saved.name
    saved_filter_delete(saved_filter=saved, actor=request.user)
    messages.success(request, _("Filter “%(name)s” deleted.") % {"name": name})
    return redirect("cases:saved_filters")


# --- exports --------------------------------------------------------------------------


@login_required
@require_POST
def export(request: HttpRequest) -> HttpResponseBase:
    """Export the list with the posted filters: at once when small, else as a job."""
    form = ExportForm(request.POST)
    list_key = request.POST.get("list", "")
    querystring = request.POST.get("querystring", "")
    if not form.is_valid():
        _form_errors(request, form)
        return redirect(_back(list_key, querystring))
    data = form.cleaned_data
    list_key, fmt = data["list"], data["format"]
    try:
        querystring = normalise_querystring(data["querystring"])
        found, filterset = filtered_cases(list_key, request.user, querystring)
    except LookupError:
        raise Http404 from None
    except ActionNotPermitted:
        raise PermissionDenied from None
    except DomainError as error:
        messages.error(request, str(error.message))
        return redirect(_back(list_key, querystring))
    cases = exports.export_queryset(filterset.qs)
    total = cases.count()
    if total > settings.EXPORT_SYNC_MAX_ROWS:
        job = exports.export_job_create(
            owner=request.user, list_key=list_key, querystring=querystring, fmt=fmt
        )
        messages.info(request, _("The export is being prepared; this page shows when it is ready."))
        return redirect("cases:export_job", job.pk)
    exports.export_record(actor=request.user, list_key=list_key, querystring=querystring, fmt=fmt, rows=total)
    rows = exports.export_rows(
        cases.iterator(chunk_size=exports.CHUNK_SIZE), show_contact=exports.shows_contact(request.user)
    )
    filename = exports.export_filename(list_key, fmt)
    if fmt == ExportJob.Format.CSV:
        response = StreamingHttpResponse(exports.csv_lines(rows), content_type=exports.CSV_CONTENT_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    # openpyxl writes the zip at the end: spool to disk past a few MB, then send.
    target = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (closed by FileResponse)
    exports.write_xlsx(rows, target, title=str(found.title))
    target.seek(0)
    return FileResponse(target, as_attachment=True, filename=filename, content_type=exports.XLSX_CONTENT_TYPE)


def _own_job(request: HttpRequest, pk: int) -> ExportJob:
    return get_object_or_404(ExportJob.objects.filter(owner_id=request.user.pk), pk=pk)


def _job_context(job: ExportJob) -> dict[str, Any]:
    return {
        "job": job,
        "list_title": list_title(job.list_key),
        "list_url": _back(job.list_key, job.querystring),
    }


@login_required
@require_GET
def export_jobs(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(ExportJob.objects.filter(owner_id=request.user.pk), PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    for job in page.object_list:
        job.list_title = list_title(job.list_key)  # type: ignore[attr-defined]
    return render(
        request,
        "cases/lists/export_jobs.html",
        {
            "page_obj": page,
            "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "retention_days": settings.EXPORT_RETENTION_DAYS,
        },
    )


@login_required
@require_GET
def export_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = _own_job(request, pk)
    context = _job_context(job) | {"retention_days": settings.EXPORT_RETENTION_DAYS}
    return render(request, "cases/lists/export_job.html", context)


@login_required
@require_GET
def export_job_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The job's progress as a fragment, polled by htmx until it is finished."""
    job = _own_job(request, pk)
    return render(request, "cases/lists/includes/export_status.html", _job_context(job))


@login_required
@require_GET
def export_job_download(request: HttpRequest, pk: int) -> FileResponse:
    job = _own_job(request, pk)
    if job.status != ExportJob.Status.DONE or not job.file:
        raise Http404
    try:
        handle = job.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    exports.export_job_download_record(job=job, actor=request.user)
    content_type = (
        exports.CSV_CONTENT_TYPE if job.format == ExportJob.Format.CSV else exports.XLSX_CONTENT_TYPE
    )
    return FileResponse(
        handle,
        as_attachment=True,
        filename=exports.export_filename(job.list_key, job.format, job.created_at),
        content_type=content_type,
    )
