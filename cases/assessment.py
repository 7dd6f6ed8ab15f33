"""Writes of the monthly assessment (月度考核): the two-way assessment input (双向考评).

Each month, per community, the community's staff rate their liaison and the
liaison rates the community's cooperation, 1 to 5 with a comment; once per
month, direction and community. Ratings are open for the month under way
and the month just ended (the assessment of a month is made early in the
next). The averages show in the assessment (cases.dashboard.Assessment) and
may weigh in a liaison's composite score (AssessmentWeights.community_rating).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.dashboard import previous_month
from cases.models import TwoWayRating
from chengguan import clock
from chengguan.audit import audit
from chengguan.errors import ActionNotPermitted, InvalidInput
from chengguan.permissions import scope_for
from communities.models import Community

Direction = TwoWayRating.Direction

# Which permission each direction needs (chengguan.roles).
DIRECTION_PERMISSIONS = {
    Direction.OF_LIAISON: "cases.rate_liaison",
    Direction.OF_COMMUNITY: "cases.rate_community",
}
MAX_COMMENT = 500


def rating_months(today: date | None = None) -> list[date]:
    """The months open for rating, latest first: this month and the last."""
    today = today or timezone.localdate(clock.now())
    first = today.replace(day=1)
    return [first, previous_month(first)]


def responsible_liaison(community: Community) -> Any:
    """The community's responsible liaison (A角) now, or None."""
    from liaisons.choices import AssignmentRole
    from liaisons.models import LiaisonAssignment

    assignment = (
        LiaisonAssignment.objects.filter(
            community=community, role=AssignmentRole.RESPONSIBLE, ends_at__isnull=True
        )
        .select_related("liaison")
        .first()
    )
    return assignment.liaison if assignment else None


def communities_to_rate(user: Any, direction: str) -> QuerySet[Community]:
    """The communities `user` may rate in `direction`.

    The community's liaison: staff working in a community (role permission
    `rate_liaison` and the community in their scope) that has a responsible
    liaison. The community's cooperation: a liaison (`rate_community`) posted
    to it now.
    """
    from liaisons.models import LiaisonAssignment

    permission = DIRECTION_PERMISSIONS.get(direction)  # type: ignore[call-overload]
    if permission is None or not (user.is_authenticated and user.is_active and user.has_perm(permission)):
        return Community.objects.none()
    communities = Community.objects.filter(is_active=True)
    if direction == Direction.OF_LIAISON:
        from liaisons.choices import AssignmentRole

        return communities.filter(
            pk__in=scope_for(user).community_ids,
            assignments__role=AssignmentRole.RESPONSIBLE,
            assignments__ends_at__isnull=True,
        ).distinct()
    posted = LiaisonAssignment.objects.filter(liaison=user, ends_at__isnull=True).values("community_id")
    return communities.filter(pk__in=posted)


@transaction.atomic
def two_way_rating_submit(
    *,
    actor: Any,
    community: Community,
    direction: str,
    month: date,
    score: int,
    comment: str = "",
) -> TwoWayRating:
    """Record one two-way rating (双向考评) of `community` for `month`.

    Preconditions: `actor` may rate the community in that direction
    (`communities_to_rate`); `month` is open for rating (`rating_months`);
    a score from 1 to 5; no rating of the community in that direction for
    that month yet.
    Side effects: one TwoWayRating (naming the liaison rated, or the liaison
    who rates); an audit entry `two_way_rating.submit`.
    Raises ActionNotPermitted, or InvalidInput with code
    `assessment.month_closed`, `assessment.no_liaison` or `assessment.already_rated`.
    """
    if not communities_to_rate(actor, direction).filter(pk=community.pk).exists():
        raise ActionNotPermitted()
    month = month.replace(day=1)
    if month not in rating_months():
        raise InvalidInput(
            _("Ratings are open for this month and last month only."), code="assessment.month_closed"
        )
    if direction == Direction.OF_LIAISON:
        liaison = responsible_liaison(community)
        if liaison is None:
            raise InvalidInput(_("The community has no liaison to rate."), code="assessment.no_liaison")
    else:
        liaison = actor
    # Lock the community's row so two raters of one community wait for each other.
    Community.objects.select_for_update().filter(pk=community.pk).first()
    if TwoWayRating.objects.filter(month=month, community=community, direction=direction).exists():
        raise InvalidInput(
            _("This community has already been rated for this month."), code="assessment.already_rated"
        )
    rating = TwoWayRating(
        month=month,
        community=community,
        direction=direction,
        liaison=liaison,
        score=score,
        comment=(comment or "").strip(),
        rater=actor,
        created_at=clock.now(),
    )
    if len(rating.comment) > MAX_COMMENT:
        raise InvalidInput(
            _("The comment is too long (at most %(n)s characters).") % {"n": MAX_COMMENT},
            code="invalid.comment",
        )
    try:
        rating.full_clean(validate_constraints=False)
    except ValidationError as error:
        raise InvalidInput(" ".join(error.messages), code="invalid.rating") from error
    try:
        with transaction.atomic():
            rating.save()
    except IntegrityError as error:
        raise InvalidInput(
            _("This community has already been rated for this month."), code="assessment.already_rated"
        ) from error
    audit(
        actor=actor,
        action="two_way_rating.submit",
        target=rating,
        month=month.isoformat(),
        community=community.pk,
        direction=str(direction),
        liaison=liaison.pk,
        score=score,
    )
    return rating
