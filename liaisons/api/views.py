"""Read-only viewsets for liaison work, through the gate."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view

from cases.models import Case
from chengguan.api import RestrictedReadOnlyViewSet
from communities.models import GridCell
from liaisons.api import serializers
from liaisons.filtersets import LiaisonAssignmentApiFilterSet, MeetingApiFilterSet, PatrolApiFilterSet
from liaisons.models import LiaisonAssignment, Meeting, PatrolFinding, PatrolLog


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
)
class PatrolViewSet(RestrictedReadOnlyViewSet):
    """Patrols logged in the communities in the caller's scope, with findings and photos."""

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
