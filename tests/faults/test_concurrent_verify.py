"""Two supervisors verifying one case at the same moment, over HTTP, each with its own connection.

One wins; the other is told, in the API as a 409 with a stable code and on
the page as a message in Chinese, and the case is decided once.
"""

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from cases import services
from cases.choices import CaseAction, CaseSource, CaseStatus
from cases.models import Case
from chengguan.roles import Role
from tests.factories import UserFactory, leaf_category, staff

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
TIMEOUT = 30


def race(contenders: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(contenders), timeout=TIMEOUT)
    results: list[Any] = [None] * len(contenders)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a contender hung"
    return results


@pytest.fixture
def resolved_case(community, unit) -> Case:  # type: ignore[no-untyped-def]
    root = UserFactory(is_superuser=True)
    case = services.case_report(
        source=CaseSource.WEB,
        category=leaf_category(),
        description="夜间施工噪声扰民",
        lat=30.005,
        lng=120.005,
    )
    case = services.case_register(case=case, actor=root)
    case = services.case_dispatch(case=case, actor=root, handling_unit=unit)
    case = services.case_sign_for(case=case, actor=root)
    return services.case_submit_result(case=case, actor=root, result="已停工")


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_api_one_verification_wins_the_other_gets_409(district, resolved_case):
    # given two supervisors of the district looking at the same resolved case
    clients = [signed_in(staff(Role.SUPERVISOR, scope=district)) for _ in range(2)]
    url = f"/api/v1/cases/{resolved_case.number}/verify/"
    body = {"passed": True, "note": "复核通过", "version": resolved_case.version}

    # when both verify at once
    responses = race([partial(c.post, url, body, content_type="application/json") for c in clients])

    # then one closes it and the other is told why it could not
    assert sorted(r.status_code for r in responses) == [200, 409], [r.content for r in responses]
    loser = next(r for r in responses if r.status_code == 409).json()
    assert loser["code"] in {"stale_object", "case.transition_not_allowed"}
    assert loser["message"]
    resolved_case.refresh_from_db()
    assert resolved_case.status == CaseStatus.CLOSED
    assert resolved_case.events.filter(action=CaseAction.CLOSE).count() == 1


def test_page_one_verification_wins_the_other_sees_a_chinese_message(district, resolved_case):
    # given two supervisors of the district, each on the case page
    clients = [signed_in(staff(Role.SUPERVISOR, scope=district)) for _ in range(2)]
    url = f"/desk/cases/{resolved_case.number}/verify/"
    form = {"note": "复核通过", "expected_version": resolved_case.version}

    # when both press "Pass and close" at once and follow the redirect to the case
    responses = race(
        [partial(c.post, url, form, follow=True, HTTP_ACCEPT_LANGUAGE="zh-hans") for c in clients]
    )

    # then both land on the case; one reads that it is closed, the other why their action did not go through
    assert [r.status_code for r in responses] == [200, 200]
    with translation.override("zh-hans"):
        won = gettext("Case %(number)s verified and closed.") % {"number": resolved_case.number}
        lost = {
            gettext("Someone else changed this record while you were working on it. Reload and try again."),
            gettext("This action is not possible in the case's current status."),
            gettext(
                "“%(action)s” is not something you can do on this case now. The page shows the case as it is."
            )
            % {"action": gettext("Pass and close")},
        }
    pages = [r.content.decode() for r in responses]
    from html import escape

    assert sum(escape(won) in page for page in pages) == 1
    assert sum(any(escape(message) in page for message in lost) for page in pages) == 1
    resolved_case.refresh_from_db()
    assert resolved_case.events.filter(action=CaseAction.CLOSE).count() == 1
