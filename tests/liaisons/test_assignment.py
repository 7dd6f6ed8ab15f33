"""Posting liaisons to communities moves their access to the community's cases."""

import pytest

from cases.choices import CaseStatus
from cases.models import Case
from chengguan.errors import InvalidInput
from chengguan.models import AuditEntry, User
from chengguan.permissions import can, restrict
from chengguan.roles import Role
from liaisons.choices import AssignmentRole
from liaisons.models import LiaisonAssignment
from liaisons.selectors import assignment_history, current_liaison
from liaisons.services import liaison_assign, liaison_unassign
from tests.factories import CaseFactory, staff


def fresh(user: User) -> User:
    """The user as the next request will load them (scope is cached per user object)."""
    return User.objects.get(pk=user.pk)


def sees(user: User, case: Case, action: str = "view") -> bool:
    user = fresh(user)
    in_queryset = restrict(Case.objects.filter(pk=case.pk), user, action).exists()
    assert in_queryset == can(user, action, case)
    return in_queryset


@pytest.fixture
def liaisons(db):  # type: ignore[no-untyped-def]
    return staff(Role.LIAISON), staff(Role.LIAISON)


@pytest.fixture
def admin(db):  # type: ignore[no-untyped-def]
    return staff(Role.ADMIN, scope="city")


def test_reassigning_a_community_moves_access_to_the_new_liaison(community, liaisons, admin):
    old, new = liaisons
    case = CaseFactory(community=community)
    # given the old liaison is posted to the community
    liaison_assign(community=community, liaison=old, actor=admin)
    assert sees(old, case)
    assert not sees(new, case)
    # when the community is given to the new liaison
    assignment = liaison_assign(community=community, liaison=new, actor=admin, duties="每周巡访两次")
    # then the old liaison has lost access and the new one has it
    assert not sees(old, case)
    assert sees(new, case)
    assert current_liaison(community) == assignment
    # and the history keeps both postings
    history = list(assignment_history(community))
    assert [a.liaison for a in history] == [new, old]
    assert history[1].ends_at is not None and history[0].ends_at is None
    assert list(
        AuditEntry.objects.filter(target_type="communities.community", target_id=str(community.pk))
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["liaison.assigned", "liaison.unassigned", "liaison.assigned"]


def test_access_follows_for_handling_too(community, liaisons, admin):
    old, new = liaisons
    case = CaseFactory(community=community, status=CaseStatus.DISPATCHED, assignee=staff(Role.LIAISON))
    liaison_assign(community=community, liaison=old, actor=admin)
    assert sees(old, case, "handle")  # covering the community's assigned cases (AB角)
    liaison_assign(community=community, liaison=new, actor=admin)
    assert not sees(old, case, "handle")
    assert sees(new, case, "handle")


def test_a_backup_posting_alone_grants_no_access(community, liaisons, admin):
    # Given the old responsible liaison is kept on as the backup (B角)
    old, new = liaisons
    case = CaseFactory(community=community)
    liaison_assign(community=community, liaison=old, actor=admin)
    liaison_assign(community=community, liaison=old, actor=admin, role=AssignmentRole.BACKUP)
    # When a new responsible liaison takes over
    liaison_assign(community=community, liaison=new, actor=admin)
    # Then only the responsible one has access; the backup gets it while covering
    assert not sees(old, case)
    assert sees(new, case)
    backup = LiaisonAssignment.objects.get(community=community, liaison=old, ends_at__isnull=True)
    assert backup.role == AssignmentRole.BACKUP


def test_ending_the_responsible_posting_withdraws_access(community, liaisons, admin):
    old, _new = liaisons
    case = CaseFactory(community=community)
    posting = liaison_assign(community=community, liaison=old, actor=admin)
    assert sees(old, case)
    liaison_unassign(assignment=posting, actor=admin)
    assert not sees(old, case)


def test_reassigning_does_not_touch_other_communities(community, other_community, liaisons, admin):
    old, new = liaisons
    elsewhere = CaseFactory(community=other_community)
    liaison_assign(community=community, liaison=old, actor=admin)
    liaison_assign(community=other_community, liaison=old, actor=admin)
    liaison_assign(community=community, liaison=new, actor=admin)
    assert sees(old, elsewhere)
    assert not sees(new, elsewhere)


def test_assigning_the_same_liaison_again_keeps_the_posting(community, liaisons, admin):
    liaison, _ = liaisons
    first = liaison_assign(community=community, liaison=liaison, actor=admin)
    again = liaison_assign(community=community, liaison=liaison, actor=admin, duties="一日双巡")
    assert again.pk == first.pk
    assert LiaisonAssignment.objects.filter(community=community).count() == 1
    assert LiaisonAssignment.objects.get(pk=first.pk).duties == "一日双巡"


def test_only_active_liaisons_can_be_assigned(community, admin):
    with pytest.raises(InvalidInput) as caught:
        liaison_assign(community=community, liaison=staff(Role.OPERATOR), actor=admin)
    assert caught.value.code == "invalid.liaison"
    inactive = staff(Role.LIAISON)
    inactive.is_active = False
    inactive.save()
    with pytest.raises(InvalidInput):
        liaison_assign(community=community, liaison=inactive, actor=admin)
    assert not LiaisonAssignment.objects.exists()
