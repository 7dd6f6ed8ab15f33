"""The load benchmark's reference points (bench/load.py), mounted only with settings.BENCH_CEILING_ENABLED.

`ceiling`: the cheapest write this stack can serve. One INSERT into
`bench_ceiling`, a table the benchmark creates and drops itself, through the
same gunicorn, middleware and database as every other page: the flows'
throughputs are reported as shares of this one.

`complaint_floor`: the least any complaint must do, to show how far the
complaint form is from it. It takes the form's POST with its CSRF token,
numbers the case, writes the case row and its report event in one
statement (no form, no validation, no routing of the point to its area, no
deadline, no photos: what cases.services.case_report adds), remembers the
tracking code in the resident's cookie and redirects to the confirmation, as
the form does. Its rows are real complaints; bench/load.py removes them with
the complaint flow's.
"""

from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from cases import receipts
from cases.choices import CaseAction, CaseSource, CaseStatus, Urgency
from cases.models import Case, CaseEvent
from cases.services import new_tracking_code, next_case_number
from chengguan import clock

CEILING_TABLE = "bench_ceiling"


@csrf_exempt
@require_POST
def ceiling(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {CEILING_TABLE} (note) VALUES (%s)", [request.POST.get("note", "")[:200]]
        )
    return HttpResponse("ok", content_type="text/plain", status=201)


def _columns(model: Any, *, skip: tuple[str, ...] = ()) -> list[Any]:
    return [f for f in model._meta.concrete_fields if not f.primary_key and f.name not in skip]


def _values(fields: list[Any], instance: Any) -> list[Any]:
    return [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]


_CASE_FIELDS, _EVENT_FIELDS = _columns(Case), _columns(CaseEvent, skip=("case",))


def _floor_statement(case_fields: list[Any], event_fields: list[Any]) -> str:
    """INSERT the case and, from its new id, its event: one statement (PostgreSQL)."""

    def names(fields: list[Any]) -> str:
        return ", ".join(connection.ops.quote_name(f.column) for f in fields)

    def slots(fields: list[Any]) -> str:
        return ", ".join(["%s"] * len(fields))

    return (
        f"WITH filed AS (INSERT INTO {Case._meta.db_table} ({names(case_fields)}) "
        f"VALUES ({slots(case_fields)}) RETURNING id) "
        f"INSERT INTO {CaseEvent._meta.db_table} (case_id, {names(event_fields)}) "
        f"SELECT filed.id, {slots(event_fields)} FROM filed"
    )


@require_POST
def complaint_floor(request: HttpRequest) -> HttpResponse:
    form = request.POST
    now = clock.now()
    case = Case(
        source=CaseSource.WEB,
        category_id=int(form["category"]),
        urgency=Urgency.NORMAL,
        description=form["description"][:2000],
        address=form["address"][:200],
        reporter_name=form["reporter_name"][:64],
        reporter_phone=form["reporter_phone"][:20],
        lat=float(form["lat"]),
        lng=float(form["lng"]),
        reported_at=now,
        idempotency_key=form["idempotency_key"],
        number=next_case_number(now),
        tracking_code=new_tracking_code(),
    )
    event = CaseEvent(
        action=CaseAction.REPORT,
        to_status=CaseStatus.REPORTED,
        data={"source": CaseSource.WEB},
        is_public=True,
        created_at=now,
    )
    params = _values(_CASE_FIELDS, case) + _values(_EVENT_FIELDS, event)
    with connection.cursor() as cursor:
        cursor.execute(_FLOOR_STATEMENT, params)
    response = redirect("public:report_done", code=case.tracking_code)
    receipts.remember(request, response, case.tracking_code, as_filer=True)
    return response


_FLOOR_STATEMENT = _floor_statement(_CASE_FIELDS, _EVENT_FIELDS)
