"""Shared contracts of the REST API tests (every app's tests/<app>/test_api.py).

Every endpoint is tested as anonymous (401 with the structured error),
as staff without scope (empty list, 404 on a detail), and as scoped staff
(their objects); list endpoints pin their query count, the same for a
little data as for more.
"""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def as_user(user: Any) -> APIClient:
    """A client signed in with a session, as a browser or the docs page would be."""
    client = APIClient()
    client.force_login(user)
    return client


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The structured error of chengguan.api_errors: JSON with code, message and fields."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert body["message"]
    assert isinstance(body["fields"], dict)
    return body


def listed(response: Any, key: str = "id") -> list[Any]:
    assert response.status_code == 200, response.content
    return [row[key] for row in response.json()["results"]]


def assert_anonymous_refused(url: str) -> None:
    assert_error(APIClient().get(url), 401, "not_authenticated")


def list_queries(client: APIClient, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries)


def assert_constant_queries(
    client: APIClient, url: str, grow: Callable[[], Any], pinned: int, assert_max_queries: Any
) -> None:
    """The list costs at most `pinned` queries, and no more once `grow()` added data.

    A first, unmeasured request warms the process-wide caches (content types),
    so the count does not depend on which tests ran before.
    """
    client.get(url)
    with assert_max_queries(pinned):
        first = client.get(url)
    assert first.status_code == 200
    before = first.json()["count"]
    grow()
    with assert_max_queries(pinned):
        second = client.get(url)
    assert second.json()["count"] > before, "grow() must add rows the list shows"
