"""The intake desk's duplicate hint for reports without a point: same category, same
community, a similar address or description. The public nearby list stays point-based."""

from datetime import timedelta

import pytest
from django.urls import reverse

from cases.choices import CaseStatus
from cases.selectors import open_cases_alike, open_cases_near, text_similarity
from chengguan import clock
from chengguan.roles import Role
from tests.factories import CaseFactory, leaf_category, staff

pytestmark = pytest.mark.django_db

CHECK = reverse("intake:check")
HTMX = {"HTTP_HX_REQUEST": "true"}
ADDRESS = "幸福路12号菜场门口"
DESCRIPTION = "菜场门口有流动摊贩占道经营，堵住人行道"


@pytest.fixture
def unplaced(make_case, community):  # type: ignore[no-untyped-def]
    """`unplaced(**report)`: a case filed with a community and no coordinates."""

    def make(status: CaseStatus = CaseStatus.REPORTED, **report):  # type: ignore[no-untyped-def]
        report.setdefault("community", community)
        report.setdefault("address", ADDRESS)
        report.setdefault("description", "有人摆摊卖菜")
        return make_case(status, lat=None, lng=None, **report)

    return make


def hint(client, community, **extra):  # type: ignore[no-untyped-def]
    params = {"category": "0102", "community": community.pk, "address": ADDRESS, **extra}
    return client.get(CHECK, params, **HTMX)


def numbers(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [case.number for case in response.context["duplicates"]]


def test_similar_texts_score_high_and_unrelated_ones_low():
    assert text_similarity("幸福路12号菜场门口", "幸福路12号 菜场门口。") == 1
    assert text_similarity("幸福路12号菜场门口", "幸福路12号菜场") >= 0.7
    assert text_similarity("幸福路12号菜场门口", "解放大道88号") < 0.2
    assert text_similarity("", "幸福路") == 0


def test_a_report_without_a_point_is_offered_the_open_cases_with_a_similar_address(
    client, operator, community, other_community, unplaced, make_case
):
    # Given open cases of the category in the community without coordinates
    same_place = unplaced(address="幸福路12号菜场门口东侧")
    dispatched = unplaced(CaseStatus.DISPATCHED, address="幸福路12号菜场")
    # and ones the hint must leave out
    unplaced(address="解放大道88号", description="商铺店外经营")  # another place
    unplaced(community=other_community)  # another community
    unplaced(category=leaf_category("0201"))  # another category
    unplaced(CaseStatus.CLOSED)  # closed
    with clock.frozen_at(clock.now() - timedelta(days=8)):
        unplaced()  # too old
    client.force_login(operator)

    # When the operator checks a report giving only the community and the address
    response = hint(client, community)

    # Then the alike ones are offered, marked as matched by their words
    assert response.status_code == 200
    assert set(numbers(response)) == {same_place.number, dispatched.number}
    assert response.context["by_words"] is True
    html = response.content.decode()
    assert f'name="merge_into" value="{same_place.number}"' in html
    assert "地址或描述相近" in html  # "similar address or description"


def test_a_similar_description_is_enough(client, operator, community, unplaced):
    alike = unplaced(address="", description=DESCRIPTION)
    unplaced(address="", description="小区里有人乱堆建筑垃圾")
    client.force_login(operator)

    response = hint(client, community, address="", description="菜场门口有流动摊贩占道经营，堵住了人行道")

    assert numbers(response) == [alike.number]


def test_cases_alike_in_words_come_before_those_near_the_centre_and_once_each(
    client, operator, community, unplaced, make_case
):
    # Given a case near the community's centre and one without a point at the same address
    near_centre = make_case(lat=30.005, lng=120.005, address="别的地方")
    by_words = unplaced()
    client.force_login(operator)

    response = hint(client, community)

    assert numbers(response) == [by_words.number, near_centre.number]
    assert response.context["from_centre"] is True


def test_a_report_with_its_own_point_is_compared_by_place_only(client, operator, community, unplaced):
    # Given an open case at the same address, without coordinates
    unplaced()
    client.force_login(operator)

    # When the report has coordinates of its own
    response = hint(client, community, lat="30.005", lng="120.005")

    # Then only distance counts, as before
    assert numbers(response) == []
    assert response.context["by_words"] is False


def test_conduct_complaints_are_never_offered(client, operator, community, unplaced):
    officer = staff(Role.LIAISON, scope=community)
    unplaced(subject_officer=officer)
    client.force_login(operator)

    assert numbers(hint(client, community)) == []


def test_the_duplicates_of_a_filed_report_without_a_point_include_cases_alike(
    client, operator, community, unplaced
):
    master = unplaced(CaseStatus.REGISTERED, address="幸福路12号菜场门口")
    filed = unplaced(address="幸福路12号菜场门口北")
    client.force_login(operator)

    response = client.get(reverse("intake:duplicates", args=[filed.number]), **HTMX)

    assert numbers(response) == [master.number]
    assert reverse("intake:merge", args=[filed.number]) in response.content.decode()


def test_the_public_nearby_list_stays_point_based(community, unplaced):
    unplaced()

    assert open_cases_near(category=leaf_category(), lat=30.005, lng=120.005) == []


def test_only_the_newest_candidates_are_compared(community, unplaced, monkeypatch):
    # Given an alike case older than the newest ALIKE_CANDIDATES open cases of the category there
    monkeypatch.setattr("cases.selectors.ALIKE_CANDIDATES", 2)
    with clock.frozen_at(clock.now() - timedelta(hours=2)):
        older = unplaced()
    newest = unplaced()
    unplaced(address="解放大道88号", description="商铺店外经营")

    found = open_cases_alike(category=leaf_category(), community=community, address=ADDRESS)

    # Then the comparison stops at the bound
    assert [case.number for case in found] == [newest.number]
    assert older.number not in [case.number for case in found]


def test_the_hint_costs_the_same_queries_for_more_cases(
    client, operator, community, unplaced, django_assert_max_num_queries
):
    unplaced()
    client.force_login(operator)
    hint(client, community)
    # Session, user, roles (2), scope, categories, community, cases near, cases alike.
    with django_assert_max_num_queries(9):
        first = hint(client, community)

    for _ in range(6):
        unplaced()
    CaseFactory.create_batch(5, community=community, category=leaf_category(), address=ADDRESS)

    with django_assert_max_num_queries(9):
        second = hint(client, community)
    assert len(numbers(second)) > len(numbers(first))
