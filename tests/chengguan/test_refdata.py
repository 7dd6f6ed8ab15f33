"""Reference data kept per process (chengguan.refdata): loaded once, dropped on change."""

import pytest
from django.core.cache import cache
from django.db import transaction

from cases.deadlines import TIME_LIMITS, stage_limit
from cases.forms.public import public_categories
from cases.models import Category, TimeLimit
from chengguan import refdata
from communities.selectors import locate_point
from tests.factories import leaf_category

pytestmark = pytest.mark.django_db(transaction=True)


def new_category(code: str) -> Category:
    return Category.objects.create(code=code, name=code, parent=leaf_category().parent)


@pytest.fixture
def counted():
    """A snapshot of all category codes that counts its loads."""
    loads = []

    def load():
        loads.append(1)
        return sorted(Category.objects.values_list("code", flat=True))

    snapshot = refdata.Snapshot("test categories", load)
    snapshot.loads = loads
    return snapshot


def test_a_snapshot_is_loaded_once_and_reloaded_after_a_change(counted):
    # given a snapshot read twice
    first = counted.get()
    assert counted.get() is first
    assert len(counted.loads) == 1

    # when a watched model is saved
    new_category("rd-new")

    # then the next read loads again and sees it
    assert "rd-new" in counted.get()
    assert len(counted.loads) == 2


def test_a_change_published_by_another_process_is_seen_after_the_check_period(counted, settings):
    settings.REFDATA_CHECK_SECONDS = 0
    counted.get()
    # when another process publishes a change (a new token in the shared cache)
    cache.set(refdata.VERSION_KEY, "from-another-process", timeout=None)
    # then this process reloads
    counted.get()
    assert len(counted.loads) == 2


def test_within_the_check_period_the_cache_is_not_asked_again(counted, settings, monkeypatch):
    settings.REFDATA_CHECK_SECONDS = 60
    counted.get()
    monkeypatch.setattr(refdata, "cache", None)  # any use would fail
    counted.get()
    assert len(counted.loads) == 1


def test_a_load_inside_a_transaction_that_changed_the_data_is_not_kept(counted):
    # given a transaction that changes a category and then fails
    with pytest.raises(RuntimeError), transaction.atomic():
        new_category("rd-rolled-back")
        assert "rd-rolled-back" in counted.get()
        raise RuntimeError
    # then the rolled-back row is not served afterwards
    assert "rd-rolled-back" not in counted.get()


def test_with_the_cache_down_snapshots_are_reloaded_each_period(counted, settings, monkeypatch):
    settings.REFDATA_CHECK_SECONDS = 0

    class Down:
        def __getattr__(self, name):
            raise ConnectionError("cache down")

    monkeypatch.setattr(refdata, "cache", Down())
    refdata.clear()
    # the data is still served, read from the database
    assert counted.get() == counted.get()
    assert len(counted.loads) == 2


def test_routing_a_point_and_the_complaint_form_need_no_query_once_loaded(
    community, district, django_assert_num_queries
):
    place = locate_point(30.005, 120.005)
    categories = public_categories()
    TIME_LIMITS.get()
    with django_assert_num_queries(0):
        assert locate_point(30.005, 120.005) == place
        assert public_categories() == categories
        stage_limit(categories[0], "normal", "handle")


def test_a_new_time_limit_takes_effect_at_once():
    category = leaf_category()
    before = stage_limit(category, "normal", "handle")
    TimeLimit.objects.update_or_create(
        category=category,
        urgency="normal",
        defaults={"register_hours": 1, "dispatch_hours": 1, "handle_hours": 3.5, "verify_hours": 1},
    )
    assert stage_limit(category, "normal", "handle") != before
