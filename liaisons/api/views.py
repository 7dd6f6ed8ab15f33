"""Viewsets for liaison work, through the gate: postings and meetings read-only;
patrols are also logged, and get findings and photos, and cover periods (AB角)
are created and cancelled, through liaisons.services."""

from typing import Any

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from cases.models import Case
from chengguan.api import WRITE_ERRORS, ErrorSerializer, RestrictedReadOnlyViewSet
from chengguan.permissions import has_role_permission
from communities.models import GridCell
from liaisons.api import serializers
from liaisons.filtersets import (
    CoverPeriodApiFilterSet,
    LiaisonAssignmentApiFilterSet,
    MeetingApiFilterSet,
    PatrolApiFilterSet,
)
from liaisons.models import CoverPeriod, LiaisonAssignment, Meeting, PatrolFinding, PatrolLog
from liaisons.services import cover_cancel, cover_create, patrol_add_finding, patrol_add_photos, patrol_log


@extend_schema_view(
    list=extend_schema(summary="List the liaisons posted to communities now (一区一员)"),
    retrieve=extend_schema(summary="A current posting"),
)
class LiaisonViewSet(RestrictedReadOnlyViewSet):
    """Current postings of liaisons to the communities in the caller's scope."""

    queryset = (
        LiaisonAssignment.objects.filter(ends_at__isnull=True)
        .select_related("community", "liaison")
        .defer("community__boundary")
    )
    serializer_class = serializers.LiaisonAssignmentSerializer
    filterset_class = LiaisonAssignmentApiFilterSet


@extend_schema_view(
    list=extend_schema(summary="List patrols (巡查台账) with their findings"),
    retrieve=extend_schema(summary="A patrol"),
    create=extend_schema(
        summary="Log a patrol (巡查台账) with its findings",
        description=patrol_log.__doc__,
        request=serializers.PatrolCreateSerializer,
        responses={201: serializers.PatrolSerializer, **WRITE_ERRORS},
    ),
)
class PatrolViewSet(mixins.CreateModelMixin, RestrictedReadOnlyViewSet):
    """Patrols logged in the communities in the caller's scope, with findings and photos.

    Logging one, adding a finding or photos calls the service the patrol
    page calls; photos need a multipart request.
    """

    queryset = (
        PatrolLog.objects.select_related("liaison", "community")
        .defer("community__boundary")
        .prefetch_related(
            Prefetch("grid_cells", queryset=GridCell.objects.only("pk")),
            Prefetch("findings", queryset=PatrolFinding.objects.select_related("category", "case")),
            "photos",
        )
    )
    serializer_class = serializers.PatrolSerializer
    filterset_class = PatrolApiFilterSet
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        given = serializers.PatrolCreateSerializer(data=request.data, context=self.get_serializer_context())
        given.is_valid(raise_exception=True)
        data = given.validated_data
        log = patrol_log(
            liaison=request.user,
            community=data["community"],
            started_at=data["started_at"],
            ended_at=data["ended_at"],
            grid_cells=list(data.get("grid_cells", [])),
            notes=data["notes"],
            findings=given.finding_inputs(),
            client_uuid=(data.get("client_uuid") or "").lower() or None,
        )
        return self._patrol_response(log.pk, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Add a finding to a patrol",
        description=patrol_add_finding.__doc__,
        request=serializers.FindingCreateSerializer,
        responses={201: serializers.PatrolFindingSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def findings(self, request: Request, pk: str | None = None) -> Response:
        patrol = self.get_object()
        given = serializers.FindingCreateSerializer(data=request.data, context=self.get_serializer_context())
        given.is_valid(raise_exception=True)
        finding = patrol_add_finding(patrol=patrol, actor=request.user, finding=given.finding_input())
        finding = PatrolFinding.objects.select_related("category", "case").get(pk=finding.pk)
        return Response(serializers.PatrolFindingSerializer(finding).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Add photos to a patrol or one of its findings (multipart)",
        description=patrol_add_photos.__doc__,
        request={"multipart/form-data": serializers.PatrolPhotosSerializer},
        responses={201: serializers.PatrolPhotoSerializer(many=True), **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def photos(self, request: Request, pk: str | None = None) -> Response:
        patrol = self.get_object()
        given = serializers.PatrolPhotosSerializer(data=request.data, context=self.get_serializer_context())
        given.is_valid(raise_exception=True)
        finding = None
        if given.validated_data.get("finding") is not None:
            finding = patrol.findings.filter(pk=given.validated_data["finding"]).first()
            if finding is None:
                raise ValidationError({"finding": [_("Choose a finding of this patrol.")]})
        stored = patrol_add_photos(
            patrol=patrol, actor=request.user, photos=given.validated_data["photos"], finding=finding
        )
        return Response(
            serializers.PatrolPhotoSerializer(stored, many=True, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    def _patrol_response(self, pk: int, code: int) -> Response:
        patrol = self.get_queryset().get(pk=pk)
        return Response(self.get_serializer(patrol).data, status=code)


@extend_schema_view(
    list=extend_schema(summary="List coordination meetings (协调会)"),
    retrieve=extend_schema(summary="A meeting"),
)
class MeetingViewSet(RestrictedReadOnlyViewSet):
    """Coordination meetings in the communities in the caller's scope."""

    queryset = (
        Meeting.objects.select_related("community", "recorded_by")
        .defer("community__boundary")
        .prefetch_related(Prefetch("cases", queryset=Case.objects.only("pk", "number")))
    )
    serializer_class = serializers.MeetingSerializer
    filterset_class = MeetingApiFilterSet


@extend_schema_view(
    list=extend_schema(summary="List cover periods of backup liaisons (AB角)"),
    retrieve=extend_schema(summary="A cover period"),
    create=extend_schema(
        summary="Name a backup liaison to cover a community for a period (supervisors)",
        description=cover_create.__doc__,
        request=serializers.CoverCreateSerializer,
        responses={201: serializers.CoverPeriodSerializer, **WRITE_ERRORS},
    ),
)
class CoverPeriodViewSet(mixins.CreateModelMixin, RestrictedReadOnlyViewSet):
    """Cover periods in the communities in the caller's scope, newest first.

    Creating and cancelling one calls the services the cover page calls;
    only roles that may change cover periods (supervisors, administrators)
    may, and only in their districts.
    """

    queryset = (
        CoverPeriod.objects.select_related("community", "backup", "created_by")
        .defer("community__boundary")
        .order_by("-starts_at", "-pk")
    )
    serializer_class = serializers.CoverPeriodSerializer
    filterset_class = CoverPeriodApiFilterSet

    def _require_role(self, request: Request) -> None:
        # The role first, so a liaison is told 403 whatever they send.
        if not has_role_permission(request.user, CoverPeriod, "change"):
            raise PermissionDenied()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self._require_role(request)
        given = serializers.CoverCreateSerializer(data=request.data, context=self.get_serializer_context())
        given.is_valid(raise_exception=True)
        data = given.validated_data
        cover = cover_create(
            community=data["community"],
            backup=data["backup"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            reason=data["reason"],
            actor=request.user,
        )
        return Response(
            self.get_serializer(self.get_queryset().get(pk=cover.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Cancel a cover period; the backup loses the access at once",
        description=cover_cancel.__doc__,
        request=None,
        responses={200: serializers.CoverPeriodSerializer, **dict.fromkeys((401, 403, 404), ErrorSerializer)},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        # Looked up first: a cover the caller may not see does not exist for them (404).
        cover = self.get_object()
        self._require_role(request)
        cover = cover_cancel(cover=cover, actor=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=cover.pk)).data)
