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


@pytest.fixture(autouse=True)
def _isolated_media_and_cache(settings, tmp_path):  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    from chengguan.celery import app as celery_app

    settings.MEDIA_ROOT = str(tmp_path / "media")
    celery_app.conf.task_always_eager = True
    cache.clear()
    yield


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
