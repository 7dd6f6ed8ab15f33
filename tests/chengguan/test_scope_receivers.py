"""Changes of what users may see made outside the services (the admin, a shell, role sync).

Each one drops, once committed, what is cached for the users concerned across
requests: their dashboard and assessment figures (a new token,
cases.dashboard.figures_token) and their desk menu's worklist counts
(cases.worklists). The receivers are chengguan.permissions.connect_scope_receivers.
"""

from collections.abc import Iterable
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.dashboard import figures_token
from cases.worklists import cached_worklist_counts, peek_worklist_counts
from chengguan.models import User
from chengguan.permissions import scope_for
from chengguan.roles import Role, role_group
from tests.factories import UserFactory, staff

pytestmark = pytest.mark.django_db


class Remembered:
    """What is cached for some users now: their figures' tokens and their menu counts."""

    def __init__(self, users: Iterable[User]) -> None:
        self.users = list(users)
        for user in self.users:
            cached_worklist_counts(user)
        self.tokens = {user.pk: figures_token(user.pk) for user in self.users}

    def forgotten(self) -> set[str]:
        """Usernames of the users whose figures and menu counts are both gone."""
        return {
            user.username
            for user in self.users
            if figures_token(user.pk) != self.tokens[user.pk] and peek_worklist_counts(user) is None
        }

    def untouched(self) -> set[str]:
        """Usernames of the users whose figures and menu counts are both still cached."""
        return {
            user.username
            for user in self.users
            if figures_token(user.pk) == self.tokens[user.pk] and peek_worklist_counts(user) is not None
        }


def make_user(username: str, **fields: Any) -> User:
    made: Any = UserFactory(username=username, **fields)
    return made


def user_queries(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if 'FROM "chengguan_user"' in q["sql"]]


@pytest.fixture
def supervisor(district):  # type: ignore[no-untyped-def]
    return staff(Role.SUPERVISOR, scope=district, username="sup")


# --- a user's superuser and active flags -------------------------------------------


def test_making_a_user_superuser_forgets_their_cached_figures_once_committed(
    supervisor, django_capture_on_commit_callbacks
):
    # Given a supervisor of one district with figures and menu counts cached
    remembered = Remembered([supervisor])
    assert not scope_for(supervisor).city_wide

    # When they are made a superuser (the admin's user page saves the whole user)
    with django_capture_on_commit_callbacks(execute=True):
        supervisor.is_superuser = True
        supervisor.save()
        # (a request counting before the commit would still see the old flag)
        assert remembered.untouched() == {"sup"}

    # Then, committed, nothing cached for them is used again, and this object sees the city
    assert remembered.forgotten() == {"sup"}
    assert scope_for(supervisor).city_wide


def test_taking_superuser_away_forgets_their_cached_figures(district, django_capture_on_commit_callbacks):
    root = make_user("root", is_superuser=True)
    remembered = Remembered([root])
    assert scope_for(root).city_wide

    with django_capture_on_commit_callbacks(execute=True):
        root.is_superuser = False
        root.save(update_fields=["is_superuser"])

    assert remembered.forgotten() == {"root"}
    assert scope_for(root).is_empty


def test_deactivating_and_reactivating_a_user_forgets_their_cached_figures(
    supervisor, django_capture_on_commit_callbacks
):
    for active in (False, True):
        remembered = Remembered([supervisor])
        with django_capture_on_commit_callbacks(execute=True):
            supervisor.is_active = active
            supervisor.save()
        assert remembered.forgotten() == {"sup"}, active


def test_saving_a_user_without_changing_the_flags_forgets_nothing(
    supervisor, django_capture_on_commit_callbacks, django_assert_num_queries
):
    remembered = Remembered([supervisor])

    # A full save reads the two flags first: one query more than the update
    with django_capture_on_commit_callbacks(execute=True) as callbacks, django_assert_num_queries(2):
        supervisor.name = "张三"
        supervisor.save()
    # a save of other fields (update_last_login at every sign-in) costs nothing more
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(1):
        supervisor.save(update_fields=["last_login", "name"])
    # nor does creating a user
    with django_assert_num_queries(1):
        User(username="new").save()

    assert callbacks == []
    assert remembered.untouched() == {"sup"}


# --- a role group's own permissions ------------------------------------------------


@pytest.fixture
def team(supervisor):  # type: ignore[no-untyped-def]
    """A group of two (the supervisor and another), with a user outside it."""
    group = Group.objects.create(name="督查组")
    supervisor.groups.add(group)
    make_user("other").groups.add(group)
    make_user("outside").groups.add(Group.objects.create(name="别组"))
    return group


def everyone() -> list[User]:
    return list(User.objects.filter(username__in=["sup", "other", "outside"]))


def oversee_city() -> Permission:
    return Permission.objects.get(codename="oversee_city")


@pytest.mark.parametrize("change", ["add", "remove", "set", "clear"])
def test_a_change_of_a_groups_permissions_forgets_its_members_figures_in_one_query(
    team, change, django_capture_on_commit_callbacks
):
    # Given a group holding two permissions, and figures cached for its members and for a user outside it
    other = Permission.objects.get(codename="view_case")
    team.permissions.add(oversee_city(), other)
    remembered = Remembered(everyone())

    # When its permissions change (the admin's group page, chengguan.roles.sync_roles, a shell)
    with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as queries:
        if change == "add":
            team.permissions.add(Permission.objects.get(codename="change_case"))
        elif change == "remove":
            team.permissions.remove(oversee_city())
        elif change == "set":
            team.permissions.set([other])
        else:
            team.permissions.clear()
        assert remembered.untouched() == {"sup", "other", "outside"}

    # Then, once committed, its members' figures are counted afresh, the outsider's kept;
    # its members were found in one query
    assert remembered.forgotten() == {"sup", "other"}
    assert remembered.untouched() == {"outside"}
    assert len(user_queries(queries)) == 1


def test_a_permission_given_to_groups_from_its_side_forgets_their_members_figures(
    team, django_capture_on_commit_callbacks
):
    remembered = Remembered(everyone())

    with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as queries:
        oversee_city().group_set.add(team)

    assert remembered.forgotten() == {"sup", "other"}
    assert len(user_queries(queries)) == 1


def test_a_permission_withdrawn_from_all_its_groups_forgets_their_members_figures(
    team, django_capture_on_commit_callbacks
):
    # Given the permission held by the team and by the outsider's group
    permission = oversee_city()
    permission.group_set.add(team, Group.objects.get(name="别组"))
    remembered = Remembered(everyone())

    # When every group loses it at once
    with django_capture_on_commit_callbacks(execute=True):
        permission.group_set.clear()

    assert remembered.forgotten() == {"sup", "other", "outside"}


def test_deleting_a_group_forgets_its_members_figures(team, django_capture_on_commit_callbacks):
    team.permissions.add(oversee_city())
    remembered = Remembered(everyone())

    with django_capture_on_commit_callbacks(execute=True):
        team.delete()

    assert remembered.forgotten() == {"sup", "other"}
    assert remembered.untouched() == {"outside"}


def test_a_role_groups_permissions_reach_every_holder_of_the_role(
    supervisor, district, django_capture_on_commit_callbacks
):
    # Given two supervisors and an operator
    colleague = staff(Role.SUPERVISOR, scope=district, username="colleague")
    operator = staff(Role.OPERATOR, scope=district, username="operator")
    remembered = Remembered([supervisor, colleague, operator])

    # When the supervisors' role is given the city
    with django_capture_on_commit_callbacks(execute=True):
        role_group(Role.SUPERVISOR).permissions.add(oversee_city())

    # Then both supervisors count afresh, in the city
    assert remembered.forgotten() == {"sup", "colleague"}
    assert scope_for(User.objects.get(pk=colleague.pk)).city_wide


# --- a permission deleted ------------------------------------------------------------


def test_deleting_a_permission_forgets_the_figures_of_everyone_holding_it_in_one_query(
    team, django_capture_on_commit_callbacks
):
    # Given the city held through the team (sup, other) and directly by another user,
    # and figures cached for them and for a user outside
    permission = oversee_city()
    team.permissions.add(permission)
    make_user("direct").user_permissions.add(permission)
    remembered = Remembered([*everyone(), User.objects.get(username="direct")])

    # When the permission is deleted (its grants go with it, without m2m_changed)
    with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as queries:
        permission.delete()
        assert remembered.untouched() == {"sup", "other", "outside", "direct"}

    # Then, once committed, its holders' figures are counted afresh, the outsider's kept;
    # its holders were found in one query
    assert remembered.forgotten() == {"sup", "other", "direct"}
    assert remembered.untouched() == {"outside"}
    assert len(user_queries(queries)) == 1


def test_deleting_a_scope_permission_forgets_the_figures_of_its_object_permission_holders(
    supervisor, team, district, django_capture_on_commit_callbacks
):
    # Given a supervisor overseeing a district through their own object permission
    remembered = Remembered(everyone())
    assert scope_for(supervisor).district_ids == {district.pk}

    # When the permission is deleted, and their object permissions with it
    with django_capture_on_commit_callbacks(execute=True):
        Permission.objects.get(codename="oversee_district").delete()

    # Then their figures are counted afresh, in a scope without the district
    assert remembered.forgotten() == {"sup"}
    assert remembered.untouched() == {"other", "outside"}
    assert scope_for(User.objects.get(pk=supervisor.pk)).is_empty
