"""Read-only viewsets for the geography and the handling units, through the gate."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view

from chengguan import clock
from chengguan.api import RestrictedReadOnlyViewSet
from communities import filtersets
from communities.api import serializers
from communities.models import Community, District, Facility, GridCell, HandlingUnit, Street
from communities.selectors import facilities_listed


class AreaViewSet(RestrictedReadOnlyViewSet):
    """Lists leave the (large) boundary out; the detail has it."""

    detail_serializer_class: Any = None

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        return queryset.defer("boundary") if self.action == "list" else queryset

    def get_serializer_class(self) -> Any:
        if self.action == "retrieve" and self.detail_serializer_class is not None:
            return self.detail_serializer_class
        return super().get_serializer_class()


@extend_schema_view(
    list=extend_schema(summary="List districts (区)"), retrieve=extend_schema(summary="A district")
)
class DistrictViewSet(AreaViewSet):
    """Districts (区) in the caller's scope."""

    queryset = District.objects.all()
    serializer_class = serializers.DistrictSerializer
    detail_serializer_class = serializers.DistrictDetailSerializer
    filterset_class = filtersets.DistrictFilterSet


@extend_schema_view(
    list=extend_schema(summary="List street offices (街道)"),
    retrieve=extend_schema(summary="A street office"),
)
class StreetViewSet(AreaViewSet):
    """Street offices (街道) in the caller's scope."""

    queryset = Street.objects.all()
    serializer_class = serializers.StreetSerializer
    detail_serializer_class = serializers.StreetDetailSerializer
    filterset_class = filtersets.StreetFilterSet


@extend_schema_view(
    list=extend_schema(summary="List communities (社区/村)"), retrieve=extend_schema(summary="A community")
)
class CommunityViewSet(AreaViewSet):
    """Communities and villages (社区/村) in the caller's scope."""

    queryset = Community.objects.select_related("street").defer("street__boundary")
    serializer_class = serializers.CommunitySerializer
    detail_serializer_class = serializers.CommunityDetailSerializer
    filterset_class = filtersets.CommunityFilterSet


@extend_schema_view(
    list=extend_schema(summary="List grid cells (网格)"), retrieve=extend_schema(summary="A grid cell")
)
class GridCellViewSet(AreaViewSet):
    """Grid cells (网格) in the caller's scope."""

    queryset = GridCell.objects.all()
    serializer_class = serializers.GridCellSerializer
    detail_serializer_class = serializers.GridCellDetailSerializer
    filterset_class = filtersets.GridCellFilterSet


@extend_schema_view(
    list=extend_schema(summary="List handling units (处置单位)"),
    retrieve=extend_schema(summary="A handling unit"),
)
class HandlingUnitViewSet(RestrictedReadOnlyViewSet):
    """Handling units (处置单位): the caller's own, their districts' and the city-level ones."""

    queryset = HandlingUnit.objects.all()
    serializer_class = serializers.HandlingUnitSerializer
    filterset_class = filtersets.HandlingUnitFilterSet


@extend_schema_view(
    list=extend_schema(summary="List facilities with QR service codes (城市服务码)"),
    retrieve=extend_schema(summary="A facility"),
)
class FacilityViewSet(RestrictedReadOnlyViewSet):
    """Facilities (street lights, toilets, bins…) in the caller's scope, with their open cases
    and repeat-fault flag, counted in the same query."""

    queryset = Facility.objects.all()
    serializer_class = serializers.FacilitySerializer
    filterset_class = filtersets.FacilityApiFilterSet
    lookup_field = "code"
    lookup_value_regex = r"[^/]+"

    def get_queryset(self) -> QuerySet[Any]:
        # facilities_listed starts at the gate itself (restrict(…, "view")).
        return facilities_listed(self.request.user, now=clock.now())
