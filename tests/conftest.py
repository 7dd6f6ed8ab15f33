import os

import pytest
from django.db import connection

from tests import factories


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Skip, by name, the tests whose servers this run does not have."""
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql", "psql"))
    has_redis = bool(os.environ.get("REDIS_URL"))
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL"))
        if "redis" in item.keywords and not has_redis:
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL"))


DATA_MIGRATIONS = [
    ("cases.migrations.0003_seed_categories", "seed"),
    ("cases.migrations.0006_category_form_rules", "apply"),
    ("inspections.migrations.0002_seed_checklist", "seed"),
    ("cases.migrations.0014_replies_moderation_parking", "seed"),
]


def seed_categories() -> None:
    """(Re)write the reference data the data migrations seed; idempotent."""
    import importlib

    from django.apps import apps

    for module, function in DATA_MIGRATIONS:
        getattr(importlib.import_module(module), function)(apps, None)


def restore_reference_data() -> None:
    """Permissions, role groups and seeded reference data, as migrate leaves them."""
    from django.core.management.sql import emit_post_migrate_signal

    emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)
    seed_categories()


DB_FIXTURES = {"db", "transactional_db", "live_server", "django_db_setup"}


@pytest.fixture(autouse=True)
def _reference_data(request, django_db_blocker):  # type: ignore[no-untyped-def]
    """A transactional test (live server, threads) ends by emptying every table,
    reference data included; put it back before a test that uses the database.

    Runs before the test's own transaction opens, so the restored rows stay.
    """
    if request.node.get_closest_marker("django_db") or DB_FIXTURES & set(request.fixturenames):
        request.getfixturevalue("django_db_setup")
        from cases.models import Category

        with django_db_blocker.unblock():
            if not Category.objects.exists():
                restore_reference_data()
    yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """Put back the reference data a kept (--reuse-db) test database lost.

    A transactional test ends with a flush, which empties every table,
    including what migrations wrote: content types, permissions, the role
    groups and the seeded categories. The next run that reuses the database
    would find none of them.
    """
    from cases.models import Category

    with django_db_blocker.unblock():
        if not Category.objects.exists():
            restore_reference_data()
    yield


@pytest.fixture(autouse=True)
def _isolated_media_and_cache(settings, tmp_path):  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    from chengguan import refdata
    from chengguan.celery import app as celery_app

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    # The default file cache is a directory shared with the dev server and any
    # other test run; a per-process memory cache keeps runs from seeing each
    # other's cached calendar overrides.
    # With REDIS_URL set the suite uses the real Redis cache, as production does.
    if not os.environ.get("REDIS_URL"):
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}
        }
    # Staff users are created in most tests; a slow hasher would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    celery_app.conf.task_always_eager = True
    cache.clear()
    # Snapshots of reference data a previous test loaded (its rows may be gone).
    refdata.clear()
    yield


@pytest.fixture(autouse=True)
def _second_factor_not_enforced(request, settings):  # type: ignore[no-untyped-def]
    """Supervisors and admins must verify a second factor (settings.OTP_REQUIRED_ROLES,
    on by default); tests sign staff in with force_login or a password only, so
    the requirement is lifted here. Tests of it ask for `otp_enforced`.
    """
    if "otp_enforced" not in request.fixturenames:
        settings.OTP_REQUIRED_ROLES = []


@pytest.fixture
def otp_enforced(settings):  # type: ignore[no-untyped-def]
    """The production default: supervisors and admins need a verified second factor."""
    assert settings.OTP_REQUIRED_ROLES, "OTP_REQUIRED_ROLES must be on by default"
    return settings.OTP_REQUIRED_ROLES


@pytest.fixture
def district(db):  # type: ignore[no-untyped-def]
    return factories.DistrictFactory()


@pytest.fixture
def community(district):  # type: ignore[no-untyped-def]
    street = factories.StreetFactory(district=district)
    return factories.CommunityFactory(street=street, origin=(120.00, 30.00))


@pytest.fixture
def other_community(district):  # type: ignore[no-untyped-def]
    street = factories.StreetFactory(district=district)
    return factories.CommunityFactory(street=street, origin=(120.02, 30.00))


@pytest.fixture
def unit(district):  # type: ignore[no-untyped-def]
    return factories.HandlingUnitFactory(district=district)


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"
