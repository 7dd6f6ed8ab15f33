"""The load benchmark's ceiling (bench/load.py): the cheapest write this stack can serve.

Mounted at /bench/ceiling/ only with settings.BENCH_CEILING_ENABLED. One
INSERT into `bench_ceiling`, a table the benchmark creates and drops itself,
through the same gunicorn, middleware and database as every other page: the
flows' throughputs are reported as shares of this one.
"""

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

CEILING_TABLE = "bench_ceiling"


@csrf_exempt
@require_POST
def ceiling(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {CEILING_TABLE} (note) VALUES (%s)", [request.POST.get("note", "")[:200]]
        )
    return HttpResponse("ok", content_type="text/plain", status=201)
