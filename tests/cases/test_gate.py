"""The permission gate on cases: role × scope, restrict() for querysets and can() for one case."""

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser

from cases import events, services
from cases.choices import CaseStatus
from cases.models import Case, CaseEvent, Category
from cases.scopes import CASE_PERMISSIONS
from chengguan.errors import ActionNotPermitted
from chengguan.permissions import can, restrict
from chengguan.roles import Role
from chengguan.services import user_set_scope
from tests.factories import (
    CaseFactory,
    CommunityFactory,
    DistrictFactory,
    HandlingUnitFactory,
    StreetFactory,
    UserFactory,
    staff,
)

ACTIONS = sorted(CASE_PERMISSIONS)


@pytest.fixture
def world(district, community, other_community, unit):  # type: ignore[no-untyped-def]
    """Two communities A and B in district 1, community C in district 2, and people around them."""
    district2 = DistrictFactory()
    community_c = CommunityFactory(street=StreetFactory(district=district2), origin=(121.0, 31.0))
    unit2 = HandlingUnitFactory(district=district2)
    people = SimpleNamespace(
        superuser=UserFactory(is_superuser=True),
        city_supervisor=staff(Role.SUPERVISOR, scope="city"),
        city_dispatcher=staff(Role.DISPATCHER, scope="city"),
        operator_d1=staff(Role.OPERATOR, scope=district),
        dispatcher_d2=staff(Role.DISPATCHER, scope=district2),
        liaison_a=staff(Role.LIAISON, scope=community),
        liaison_b=staff(Role.LIAISON, scope=other_community),
        staff_a=staff(Role.COMMUNITY_STAFF, scope=community),
        unit_member=staff(Role.HANDLING_UNIT, scope=unit),
        unit2_member=staff(Role.HANDLING_UNIT, scope=unit2),
        supervisor_d1=staff(Role.SUPERVISOR, scope=district),
        complained_supervisor=staff(Role.SUPERVISOR, scope=district),
        no_role=staff(Role.LIAISON, scope=community),
        inactive=staff(Role.LIAISON, scope=community),
        anonymous=AnonymousUser(),
    )
    people.no_role.groups.clear()
    people.inactive.is_active = False
    people.inactive.save()

    def case(where, **kwargs):  # type: ignore[no-untyped-def]
        return CaseFactory(community=where, **kwargs)

    cases = SimpleNamespace(
        a_reported=case(community),
        a_assigned=case(community, status=CaseStatus.DISPATCHED, assignee=people.liaison_a),
        # dispatched to B's liaison while covering A (AB角)
        a_backup=case(community, status=CaseStatus.DISPATCHED, assignee=people.liaison_b),
        b_unit=case(other_community, status=CaseStatus.DISPATCHED, handling_unit=unit),
        b_liaison=case(other_community, status=CaseStatus.IN_PROGRESS, assignee=people.liaison_b),
        c_case=case(community_c, status=CaseStatus.DISPATCHED, handling_unit=unit2),
        conduct_a=case(community, subject_officer=people.liaison_a, description="队员态度恶劣"),
        conduct_sup=case(community, subject_officer=people.complained_supervisor, description="领导推诿"),
        nowhere=case(None, district=None),
    )
    for one in vars(cases).values():
        events.note_added(one, actor=None, note="备注")
    return SimpleNamespace(people=people, cases=cases, community=community, other=other_community)


def visible(user, action="view", model=Case):  # type: ignore[no-untyped-def]
    queryset = restrict(model.objects.all(), user, action)
    if model is Case:
        return set(queryset.values_list("number", flat=True))
    return set(queryset.values_list("case__number", flat=True))


def numbers(world, *names):  # type: ignore[no-untyped-def]
    return {getattr(world.cases, name).number for name in names}


ALL = (
    "a_reported",
    "a_assigned",
    "a_backup",
    "b_unit",
    "b_liaison",
    "c_case",
    "conduct_a",
    "conduct_sup",
    "nowhere",
)
NOT_CONDUCT = tuple(name for name in ALL if not name.startswith("conduct"))
D1 = ("a_reported", "a_assigned", "a_backup", "b_unit", "b_liaison")

EXPECTED_VIEW = {
    "superuser": ALL,
    "city_supervisor": ALL,
    "city_dispatcher": NOT_CONDUCT,
    "operator_d1": D1,
    "dispatcher_d2": ("c_case",),
    "liaison_a": ("a_reported", "a_assigned", "a_backup"),
    "liaison_b": ("b_unit", "b_liaison", "a_backup"),
    "staff_a": ("a_reported", "a_assigned", "a_backup"),
    "unit_member": ("b_unit",),
    "unit2_member": ("c_case",),
    "supervisor_d1": (*D1, "conduct_a", "conduct_sup"),
    "complained_supervisor": (*D1, "conduct_a"),
    "no_role": (),
    "inactive": (),
    "anonymous": (),
}


@pytest.mark.parametrize("who", sorted(EXPECTED_VIEW))
def test_who_sees_which_case(world, who):
    user = getattr(world.people, who)
    expected = numbers(world, *EXPECTED_VIEW[who])
    assert visible(user) == expected
    # events are visible exactly when their case is
    assert visible(user, model=CaseEvent) == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("liaison_a", ("a_assigned", "a_backup")),
        ("liaison_b", ("a_backup", "b_liaison")),
        ("unit_member", ("b_unit",)),
        ("staff_a", ()),
        ("operator_d1", ()),
        ("superuser", ALL),
    ],
)
def test_who_may_handle_which_case(world, who, expected):
    assert visible(getattr(world.people, who), "handle") == numbers(world, *expected)


def test_a_liaison_cannot_see_or_act_on_another_communitys_cases(world):
    # given the liaison of community A
    liaison = world.people.liaison_a
    b_cases = Case.objects.filter(community=world.other)
    assert b_cases.count() == 2
    # then no action reaches any case of community B
    for action in ACTIONS:
        assert not restrict(b_cases, liaison, action).exists()
        for case in b_cases:
            assert not can(liaison, action, case)
    # and the services refuse them
    with pytest.raises(ActionNotPermitted):
        services.case_sign_for(case=world.cases.b_liaison, actor=liaison)
    with pytest.raises(ActionNotPermitted):
        services.case_submit_result(case=world.cases.b_liaison, actor=liaison, result="已处理")
    with pytest.raises(ActionNotPermitted):
        services.case_return(case=world.cases.b_unit, actor=liaison, reason="不归我管")
    assert Case.objects.get(pk=world.cases.b_liaison.pk).status == CaseStatus.IN_PROGRESS


def test_a_handling_unit_loses_the_case_when_it_is_returned(world):
    member, case = world.people.unit_member, world.cases.b_unit
    assert can(member, "handle", case)
    services.case_return(case=case, actor=member, reason="非本单位职责")
    case.refresh_from_db()
    assert not can(member, "view", case)
    assert case.number not in visible(member)


def test_conduct_complaints_are_for_supervisors_only(world):
    complaint = world.cases.conduct_a
    # the officer complained about never sees it, nor do colleagues without the permission
    for who in ("liaison_a", "staff_a", "operator_d1", "city_dispatcher"):
        user = getattr(world.people, who)
        assert not can(user, "view", complaint)
        assert complaint.number not in visible(user)
    # a supervisor in scope does
    assert can(world.people.supervisor_d1, "view", complaint)


def test_a_supervisor_never_sees_a_complaint_about_themselves(world):
    # given a complaint about a supervisor of the district
    user, complaint = world.people.complained_supervisor, world.cases.conduct_sup
    # then neither their district scope nor a city-wide one shows it
    assert not can(user, "view", complaint)
    user_set_scope(user=user, target=world.community)
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="oversee_city"))
    user = type(user).objects.get(pk=user.pk)
    for action in ACTIONS:
        assert not can(user, action, complaint)
        assert complaint.number not in visible(user, action)
    # nor does a superuser it is about
    user.is_superuser = True
    user.save()
    user = type(user).objects.get(pk=user.pk)
    assert not can(user, "view", complaint)
    assert complaint.number not in visible(user)


def test_withdrawing_a_district_scope_removes_access(world, district):
    operator = world.people.operator_d1
    assert world.cases.a_reported.number in visible(operator)
    user_set_scope(user=operator, target=district, grant=False)
    assert visible(operator) == set()


def test_can_agrees_with_restrict(world):
    """Guards the two implementations in cases/scopes.py against drifting apart."""
    # given every case and event, and every kind of user
    cases = list(Case.objects.all())
    events = list(CaseEvent.objects.select_related("case"))
    disagreements = []
    for who, user in vars(world.people).items():
        # when each asks for each action, as a queryset and one object at a time
        for action in ACTIONS:
            allowed = set(restrict(Case.objects.all(), user, action).values_list("pk", flat=True))
            disagreements += [
                (who, action, c.number) for c in cases if can(user, action, c) != (c.pk in allowed)
            ]
        allowed_events = set(restrict(CaseEvent.objects.all(), user, "view").values_list("pk", flat=True))
        disagreements += [
            (who, "view event", e.case.number)
            for e in events
            if can(user, "view", e) != (e.pk in allowed_events)
        ]
    # then both answers always agree
    assert disagreements == []


def test_restrict_is_one_query(world, django_assert_num_queries):
    user = world.people.liaison_a
    restrict(Case.objects.all(), user, "view")  # computes and caches the user's scope
    with django_assert_num_queries(1):
        list(restrict(Case.objects.all(), user, "view"))


def test_reference_data_does_not_compute_the_scope(world, django_assert_num_queries):
    # given a liaison whose permissions are cached but whose scope is not
    user = world.people.liaison_a
    user.has_perm("cases.view_category")
    # when they list categories through the gate
    with django_assert_num_queries(1):
        list(restrict(Category.objects.all(), user, "view"))
    # then only the categories were read: no guardian look-ups for a scope-free rule
