"""Writes on liaison postings; each moves the guardian scope in the same transaction."""

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from chengguan import clock
from chengguan.audit import audit
from chengguan.errors import InvalidInput
from chengguan.permissions import forget_scope
from chengguan.roles import Role
from communities.models import Community
from liaisons.choices import AssignmentRole
from liaisons.models import LiaisonAssignment

COMMUNITY_PERM = "communities.work_in_community"


def _still_responsible(liaison: Any, community: Community) -> bool:
    return LiaisonAssignment.objects.filter(
        community=community, liaison=liaison, role=AssignmentRole.RESPONSIBLE, ends_at__isnull=True
    ).exists()


@transaction.atomic
def liaison_assign(
    *,
    community: Community,
    liaison: Any,
    actor: Any = None,
    role: AssignmentRole | str = AssignmentRole.RESPONSIBLE,
    duties: str = "",
) -> LiaisonAssignment:
    """Post a liaison to a community, ending whoever held that role there.

    Preconditions: the liaison is active and in the liaison role.
    Side effects: for the responsible role (A角), the previous holder loses
    `work_in_community` on the community and the new one gets it. A backup
    posting (B角) grants no access by itself: the backup works in the
    community only while covering a leave period. Both changes are audited.
    """
    if not liaison.is_active or not liaison.groups.filter(name=Role.LIAISON).exists():
        raise InvalidInput(
            _("Only active liaison officers can be assigned to a community."), code="invalid.liaison"
        )
    role = AssignmentRole(role)
    now = clock.now()
    current = (
        LiaisonAssignment.objects.select_for_update()
        .filter(community=community, role=role, ends_at__isnull=True)
        .first()
    )
    if current is not None:
        if current.liaison_id == liaison.pk:
            if duties and duties != current.duties:
                current.duties = duties
                current.save(update_fields=["duties"])
            return current
        current.ends_at = now
        current.save(update_fields=["ends_at"])
        if not _still_responsible(current.liaison, community):
            remove_perm(COMMUNITY_PERM, current.liaison, community)
            forget_scope(current.liaison)
        audit(
            actor=actor,
            action="liaison.unassigned",
            target=community,
            liaison=current.liaison_id,
            role=role.value,
        )
    assignment = LiaisonAssignment.objects.create(
        community=community, liaison=liaison, role=role, duties=duties, starts_at=now, assigned_by=actor
    )
    if role == AssignmentRole.RESPONSIBLE:
        assign_perm(COMMUNITY_PERM, liaison, community)
        forget_scope(liaison)
    audit(actor=actor, action="liaison.assigned", target=community, liaison=liaison.pk, role=role.value)
    return assignment


@transaction.atomic
def liaison_unassign(*, assignment: LiaisonAssignment, actor: Any = None) -> LiaisonAssignment:
    """End a posting now and withdraw the community access it gave."""
    assignment = LiaisonAssignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.ends_at is not None:
        return assignment
    assignment.ends_at = clock.now()
    assignment.save(update_fields=["ends_at"])
    if not _still_responsible(assignment.liaison, assignment.community):
        remove_perm(COMMUNITY_PERM, assignment.liaison, assignment.community)
        forget_scope(assignment.liaison)
    audit(
        actor=actor, action="liaison.unassigned", target=assignment.community, liaison=assignment.liaison_id
    )
    return assignment
