from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from chengguan import clock
from communities.models import Community
from liaisons.choices import AssignmentRole
from liaisons.models import CoverPeriod, LiaisonAssignment


def current_liaison(community: Community, role: str = AssignmentRole.RESPONSIBLE) -> LiaisonAssignment | None:
    # One open posting per community and role (a unique constraint): no ORDER BY to compile.
    postings = LiaisonAssignment.objects.filter(community=community, role=role, ends_at__isnull=True)
    return next(iter(postings.select_related("liaison").order_by()[:1]), None)


def assignment_history(community: Community) -> QuerySet[LiaisonAssignment]:
    return LiaisonAssignment.objects.filter(community=community).select_related("liaison", "assigned_by")


def liaisons_for(community: Community) -> list[Any]:
    """Who should hear about a community's field work now: its responsible liaison."""
    posting = current_liaison(community)
    return [posting.liaison] if posting and posting.liaison.is_active else []


def current_cover(community: Community, at: datetime | None = None) -> CoverPeriod | None:
    """The cover period running in the community now (who covers it), if any."""
    moment = at or clock.now()
    return (
        CoverPeriod.objects.filter(
            community=community, cancelled_at__isnull=True, starts_at__lte=moment, ends_at__gt=moment
        )
        .select_related("backup")
        .order_by("starts_at")
        .first()
    )


def covers_for(user: Any) -> QuerySet[CoverPeriod]:
    """The cover periods the user may see, newest first, ready for a list."""
    return CoverPeriod.objects.restrict(user, "view").select_related(
        "community__street", "backup", "created_by"
    )
