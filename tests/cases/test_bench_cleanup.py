"""bench/load.py deletes the complaints its run filed, and nothing else, when it ends."""

import ast
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Model
from PIL import Image

from bench.load import (
    BENCH_COMPLAINT_SOURCE,
    BENCH_REPORTER_NAME,
    filed_cases_mark,
    remove_filed_complaints,
)
from cases import services
from cases.choices import CaseSource, CaseStatus
from cases.models import Case, CaseAttachment, CaseEvent
from tests.factories import leaf_category

pytestmark = pytest.mark.django_db

LOCUSTFILE = Path(__file__).resolve().parents[2] / "bench" / "locustfile.py"


def photo() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 80, 40)).save(buffer, format="PNG")
    return SimpleUploadedFile("photo.png", buffer.getvalue(), content_type="image/png")


def file_benchmark_complaint(client) -> Case:  # type: ignore[no-untyped-def]
    """A complaint as the locust flow files it: the public form, the benchmark's reporter name."""
    response = client.post(
        "/report/",
        {
            "category": str(leaf_category().pk),
            "description": "人行道上有流动摊贩占道经营，早上七点到九点最严重",
            "address": "基准路1号",
            "reporter_name": BENCH_REPORTER_NAME,
            "reporter_phone": "13900001111",
            "consent": "on",
            "idempotency_key": "0b1d9d52-6a55-4d4b-9a8e-0d7f3c9e2a11",
            "lat": "30.005",
            "lng": "120.005",
            "photos": [photo()],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return Case.objects.get(idempotency_key="0b1d9d52-6a55-4d4b-9a8e-0d7f3c9e2a11")


def rows_referencing(case_id: int, event_ids: list[int]) -> dict[str, int]:
    """Rows of every table with a foreign key to the case or to one of its events."""
    found = {}
    for model, ids in ((Case, [case_id]), (CaseEvent, event_ids)):
        for relation in model._meta.get_fields(include_hidden=True):
            if not (relation.auto_created and not relation.concrete and relation.is_relation):
                continue
            if relation.many_to_many:
                through: type[Model] = relation.field.remote_field.through  # type: ignore[union-attr]
                column = relation.field.m2m_reverse_field_name()  # type: ignore[union-attr]
                queryset = through.objects.filter(**{f"{column}__in": ids})
                name = through._meta.db_table
            else:
                related = relation.related_model
                queryset = related.objects.filter(**{f"{relation.field.attname}__in": ids})  # type: ignore[union-attr]
                name = f"{related._meta.db_table}.{relation.field.column}"  # type: ignore[union-attr]
            if count := queryset.count():
                found[name] = count
    return found


def test_only_the_complaints_the_run_filed_are_removed(client, make_case, unit, superuser):  # type: ignore[no-untyped-def]
    # given two cases from before the run, one of them filed by an earlier benchmark run
    older = make_case(CaseStatus.REGISTERED)
    earlier_run = make_case(reporter_name=BENCH_REPORTER_NAME)
    mark = filed_cases_mark()
    # and, during the run, a benchmark complaint with a photo, a resident's report, a
    # hotline case under the benchmark's name and a dispatch of the older case
    complaint = file_benchmark_complaint(client)
    complaint_events = list(complaint.events.values_list("pk", flat=True))
    assert complaint.source == BENCH_COMPLAINT_SOURCE
    assert complaint_events and complaint.attachments.count() == 1
    resident = make_case(reporter_name="李四")
    hotline = make_case(source=CaseSource.HOTLINE_12345, reporter_name=BENCH_REPORTER_NAME)
    services.case_dispatch(case=older, actor=superuser, handling_unit=unit)
    kept = {case.pk: case.events.count() for case in (older, earlier_run, resident, hotline)}

    # when the run's complaints are removed
    removed = remove_filed_complaints(mark)

    # then the benchmark complaint is gone with every row that referenced it
    assert removed == 1
    assert not Case.objects.filter(pk=complaint.pk).exists()
    assert rows_referencing(complaint.pk, complaint_events) == {}
    # and every other case is there with all its events, the older case's dispatch included
    assert {pk: CaseEvent.objects.filter(case_id=pk).count() for pk in kept} == kept
    assert Case.objects.get(pk=older.pk).status == CaseStatus.DISPATCHED
    assert not CaseAttachment.objects.exclude(case_id__in=kept).exists()


def test_removing_twice_or_before_anything_was_filed_removes_nothing(make_case):  # type: ignore[no-untyped-def]
    # given a benchmark complaint from before the mark
    case = make_case(reporter_name=BENCH_REPORTER_NAME)
    mark = filed_cases_mark()
    assert mark == case.pk

    # when nothing was filed since
    # then nothing is removed
    assert remove_filed_complaints(mark) == 0
    assert Case.objects.filter(pk=case.pk).exists()


def test_the_locust_flow_files_as_the_cleanup_expects() -> None:
    # The cleanup finds the complaints by the form's reporter name and by source web:
    # the flow must post that name and no `via` (which would file them as QR-code reports).
    tree = ast.parse(LOCUSTFILE.read_text(encoding="utf-8"))
    flow = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ComplaintSubmission")
    forms = [
        {
            key.value: value
            for key, value in zip(node.keys, node.values, strict=True)
            if isinstance(key, ast.Constant)
        }
        for node in ast.walk(flow)
        if isinstance(node, ast.Dict)
    ]
    form = next(f for f in forms if "reporter_name" in f)
    assert isinstance(form["reporter_name"], ast.Constant)
    assert form["reporter_name"].value == BENCH_REPORTER_NAME
    assert "via" not in form
    assert BENCH_COMPLAINT_SOURCE == CaseSource.WEB
