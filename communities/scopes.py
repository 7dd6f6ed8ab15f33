"""Scope rules for geography and handling units."""

from typing import Any

from django.db.models import Q

from chengguan.permissions import NOTHING, Scope, ScopeRule, area_rule, in_ids, register_rule
from communities.models import Community, District, Facility, GridCell, HandlingUnit, Street


def _unit_q(scope: Scope, user: Any, action: str) -> Q:
    if scope.city_wide:
        return Q()
    districts = scope.district_ids | scope.community_district_ids
    return NOTHING | Q(pk__in=scope.unit_ids) | Q(district_id__in=districts) | Q(district__isnull=True)


def _unit_allows(scope: Scope, user: Any, action: str, unit: HandlingUnit) -> bool:
    if scope.city_wide or unit.district_id is None or unit.pk in scope.unit_ids:
        return True
    return in_ids(unit.district_id, scope.district_ids | scope.community_district_ids)


def register() -> None:
    register_rule(
        District, area_rule(app_model="communities.district", district_path="pk", community_path=None)
    )
    register_rule(
        Street, area_rule(app_model="communities.street", district_path="district_id", community_path=None)
    )
    register_rule(
        Community,
        area_rule(
            app_model="communities.community", district_path="street__district_id", community_path="pk"
        ),
    )
    register_rule(
        GridCell,
        area_rule(
            app_model="communities.gridcell",
            district_path="community__street__district_id",
            community_path="community_id",
        ),
    )
    register_rule(
        Facility,
        area_rule(
            app_model="communities.facility",
            district_path="community__street__district_id",
            community_path="community_id",
        ),
    )
    register_rule(
        HandlingUnit,
        ScopeRule(
            permissions={
                "view": "communities.view_handlingunit",
                "change": "communities.change_handlingunit",
            },
            q=_unit_q,
            allows=_unit_allows,
        ),
    )
