"""Viewsets for 门前三包, through the gate: shops read-only; inspections are also
recorded (issuing rectification notices) and notices re-inspected, through
inspections.services as the pages do."""

from typing import Any

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from cases.models import Case
from chengguan.api import WRITE_ERRORS, RestrictedReadOnlyViewSet
from inspections import services
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
    create=extend_schema(
        summary="Record an inspection against the checklist; failed items issue a rectification notice",
        description=services.inspection_record.__doc__,
        request=serializers.InspectionCreateSerializer,
        responses={201: serializers.InspectionCreatedSerializer, **WRITE_ERRORS},
    ),
)
class InspectionViewSet(mixins.CreateModelMixin, RestrictedReadOnlyViewSet):
    """Inspections of the responsibility units in the caller's scope."""

    queryset = Inspection.objects.select_related("unit", "inspector", "rechecks").prefetch_related(
        Prefetch("results", queryset=InspectionResult.objects.select_related("item"))
    )
    serializer_class = serializers.InspectionSerializer
    filterset_class = InspectionApiFilterSet

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        given = serializers.InspectionCreateSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        given.is_valid(raise_exception=True)
        data = given.validated_data
        inspection = services.inspection_record(
            unit=data["shop"],
            inspector=request.user,
            outcomes=given.outcomes(),
            notes=data["notes"],
            requirements=data["requirements"],
            client_uuid=(data.get("client_uuid") or "").lower() or None,
        )
        inspection = self.get_queryset().get(pk=inspection.pk)
        return Response(
            serializers.InspectionCreatedSerializer(inspection, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


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

    @extend_schema(
        summary="Re-inspect (复查) after a rectification notice",
        description=services.notice_reinspect.__doc__,
        request=serializers.ReinspectSerializer,
        responses={200: serializers.RectificationNoticeSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def reinspect(self, request: Request, pk: str | None = None) -> Response:
        notice = self.get_object()
        given = serializers.ReinspectSerializer(data=request.data, context=self.get_serializer_context())
        given.is_valid(raise_exception=True)
        data = given.validated_data
        services.notice_reinspect(
            notice=notice,
            inspector=request.user,
            rectified=data["rectified"],
            notes=data["notes"],
            client_uuid=(data.get("client_uuid") or "").lower() or None,
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=notice.pk)).data)
