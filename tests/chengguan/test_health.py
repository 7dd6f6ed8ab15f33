"""/healthz and /livez: no login, no session, no host check, no rate limit."""

from functools import partial

import pytest

from chengguan import health
from chengguan.celery import app as celery_app


@pytest.mark.django_db
def test_healthz_reports_every_part_ok_on_the_embedded_setup(client):
    # Given the default set-up (SQLite, filesystem broker, local cache)
    # When the probe asks
    response = client.get("/healthz")
    # Then every part answers
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "cache": "ok"}
    assert response["Cache-Control"] == "no-store"
    # and no session cookie is set
    assert "sessionid" not in response.cookies


@pytest.mark.django_db
def test_healthz_answers_any_host_and_plain_http_in_production(client, settings):
    # Given production TLS settings and a strict host list
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["chengguan.example.gov.cn"]
    # When a load balancer probes an internal address over HTTP
    response = client.get("/healthz", HTTP_HOST="10.0.0.5:8000")
    # Then it is answered, not redirected or refused
    assert response.status_code == 200
    # while an ordinary page from that host is refused
    assert client.get("/", HTTP_HOST="10.0.0.5:8000").status_code == 400


@pytest.mark.django_db
def test_healthz_needs_no_login_even_when_signed_in_users_need_a_second_factor(client, otp_enforced):
    from chengguan.roles import Role
    from tests.factories import staff

    client.force_login(staff(Role.SUPERVISOR, scope="city"))
    assert client.get("/healthz").status_code == 200
    assert client.get("/livez").status_code == 200


@pytest.mark.django_db
def test_healthz_says_503_and_names_the_broker_when_it_is_down(client, monkeypatch):
    # Given a broker nobody listens on
    monkeypatch.setitem(health.CHECKS, "broker", partial(health.check_broker, "redis://127.0.0.1:1/0"))
    monkeypatch.setattr(health, "BROKER_TIMEOUT_SECONDS", 1)
    # When the probe asks
    response = client.get("/healthz")
    # Then it fails and says which part
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "failed", "cache": "ok"}


@pytest.mark.django_db
def test_healthz_says_503_and_names_the_cache_when_it_is_down(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5},
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["cache"] == "failed"
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_healthz_says_503_when_the_database_fails(client, monkeypatch):
    # Given a database that errors on every statement
    from django.db import connections

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise connections["default"].Database.OperationalError("database is gone")

    monkeypatch.setattr(connections["default"], "cursor", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "failed"


def test_livez_touches_nothing(client, django_assert_num_queries, db):
    with django_assert_num_queries(0):
        response = client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_probes_are_not_rate_limited(client):
    statuses = {client.get("/healthz").status_code for _ in range(70)}
    assert statuses == {200}


@pytest.mark.django_db
def test_only_get_and_head_are_probes(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


@pytest.mark.redis
@pytest.mark.django_db
def test_healthz_pings_redis_as_broker_and_cache(client):
    # With REDIS_URL set, the broker and the cache are the real Redis server.
    assert celery_app.conf.broker_url.startswith("redis://")
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
