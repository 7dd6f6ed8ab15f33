"""Read-only viewsets for 门前三包, through the gate."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view

from cases.models import Case
from chengguan.api import RestrictedReadOnlyViewSet
from inspections.api import serializers
from inspections.filtersets import InspectionApiFilterSet, RectificationNoticeApiFilterSet, ShopApiFilterSet
from inspections.models import Inspection, InspectionResult, RectificationNotice, ResponsibilityUnit


@extend_schema_view(
    list=extend_schema(summary="List responsibility units (门前三包责任单位)"),
    retrieve=extend_schema(summary="A responsibility unit"),
)
class ShopViewSet(RestrictedReadOnlyViewSet):
    """Responsibility units (shops) in the communities in the caller's scope."""

    queryset = ResponsibilityUnit.objects.select_related("community").defer("community__boundary")
    serializer_class = serializers.ShopSerializer
    filterset_class = ShopApiFilterSet


@extend_schema_view(
    list=extend_schema(summary="List inspections with their checklist results"),
    retrieve=extend_schema(summary="An inspection"),
)
class InspectionViewSet(RestrictedReadOnlyViewSet):
    """Inspections of the responsibility units in the caller's scope."""

    queryset = Inspection.objects.select_related("unit", "inspector", "rechecks").prefetch_related(
        Prefetch("results", queryset=InspectionResult.objects.select_related("item"))
    )
    serializer_class = serializers.InspectionSerializer
    filterset_class = InspectionApiFilterSet


@extend_schema_view(
    list=extend_schema(summary="List rectification notices (整改通知书)"),
    retrieve=extend_schema(summary="A rectification notice"),
)
class RectificationNoticeViewSet(RestrictedReadOnlyViewSet):
    """Rectification notices issued to the responsibility units in the caller's scope."""

    queryset = RectificationNotice.objects.select_related("unit").prefetch_related(
        "failed_items", Prefetch("case", queryset=Case.objects.only("pk", "number"))
    )
    serializer_class = serializers.RectificationNoticeSerializer
    filterset_class = RectificationNoticeApiFilterSet
