"""The load benchmark's reference views (chengguan.bench_views), called directly.

They are mounted only for bench/load.py (BENCH_CEILING_ENABLED).
"""

import uuid

import pytest
from django.test import RequestFactory

from cases import receipts
from cases.choices import CaseAction, CaseSource, CaseStatus
from cases.models import Case
from chengguan import bench_views
from tests.factories import leaf_category


@pytest.mark.postgres
@pytest.mark.django_db
def test_complaint_floor_files_the_case_and_its_event_in_one_statement(community, django_assert_num_queries):
    category = leaf_category()
    key = str(uuid.uuid4())
    request = RequestFactory().post(
        "/bench/complaint-floor/",
        {
            "category": category.pk,
            "description": "人行道上有流动摊贩占道经营",
            "address": "基准路1号",
            "reporter_name": "基准",
            "reporter_phone": "13900000000",
            "idempotency_key": key,
            "lat": community.centroid_lat,
            "lng": community.centroid_lng,
        },
    )

    # The day's number, then the case and its event together.
    with django_assert_num_queries(2):
        response = bench_views.complaint_floor(request)

    case = Case.objects.get(idempotency_key=key)
    assert (case.source, case.status, case.category, case.reporter_phone) == (
        CaseSource.WEB,
        CaseStatus.REPORTED,
        category,
        "13900000000",
    )
    assert case.number.startswith("CG-") and len(case.tracking_code) == 8
    assert [(e.action, e.to_status, e.data) for e in case.events.all()] == [
        (CaseAction.REPORT, CaseStatus.REPORTED, {"source": "web"})
    ]
    assert response.status_code == 302
    assert response["Location"].endswith(f"/{case.tracking_code}/")
    # The browser that filed it may see its confirmation, as after the form.
    request.COOKIES[receipts.COOKIE] = response.cookies[receipts.COOKIE].value
    assert receipts.filed(request, case.tracking_code)


@pytest.mark.postgres
@pytest.mark.django_db
def test_ceiling_inserts_one_row():
    from django.db import connection

    with connection.cursor() as cursor:
        table = bench_views.CEILING_TABLE
        cursor.execute(f"CREATE TEMPORARY TABLE {table} (id bigserial PRIMARY KEY, note text)")
    response = bench_views.ceiling(RequestFactory().post("/bench/ceiling/", {"note": "bench"}))

    assert response.status_code == 201
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT note FROM {bench_views.CEILING_TABLE}")
        assert cursor.fetchall() == [("bench",)]
