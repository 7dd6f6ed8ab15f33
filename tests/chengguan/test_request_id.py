"""Request ids: taken or made per request, returned, logged as JSON, carried into Celery tasks."""

import json
import logging

import pytest
from celery.signals import before_task_publish
from django.conf import settings
from pythonjsonlogger.json import JsonFormatter

from chengguan.celery import app as celery_app
from chengguan.logging import NO_REQUEST, RequestIdFilter, request_id

SEEN: list[str] = []


@celery_app.task(name="tests.chengguan.record_request_id")
def record_request_id() -> str:
    SEEN.append(request_id.get())
    logging.getLogger("tests.task").info("inside the task")
    return request_id.get()


def json_formatter() -> JsonFormatter:
    config = dict(settings.LOGGING["formatters"]["json"])
    factory = config.pop("()")
    assert factory == "pythonjsonlogger.json.JsonFormatter"
    config["fmt"] = config.pop("format")
    return JsonFormatter(**config)


@pytest.mark.django_db
def test_a_request_without_an_id_gets_one_back(client):
    response = client.get("/livez")
    generated = response["X-Request-ID"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    # and each request gets its own
    assert client.get("/livez")["X-Request-ID"] != generated


@pytest.mark.django_db
def test_the_proxy_s_request_id_is_kept(client):
    response = client.get("/", HTTP_X_REQUEST_ID="edge-7f3a.01")
    assert response["X-Request-ID"] == "edge-7f3a.01"


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["has space", "x" * 200, "line\nbreak", "<script>"])
def test_a_malformed_request_id_is_replaced(client, bad):
    response = client.get("/livez", HTTP_X_REQUEST_ID=bad)
    assert response["X-Request-ID"] != bad
    assert len(response["X-Request-ID"]) == 32


def test_log_lines_are_json_with_the_request_id():
    # Given a request id bound for the current request
    token = request_id.set("req-123")
    try:
        record = logging.LogRecord(
            "cases.services", logging.WARNING, __file__, 1, "dispatched %s", ("CG-1",), None
        )
        RequestIdFilter().filter(record)
        line = json.loads(json_formatter().format(record))
    finally:
        request_id.reset(token)
    # Then the JSON line names it, with level, logger and message
    assert line["request_id"] == "req-123"
    assert line["level"] == "WARNING"
    assert line["logger"] == "cases.services"
    assert line["message"] == "dispatched CG-1"
    assert "time" in line


def test_outside_a_request_the_field_is_a_dash():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    RequestIdFilter().filter(record)
    assert record.request_id == NO_REQUEST  # type: ignore[attr-defined]


def test_published_tasks_carry_the_request_id_in_their_headers():
    # Given a request id bound while a task is published
    headers: dict[str, str] = {}
    token = request_id.set("req-456")
    try:
        before_task_publish.send(
            sender="tests.chengguan.record_request_id", headers=headers, body=((), {}, {})
        )
    finally:
        request_id.reset(token)
    # Then the message headers carry it
    assert headers["request_id"] == "req-456"


def test_a_task_runs_under_the_request_id_of_its_headers():
    # Given a task delivered with a request id header (as the worker sees it)
    SEEN.clear()
    # When the worker runs it
    result = record_request_id.apply(headers={"request_id": "req-789"})
    # Then the id is bound during the run and unbound after
    assert result.successful() and result.result == "req-789"
    assert SEEN == ["req-789"]
    assert request_id.get() == NO_REQUEST


def test_an_eager_task_keeps_the_id_of_the_request_that_queued_it():
    SEEN.clear()
    token = request_id.set("req-eager")
    try:
        record_request_id.delay()
    finally:
        request_id.reset(token)
    assert SEEN == ["req-eager"]


def test_a_scheduled_task_gets_an_id_of_its_own():
    SEEN.clear()
    record_request_id.apply(task_id="beat-1")
    assert SEEN == ["task-beat-1"]
