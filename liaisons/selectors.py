from typing import Any

from django.db.models import QuerySet

from communities.models import Community
from liaisons.choices import AssignmentRole
from liaisons.models import LiaisonAssignment


def current_liaison(community: Community, role: str = AssignmentRole.RESPONSIBLE) -> LiaisonAssignment | None:
    return (
        LiaisonAssignment.objects.filter(community=community, role=role, ends_at__isnull=True)
        .select_related("liaison")
        .first()
    )


def assignment_history(community: Community) -> QuerySet[LiaisonAssignment]:
    return LiaisonAssignment.objects.filter(community=community).select_related("liaison", "assigned_by")


def liaisons_for(community: Community) -> list[Any]:
    """Who should hear about a community's field work now: its responsible liaison."""
    posting = current_liaison(community)
    return [posting.liaison] if posting and posting.liaison.is_active else []
