"""The casework desk: role worklists, the actions on the case detail page, bulk dispatch, notifications.

Worklists are tested as anonymous, unscoped and scoped users with their query
counts pinned; the actions over the role × status matrix: exactly the actions
the gate and the transition table allow are shown, each shown one works and
each other one is refused without changing anything.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from PIL import Image

from cases import events, services
from cases.choices import CaseSource, CaseStatus, ExtensionStatus, RejectReason
from cases.models import Case, CaseEvent, ExtensionRequest
from chengguan import clock
from chengguan.models import Notification
from chengguan.notifications import notify
from chengguan.roles import Role
from chengguan.worktime import WorkCalendar
from tests.factories import (
    CommunityFactory,
    DistrictFactory,
    HandlingUnitFactory,
    StreetFactory,
    UserFactory,
    aware,
    leaf_category,
    staff,
)

pytestmark = pytest.mark.django_db

ALL_ACTIONS = [
    "sign-for",
    "submit-result",
    "dispatch",
    "verify",
    "rework",
    "decide-extension",
    "unpark",
    "request-extension",
    "return",
    "request-park",
    "decide-parking",
    "escalate",
    "reopen",
    "mark-false",
    "moderate-text",
    "recategorise",
    "hide-photo",
]
HANDLING = {
    CaseStatus.DISPATCHED: {"sign-for", "return", "request-extension", "request-park"},
    CaseStatus.IN_PROGRESS: {"submit-result", "return", "request-extension", "request-park"},
}
# Operators and supervisors correct wording, category and place in any status
# (hiding a photo needs a photo shown: these cases have none).
MODERATION = {"moderate-text", "recategorise"}


def _with_moderation(by_status: dict[CaseStatus, set[str]]) -> dict[CaseStatus, set[str]]:
    return {status: by_status.get(status, set()) | MODERATION for status in CaseStatus}


# The oracle, written out by hand from DESIGN §1 and §3: what each role,
# scoped to the case (and, for handlers, handling it), may do in each status.
EXPECTED: dict[str, dict[CaseStatus, set[str]]] = {
    Role.OPERATOR: _with_moderation({}),  # registering is the intake desk's
    # Parking goes through a request a supervisor decides (DESIGN §1).
    Role.DISPATCHER: {CaseStatus.REGISTERED: {"dispatch", "request-park"}},
    Role.LIAISON: {**HANDLING, CaseStatus.CLOSED: {"reopen"}},
    Role.COMMUNITY_STAFF: {},
    Role.HANDLING_UNIT: dict(HANDLING),
    Role.SUPERVISOR: _with_moderation(
        {
            CaseStatus.REPORTED: {"escalate"},
            CaseStatus.REGISTERED: {"dispatch", "request-park", "escalate"},
            CaseStatus.DISPATCHED: {"escalate"},
            CaseStatus.IN_PROGRESS: {"escalate"},
            CaseStatus.RESOLVED: {"verify", "rework", "escalate"},
            # 不实/恶意投诉: a supervisor marks closed or rejected reports (DESIGN §7).
            CaseStatus.CLOSED: {"reopen", "mark-false"},
            CaseStatus.REJECTED: {"mark-false"},
            CaseStatus.PARKED: {"unpark"},
        }
    ),
}
# A handling unit sees only what was dispatched to it; every other role here
# sees every case of its district or community.
HIDDEN_FROM = {
    Role.HANDLING_UNIT: {CaseStatus.REPORTED, CaseStatus.REGISTERED, CaseStatus.REJECTED, CaseStatus.PARKED},
}
PATH = {
    CaseStatus.REPORTED: [],
    CaseStatus.REGISTERED: ["register"],
    CaseStatus.DISPATCHED: ["register", "dispatch"],
    CaseStatus.IN_PROGRESS: ["register", "dispatch", "sign_for"],
    CaseStatus.RESOLVED: ["register", "dispatch", "sign_for", "submit_result"],
    CaseStatus.CLOSED: ["register", "dispatch", "sign_for", "submit_result", "close"],
    CaseStatus.REJECTED: ["reject"],
    CaseStatus.PARKED: ["register", "park"],
}


def png(name: str = "after.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 120, 60)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def detail_url(case: Case) -> str:
    return reverse("cases:detail", args=[case.number])


def act_url(case: Case, action: str) -> str:
    return reverse("desk:act", args=[case.number, action])


def worklist_url(slug: str, query: str = "") -> str:
    return reverse("desk:worklist", args=[slug]) + (f"?{query}" if query else "")


def listed(response: Any) -> list[str]:
    return [case.number for case in response.context["page_obj"].object_list]


def shown_actions(response: Any) -> set[str]:
    return set(re.findall(r'data-desk-action="([a-z-]+)"', response.content.decode()))


def texts(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def snapshot(case: Case) -> tuple[Any, ...]:
    fresh = Case.objects.get(pk=case.pk)
    return (
        fresh.status,
        fresh.version,
        fresh.handling_unit_id,
        fresh.assignee_id,
        fresh.escalation_level,
        CaseEvent.objects.filter(case=case).count(),
        ExtensionRequest.objects.filter(case=case).count(),
    )


# --- the world -----------------------------------------------------------------


@pytest.fixture
def far(db):  # type: ignore[no-untyped-def]
    """Another district with its own community and unit."""
    district = DistrictFactory()
    return SimpleNamespace(
        district=district,
        community=CommunityFactory(street=StreetFactory(district=district), origin=(121.0, 31.0)),
        unit=HandlingUnitFactory(district=district),
        lat=31.005,
        lng=121.005,
    )


@pytest.fixture
def build(superuser, community, unit) -> Callable[..., Case]:  # type: ignore[no-untyped-def]
    """`build(status, unit=..., assignee=..., at=(lat, lng))`: a case moved there through the services."""

    def make(
        status: CaseStatus = CaseStatus.REPORTED,
        *,
        handling_unit: Any = None,
        assignee: Any = None,
        at: tuple[float, float] = (30.005, 120.005),
    ) -> Case:
        actor = superuser
        case = services.case_report(
            actor=actor,
            source=CaseSource.HOTLINE_12345,
            description="小区门口有流动摊贩占道经营",
            category=leaf_category(),
            lat=at[0],
            lng=at[1],
            reporter_name="张三",
            reporter_phone="13812341234",
        )
        for step in PATH[CaseStatus(status)]:
            if step == "register":
                services.case_register(case=case, actor=actor)
            elif step == "dispatch":
                target = handling_unit if handling_unit is not None or assignee is not None else unit
                services.case_dispatch(case=case, actor=actor, handling_unit=target, assignee=assignee)
            elif step == "sign_for":
                services.case_sign_for(case=case, actor=actor)
            elif step == "submit_result":
                services.case_submit_result(case=case, actor=actor, result="摊贩已劝离")
            elif step == "close":
                services.case_verify(case=case, actor=actor, passed=True)
            elif step == "reject":
                services.case_reject(
                    case=case, actor=actor, reason=RejectReason.INVALID, note="不属于城管职责"
                )
            elif step == "park":
                services.case_park(case=case, actor=actor, reason="涉及拆迁")
        case = Case.objects.get(pk=case.pk)
        assert case.status == status
        return case

    return make


def request_extension(case: Case, actor: Any) -> ExtensionRequest:
    return services.case_request_extension(
        case=case, actor=actor, requested_due_at=clock.now() + timedelta(days=60), reason="需协调产权单位"
    )


# --- worklists -------------------------------------------------------------------

# slug -> (role, scope kind, builder of one case waiting in the list at a place)
Place = SimpleNamespace


def _in_list(slug: str, build: Callable[..., Case], superuser: Any, place: Place) -> Case:
    at = (place.lat, place.lng)
    if slug == "dispatch":
        return build(CaseStatus.REGISTERED, at=at)
    if slug == "mine":
        return build(CaseStatus.DISPATCHED, handling_unit=place.unit, at=at)
    if slug == "verify":
        return build(CaseStatus.RESOLVED, handling_unit=place.unit, at=at)
    if slug == "extensions":
        case = build(CaseStatus.DISPATCHED, handling_unit=place.unit, at=at)
        request_extension(case, superuser)
        return case
    if slug == "parked":
        return build(CaseStatus.PARKED, at=at)
    if slug == "overdue":
        case = build(CaseStatus.IN_PROGRESS, handling_unit=place.unit, at=at)
        Case.objects.filter(pk=case.pk).update(deadline=clock.now() - timedelta(hours=3))
        return case
    if slug == "escalated":
        case = build(CaseStatus.DISPATCHED, handling_unit=place.unit, at=at)
        return services.case_escalate(case=case, actor=superuser, note="群众多次投诉，请加快处置") or case
    raise AssertionError(slug)


WORKLIST_ROLES = {
    "dispatch": Role.DISPATCHER,
    "mine": Role.HANDLING_UNIT,
    "verify": Role.SUPERVISOR,
    "extensions": Role.SUPERVISOR,
    "parked": Role.SUPERVISOR,
    "overdue": Role.SUPERVISOR,
    "escalated": Role.SUPERVISOR,
}
WORKLISTS = list(WORKLIST_ROLES)


@pytest.fixture
def home(district, community, unit):  # type: ignore[no-untyped-def]
    return SimpleNamespace(district=district, community=community, unit=unit, lat=30.005, lng=120.005)


def scoped(slug: str, place: Place) -> Any:
    role = WORKLIST_ROLES[slug]
    return staff(role, scope=place.unit if role == Role.HANDLING_UNIT else place.district)


@pytest.mark.parametrize("slug", WORKLISTS)
def test_anonymous_is_sent_to_login_from_a_worklist(client, slug):
    response = client.get(worklist_url(slug))

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={worklist_url(slug)}"


@pytest.mark.parametrize("slug", WORKLISTS)
def test_unscoped_staff_sees_an_empty_worklist(client, build, superuser, home, slug):
    _in_list(slug, build, superuser, home)
    client.force_login(staff(WORKLIST_ROLES[slug]))

    response = client.get(worklist_url(slug))

    assert response.status_code == 200
    assert listed(response) == []
    assert response.context["page_obj"].paginator.count == 0


@pytest.mark.parametrize("slug", WORKLISTS)
def test_scoped_staff_sees_only_the_cases_waiting_in_their_scope(client, build, superuser, home, far, slug):
    mine = [_in_list(slug, build, superuser, home) for _ in range(2)]
    elsewhere = _in_list(slug, build, superuser, far)
    not_waiting = build(CaseStatus.REPORTED)
    user = scoped(slug, home)
    client.force_login(user)

    response = client.get(worklist_url(slug))

    assert response.status_code == 200
    assert sorted(listed(response)) == sorted(c.number for c in mine)
    html = response.content.decode()
    assert elsewhere.number not in html
    assert not_waiting.number not in html
    for case in mine:
        assert detail_url(case) in html
    # The desk menu counts the same cases.
    counts = {item["slug"]: item["count"] for item in response.context["desk_nav"].worklists}
    assert counts[slug] == 2


def test_a_role_without_the_worklist_gets_403(client, home):
    client.force_login(staff(Role.HANDLING_UNIT, scope=home.unit))

    assert client.get(worklist_url("dispatch")).status_code == 403
    assert client.get(worklist_url("verify")).status_code == 403
    assert client.get(worklist_url("no-such-list")).status_code == 404


@pytest.mark.parametrize("slug", WORKLISTS)
def test_worklist_queries_do_not_grow_with_the_page(
    client, build, superuser, home, slug, django_assert_max_num_queries
):
    user = scoped(slug, home)
    for _ in range(5):
        _in_list(slug, build, superuser, home)

    def count_queries() -> int:
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(worklist_url(slug))
        assert response.status_code == 200
        return len(queries.captured_queries)

    with_five = count_queries()
    for _ in range(20):
        _in_list(slug, build, superuser, home)
    # 14: one of them reads the user's saved filters (cases.views.lists.list_tools), and
    # the working-day calendar when no earlier request cached it.
    with django_assert_max_num_queries(14):
        client.get(worklist_url(slug))
    with_twenty_five = count_queries()

    assert with_five == with_twenty_five
    assert len(listed(client.get(worklist_url(slug)))) == 25


def test_handler_list_holds_dispatched_in_progress_and_reworked_cases(client, build, home):
    dispatched = build(CaseStatus.DISPATCHED)
    in_progress = build(CaseStatus.IN_PROGRESS)
    resolved = build(CaseStatus.RESOLVED)
    reworked = build(CaseStatus.RESOLVED)
    services.case_verify(case=reworked, actor=UserFactory(is_superuser=True), passed=False, note="仍有杂物")
    client.force_login(staff(Role.HANDLING_UNIT, scope=home.unit))

    response = client.get(worklist_url("mine"))

    assert sorted(listed(response)) == sorted([dispatched.number, in_progress.number, reworked.number])
    assert resolved.number not in response.content.decode()
    only_reworked = client.get(worklist_url("mine", "reworked=true"))
    assert listed(only_reworked) == [reworked.number]


def test_liaison_my_cases_are_those_dispatched_to_them(client, build, home):
    liaison = staff(Role.LIAISON, scope=home.community)
    to_liaison = build(CaseStatus.DISPATCHED, assignee=liaison)
    build(CaseStatus.DISPATCHED)  # to the unit, in the same community
    client.force_login(liaison)

    assert listed(client.get(worklist_url("mine"))) == [to_liaison.number]


def test_dispatch_queue_flags_returned_cases_with_the_reason(client, build, home, unit_member):
    fresh = build(CaseStatus.REGISTERED)
    returned = build(CaseStatus.DISPATCHED)
    services.case_return(case=returned, actor=unit_member, reason="不属于本单位职责")
    client.force_login(staff(Role.DISPATCHER, scope=home.district))

    response = client.get(worklist_url("dispatch"))

    assert sorted(listed(response)) == sorted([fresh.number, returned.number])
    html = response.content.decode()
    assert "不属于本单位职责" in html
    assert listed(client.get(worklist_url("dispatch", "returned=true"))) == [returned.number]
    assert listed(client.get(worklist_url("dispatch", "returned=false"))) == [fresh.number]


def test_worklist_sorts_by_whitelisted_columns_only(client, build, home):
    first, second, third = (build(CaseStatus.REGISTERED) for _ in range(3))
    Case.objects.filter(pk=first.pk).update(deadline=clock.now() + timedelta(days=3))
    Case.objects.filter(pk=second.pk).update(deadline=clock.now() + timedelta(days=1))
    Case.objects.filter(pk=third.pk).update(deadline=clock.now() + timedelta(days=2))
    client.force_login(staff(Role.DISPATCHER, scope=home.district))

    by_deadline = listed(client.get(worklist_url("dispatch", "ordering=deadline")))
    latest_first = listed(client.get(worklist_url("dispatch", "ordering=-deadline")))
    by_number = listed(client.get(worklist_url("dispatch", "ordering=number")))
    rogue = client.get(worklist_url("dispatch", "ordering=reporter_phone"))

    assert by_deadline == [second.number, third.number, first.number]
    assert latest_first == [first.number, third.number, second.number]
    assert by_number == sorted(by_number)
    assert rogue.status_code == 200  # an unknown column is ignored, not obeyed
    assert sorted(listed(rogue)) == sorted(c.number for c in (first, second, third))
    assert (
        'aria-sort="ascending"' in client.get(worklist_url("dispatch", "ordering=deadline")).content.decode()
    )


def test_worklist_shows_working_time_left_and_overdue(client, build, home):
    soon = build(CaseStatus.REGISTERED)
    late = build(CaseStatus.REGISTERED)
    Case.objects.filter(pk=late.pk).update(deadline=clock.now() - timedelta(days=2))
    client.force_login(staff(Role.DISPATCHER, scope=home.district))

    response = client.get(worklist_url("dispatch"))

    by_number = {case.number: case for case in response.context["page_obj"].object_list}
    assert by_number[late.number].deadline_info.overdue
    assert not by_number[soon.number].deadline_info.overdue
    html = response.content.decode()
    assert "deadline--overdue" in html
    assert "deadline__left" in html


# --- the desk menu and the bell ------------------------------------------------------


def test_desk_menu_counts_each_worklist_of_a_supervisor_in_one_query(client, build, superuser, home):
    _in_list("verify", build, superuser, home)
    _in_list("parked", build, superuser, home)
    _in_list("parked", build, superuser, home)
    supervisor = scoped("verify", home)
    client.force_login(supervisor)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("desk:home"))

    counts = {item["slug"]: item["count"] for item in response.context["desk_nav"].worklists}
    assert counts == {
        "dispatch": 0,
        "verify": 1,
        "extensions": 0,
        "parked": 2,
        "overdue": 0,
        "escalated": 0,
    }
    case_queries = [q for q in queries.captured_queries if 'FROM "cases_case"' in q["sql"]]
    assert len(case_queries) == 1
    html = response.content.decode()
    assert 'id="desknav"' in html
    assert worklist_url("verify") in html


def test_no_desk_menu_for_roles_without_worklists_nor_for_anonymous(client, home):
    client.force_login(staff(Role.COMMUNITY_STAFF, scope=home.community))
    html = client.get(reverse("home")).content.decode()
    assert 'id="desknav"' not in html
    assert 'id="bell"' in html

    client.logout()
    html = client.get(reverse("home")).content.decode()
    assert 'id="desknav"' not in html
    assert 'id="bell"' not in html


def test_bell_shows_the_unread_count_and_the_page_marks_read(client, home):
    user = staff(Role.DISPATCHER, scope=home.district)
    other = staff(Role.DISPATCHER, scope=home.district)
    notify(recipients=[user], key="a", title="CG-1: 已派遣", url="/cases/CG-1/")
    notify(recipients=[user], key="b", title="CG-2: 已回退")
    notify(recipients=[other], key="c", title="不是你的")
    client.force_login(user)

    page = client.get(reverse("desk:notifications"))

    html = page.content.decode()
    assert 'class="bell__count" aria-hidden="true">2<' in html
    assert "CG-1: 已派遣" in html and "CG-2: 已回退" in html
    assert "不是你的" not in html

    first = Notification.objects.get(key="a")
    opened = client.get(reverse("desk:notification_open", args=[first.pk]))
    assert opened.status_code == 302 and opened.url == "/cases/CG-1/"
    first.refresh_from_db()
    assert first.read_at is not None

    theirs = Notification.objects.get(key="c")
    assert client.get(reverse("desk:notification_open", args=[theirs.pk])).status_code == 404
    client.post(reverse("desk:notifications_read"), {"id": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.read_at is None

    client.post(reverse("desk:notifications_read"), {"all": "1"})
    assert not Notification.objects.filter(recipient=user, read_at__isnull=True).exists()
    assert 'class="bell__count"' not in client.get(reverse("desk:notifications")).content.decode()


def test_notification_link_elsewhere_is_not_followed(client, home):
    user = staff(Role.DISPATCHER, scope=home.district)
    notify(recipients=[user], key="x", title="钓鱼", url="https://evil.example/")
    client.force_login(user)

    response = client.get(reverse("desk:notification_open", args=[Notification.objects.get(key="x").pk]))

    assert response.url == reverse("desk:notifications")


# --- case actions: the role × status matrix ---------------------------------------------


@pytest.fixture
def actor_for(home):  # type: ignore[no-untyped-def]
    def make(role: str) -> Any:
        target = {
            Role.OPERATOR: home.district,
            Role.DISPATCHER: home.district,
            Role.LIAISON: home.community,
            Role.COMMUNITY_STAFF: home.community,
            Role.HANDLING_UNIT: home.unit,
            Role.SUPERVISOR: home.district,
        }[role]
        return staff(role, scope=target)

    return make


def valid_post(action: str, case: Case, unit: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"expected_version": case.version}
    later = timezone.localdate(clock.now()) + timedelta(days=90)
    data.update(
        {
            "dispatch": {"handling_unit": getattr(unit, "pk", ""), "note": "请尽快处置"},
            "return": {"reason": "不属于本单位职责"},
            "sign-for": {},
            "submit-result": {"result": "摊贩已劝离，现场已清理", "photos": [png()]},
            "request-extension": {"due_date": later.isoformat(), "reason": "需协调产权单位"},
            "decide-extension": {"decision": "approve", "note": "同意"},
            "request-park": {"reason": "涉及拆迁，暂缓处置"},
            "decide-parking": {"decision": "approve", "note": "同意"},
            "moderate-text": {"description": "小区门口有摊贩占道经营", "reason": "删除不文明用语"},
            "recategorise": {"address": "幸福路12号", "reason": "地址更正"},
            "hide-photo": {"attachment": 0, "reason": "照片含人脸"},
            "unpark": {"note": "拆迁完成"},
            "verify": {"note": "现场已核实"},
            "rework": {"reason": "现场仍有杂物"},
            "escalate": {"note": "请加快处置"},
            "reopen": {"reason": "回访不满意"},
            "mark-false": {"reason": "举报人捏造事实"},
        }[action]
    )
    if action == "decide-extension":
        pending = case.extension_requests.filter(status=ExtensionStatus.PENDING).first()
        data["request"] = pending.pk if pending else 0
    return data


MATRIX = [(role, status) for role in EXPECTED for status in PATH]


@pytest.mark.parametrize(("role", "status"), MATRIX, ids=[f"{r}-{s}" for r, s in MATRIX])
def test_role_by_status_matrix(client, build, actor_for, home, role, status):
    """Given a role scoped to the case, the detail page shows exactly the allowed actions;
    each works when posted, and each other one is refused with no change."""
    user = actor_for(role)
    handler = {"assignee": user} if role == Role.LIAISON else {}
    expected = EXPECTED[role].get(status, set())
    case = build(status, **handler)
    client.force_login(user)

    response = client.get(detail_url(case))

    if status in HIDDEN_FROM.get(role, ()):
        assert response.status_code == 404
        for action in ALL_ACTIONS:
            before = snapshot(case)
            assert client.post(act_url(case, action), valid_post(action, case, home.unit)).status_code == 404
            assert snapshot(case) == before
        return
    assert response.status_code == 200
    assert shown_actions(response) == expected

    for action in ALL_ACTIONS:
        if action in expected:
            target = build(status, **handler)
            before = snapshot(target)
            posted = client.post(act_url(target, action), valid_post(action, target, home.unit))
            assert posted.status_code == 302, (action, texts(posted))
            assert posted.url == detail_url(target)
            assert snapshot(target) != before, action
            assert CaseEvent.objects.filter(case=target).count() == before[5] + 1, action
            assert any(target.number in text for text in texts(posted)), texts(posted)
        else:
            before = snapshot(case)
            posted = client.post(act_url(case, action), valid_post(action, case, home.unit))
            assert posted.status_code == 302, action
            assert snapshot(case) == before, action
            assert texts(posted), action


def test_a_case_outside_the_scope_is_404_for_actions(client, build, far, home):
    case = build(CaseStatus.REGISTERED, at=(far.lat, far.lng))
    client.force_login(staff(Role.DISPATCHER, scope=home.district))

    response = client.post(act_url(case, "dispatch"), valid_post("dispatch", case, home.unit))

    assert response.status_code == 404
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REGISTERED


def test_actions_need_a_post(client, build, home):
    case = build(CaseStatus.REGISTERED)
    client.force_login(staff(Role.DISPATCHER, scope=home.district))

    assert client.get(act_url(case, "dispatch")).status_code == 405
    assert client.post(act_url(case, "no-such-action"), {}).status_code == 404


def test_conduct_complaint_actions_hidden_from_the_officer(client, build, home):
    liaison = staff(Role.LIAISON, scope=home.community)
    case = build(CaseStatus.DISPATCHED, assignee=liaison)
    Case.objects.filter(pk=case.pk).update(subject_officer=liaison)
    client.force_login(liaison)

    assert client.get(detail_url(case)).status_code == 404
    assert client.post(act_url(case, "sign-for"), {"expected_version": case.version}).status_code == 404


# --- extensions -------------------------------------------------------------------------


def test_pending_extension_swaps_request_for_decide(client, build, home, supervisor, unit_member):
    case = build(CaseStatus.DISPATCHED)
    request_extension(case, unit_member)

    client.force_login(unit_member)
    assert shown_actions(client.get(detail_url(case))) == {"sign-for", "return", "request-park"}

    client.force_login(supervisor)
    response = client.get(detail_url(case))
    assert shown_actions(response) == {"decide-extension", "escalate", *MODERATION}
    assert "需协调产权单位" in response.content.decode()


def test_supervisor_approves_an_extension_and_the_deadline_moves(
    client, build, supervisor, unit_member, home
):
    case = build(CaseStatus.DISPATCHED)
    request = request_extension(case, unit_member)
    client.force_login(supervisor)

    response = client.post(act_url(case, "decide-extension"), valid_post("decide-extension", case, home.unit))

    assert response.status_code == 302
    request.refresh_from_db()
    case.refresh_from_db()
    assert request.status == ExtensionStatus.APPROVED
    assert case.due_at == request.requested_due_at
    assert case.extension_count == 1


def test_refusing_an_extension_needs_a_note(client, build, supervisor, unit_member, home):
    case = build(CaseStatus.DISPATCHED)
    request = request_extension(case, unit_member)
    client.force_login(supervisor)
    data = {**valid_post("decide-extension", case, home.unit), "decision": "refuse", "note": ""}

    response = client.post(act_url(case, "decide-extension"), data)

    assert response.status_code == 422
    assert "decide-extension" in shown_actions(response)
    request.refresh_from_db()
    assert request.status == ExtensionStatus.PENDING

    data["note"] = "理由不充分"
    assert client.post(act_url(case, "decide-extension"), data).status_code == 302
    request.refresh_from_db()
    assert request.status == ExtensionStatus.REFUSED


def test_extension_date_before_the_current_deadline_is_refused_with_the_service_message(
    client, build, unit_member
):
    case = build(CaseStatus.DISPATCHED)
    tomorrow = timezone.localdate(clock.now()) + timedelta(days=1)
    Case.objects.filter(pk=case.pk).update(due_at=clock.now() + timedelta(days=30))
    client.force_login(unit_member)

    response = client.post(
        act_url(case, "request-extension"),
        {"expected_version": case.version, "due_date": tomorrow.isoformat(), "reason": "人手不足"},
    )

    assert response.status_code == 422
    assert "新的时限必须晚于当前时限。" in response.content.decode()
    assert not ExtensionRequest.objects.filter(case=case).exists()


# --- errors are messages, never 500 ------------------------------------------------------


def test_stale_version_gives_a_clear_message_and_changes_nothing(client, build, superuser, home):
    case = build(CaseStatus.REGISTERED)
    dispatcher = staff(Role.DISPATCHER, scope=home.district)
    client.force_login(dispatcher)
    seen_version = case.version
    # Meanwhile a supervisor parks and unparks it.
    services.case_park(case=case, actor=superuser, reason="暂缓")
    services.case_unpark(case=case, actor=superuser)

    response = client.post(
        act_url(case, "dispatch"),
        {"expected_version": seen_version, "handling_unit": home.unit.pk},
        follow=True,
    )

    assert response.status_code == 200
    assert "在您操作期间，其他人修改了这条记录。请刷新后重试。" in response.content.decode()
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REGISTERED


def test_stale_version_is_refused_for_a_service_without_its_own_check(client, build, unit_member):
    case = build(CaseStatus.DISPATCHED)
    data = valid_post("request-extension", case, None)
    services.case_sign_for(case=case, actor=unit_member)
    client.force_login(unit_member)

    response = client.post(act_url(case, "request-extension"), data, follow=True)

    assert "在您操作期间，其他人修改了这条记录。请刷新后重试。" in response.content.decode()
    assert not ExtensionRequest.objects.filter(case=case).exists()


def test_missing_reason_shows_the_form_again_with_the_error(client, build, supervisor):
    case = build(CaseStatus.RESOLVED)
    client.force_login(supervisor)

    response = client.post(act_url(case, "rework"), {"expected_version": case.version, "reason": ""})

    assert response.status_code == 422
    html = response.content.decode()
    assert 'data-desk-action="rework" open' in html
    assert "errorlist" in html
    assert Case.objects.get(pk=case.pk).status == CaseStatus.RESOLVED


def test_dispatch_needs_a_unit_or_a_liaison(client, build, home):
    case = build(CaseStatus.REGISTERED)
    client.force_login(staff(Role.DISPATCHER, scope=home.district))

    response = client.post(act_url(case, "dispatch"), {"expected_version": case.version})

    assert response.status_code == 422
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REGISTERED


def test_a_photo_that_is_not_an_image_is_refused_with_the_service_message(client, build, unit_member):
    case = build(CaseStatus.IN_PROGRESS)
    client.force_login(unit_member)
    fake = SimpleUploadedFile("x.png", b"not an image", content_type="image/png")

    response = client.post(
        act_url(case, "submit-result"),
        {"expected_version": case.version, "result": "已处理", "photos": [fake]},
    )

    assert response.status_code == 422
    assert Case.objects.get(pk=case.pk).status == CaseStatus.IN_PROGRESS


def test_htmx_post_swaps_without_a_reload(client, build, unit_member):
    case = build(CaseStatus.DISPATCHED)
    client.force_login(unit_member)

    response = client.post(
        act_url(case, "sign-for"), {"expected_version": case.version}, HTTP_HX_REQUEST="true", follow=True
    )

    assert response.status_code == 200
    assert Case.objects.get(pk=case.pk).status == CaseStatus.IN_PROGRESS
    assert 'id="main"' in response.content.decode()


# --- dispatch suggestions and bulk dispatch -------------------------------------------------


def test_dispatch_form_suggests_the_category_units_and_the_community_liaison(client, build, home, superuser):
    from liaisons.models import LiaisonAssignment

    usual = HandlingUnitFactory(district=home.district, name="环卫所")
    leaf_category().handling_units.add(usual)
    liaison = staff(Role.LIAISON, scope=home.community)
    LiaisonAssignment.objects.create(community=home.community, liaison=liaison, starts_at=clock.now())
    case = build(CaseStatus.REGISTERED)
    client.force_login(staff(Role.DISPATCHER, scope=home.district))

    response = client.get(detail_url(case))

    form = dict(response.context["actions"])
    dispatch = next(f for a, f in response.context["actions"] if a.slug == "dispatch")
    assert form
    unit_choices = dispatch.fields["handling_unit"].widget.choices
    assert unit_choices[1][1] == [(usual.pk, "环卫所")]  # the suggested group comes first
    assignee_choices = dispatch.fields["assignee"].widget.choices
    assert assignee_choices[1][1][0][0] == liaison.pk

    posted = client.post(
        act_url(case, "dispatch"), {"expected_version": case.version, "assignee": liaison.pk}
    )
    assert posted.status_code == 302
    case.refresh_from_db()
    assert case.assignee == liaison and case.status == CaseStatus.DISPATCHED


def test_bulk_dispatch_sends_each_selected_case_and_reports_the_rest(client, build, superuser, home, far):
    cases = [build(CaseStatus.REGISTERED) for _ in range(3)]
    stale = build(CaseStatus.REGISTERED)
    stale_version = stale.version
    services.case_park(case=stale, actor=superuser, reason="暂缓")
    services.case_unpark(case=stale, actor=superuser)
    outside = build(CaseStatus.REGISTERED, at=(far.lat, far.lng))
    client.force_login(staff(Role.DISPATCHER, scope=home.district))

    response = client.post(
        reverse("desk:bulk_dispatch"),
        {
            "cases": [f"{c.pk}:{c.version}" for c in cases]
            + [f"{stale.pk}:{stale_version}", f"{outside.pk}:{outside.version}"],
            "handling_unit": home.unit.pk,
            "note": "集中整治",
            "next": worklist_url("dispatch"),
        },
    )

    assert response.status_code == 302 and response.url == worklist_url("dispatch")
    for case in cases:
        case.refresh_from_db()
        assert case.status == CaseStatus.DISPATCHED and case.handling_unit == home.unit
    assert Case.objects.get(pk=stale.pk).status == CaseStatus.REGISTERED
    assert Case.objects.get(pk=outside.pk).status == CaseStatus.REGISTERED
    messages = texts(response)
    assert any("3" in m and cases[0].number in m for m in messages)
    assert any(stale.number in m for m in messages)


def test_bulk_dispatch_without_a_handler_changes_nothing(client, build, home):
    case = build(CaseStatus.REGISTERED)
    client.force_login(staff(Role.DISPATCHER, scope=home.district))

    response = client.post(reverse("desk:bulk_dispatch"), {"cases": [f"{case.pk}:{case.version}"]})

    assert response.status_code == 302
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REGISTERED
    assert texts(response)


def test_bulk_dispatch_is_for_dispatchers_only(client, build, home, unit_member):
    case = build(CaseStatus.REGISTERED)
    client.force_login(unit_member)

    response = client.post(
        reverse("desk:bulk_dispatch"), {"cases": [f"{case.pk}:{case.version}"], "handling_unit": home.unit.pk}
    )

    assert response.status_code == 403
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REGISTERED


def test_dispatch_queue_offers_the_bulk_form(client, build, home):
    case = build(CaseStatus.REGISTERED)
    client.force_login(staff(Role.DISPATCHER, scope=home.district))

    html = client.get(worklist_url("dispatch")).content.decode()

    assert 'id="bulk-dispatch"' in html
    assert f'value="{case.pk}:{case.version}" form="bulk-dispatch"' in html


# --- case detail: deadline and queries ----------------------------------------------------


def test_detail_queries_do_not_grow_with_the_timeline(
    client, build, supervisor, django_assert_max_num_queries
):
    short = build(CaseStatus.RESOLVED)
    long = build(CaseStatus.RESOLVED)
    for n in range(10):
        events.note_added(long, actor=supervisor, note=f"备注{n}")
    client.force_login(supervisor)

    def count(case: Case) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(detail_url(case)).status_code == 200
        return len(queries.captured_queries)

    count(short)  # warm caches shared by both
    assert count(short) == count(long)
    # + pending parking, reply templates, the correction forms' category and
    # community choices, the hide-photo and unhide-photo checks: fixed, not per event.
    with django_assert_max_num_queries(21):
        client.get(detail_url(long))


def test_detail_with_the_dispatch_form_has_a_fixed_query_budget(
    client, build, home, django_assert_max_num_queries
):
    case = build(CaseStatus.REGISTERED)
    client.force_login(staff(Role.DISPATCHER, scope=home.district))

    # + the pending parking request and the reply templates.
    with django_assert_max_num_queries(22):
        response = client.get(detail_url(case))

    assert shown_actions(response) == {"dispatch", "request-park"}


def test_working_time_left_counts_office_hours_only():
    from cases.templatetags.desk import work_duration
    from cases.worklists import deadline_info

    translation.activate("en")
    calendar = WorkCalendar(overrides={})
    monday_10 = aware(2025, 3, 3, 10, 0)
    case = Case(status=CaseStatus.DISPATCHED, deadline=aware(2025, 3, 4, 11, 0))

    info = deadline_info(case, now=monday_10, calendar=calendar)

    assert info is not None and not info.overdue
    # 10-12 and 13-18 on Monday, 9-11 on Tuesday
    assert info.working_time == timedelta(hours=9)
    assert work_duration(info.working_time, info.day_length) == "1 working day 1 h"

    late = deadline_info(case, now=aware(2025, 3, 4, 14, 30), calendar=calendar)
    assert late is not None and late.overdue
    assert late.working_time == timedelta(hours=2, minutes=30)
    assert work_duration(late.working_time, late.day_length) == "2 h 30 min"
    assert (
        deadline_info(Case(status=CaseStatus.CLOSED, deadline=monday_10), now=monday_10, calendar=calendar)
        is None
    )
