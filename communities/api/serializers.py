"""Geography and handling units as the API shows them.

Boundaries (GeoJSON, often large) are in the detail only; lists carry the
centre point.
"""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chengguan.api import BriefSerializer
from communities import qr
from communities.models import Community, District, Facility, GridCell, HandlingUnit, Street

AREA_FIELDS = ["id", "code", "name", "centroid_lat", "centroid_lng", "is_active"]


class DistrictSerializer(serializers.ModelSerializer):
    class Meta:
        model = District
        fields = [*AREA_FIELDS, "city", "complaint_phone"]


class StreetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Street
        fields = [*AREA_FIELDS, "district"]


class CommunitySerializer(serializers.ModelSerializer):
    district = serializers.IntegerField(source="street.district_id", read_only=True)

    class Meta:
        model = Community
        fields = [*AREA_FIELDS, "street", "district", "kind", "address", "phone"]


class GridCellSerializer(serializers.ModelSerializer):
    class Meta:
        model = GridCell
        fields = [*AREA_FIELDS, "community"]


class DistrictDetailSerializer(DistrictSerializer):
    class Meta(DistrictSerializer.Meta):
        fields = [*DistrictSerializer.Meta.fields, "boundary"]


class StreetDetailSerializer(StreetSerializer):
    class Meta(StreetSerializer.Meta):
        fields = [*StreetSerializer.Meta.fields, "boundary"]


class CommunityDetailSerializer(CommunitySerializer):
    class Meta(CommunitySerializer.Meta):
        fields = [*CommunitySerializer.Meta.fields, "boundary"]


class GridCellDetailSerializer(GridCellSerializer):
    class Meta(GridCellSerializer.Meta):
        fields = [*GridCellSerializer.Meta.fields, "boundary"]


class HandlingUnitSerializer(serializers.ModelSerializer):
    class Meta:
        model = HandlingUnit
        fields = ["id", "code", "name", "kind", "district", "contact_phone", "is_active"]


class FacilitySerializer(serializers.ModelSerializer):
    """A facility, its QR code's target and how its cases stand (selectors.facilities_listed)."""

    community = BriefSerializer(read_only=True)
    open_case_count = serializers.IntegerField(
        read_only=True,
        help_text=_("Cases about it still open (conduct complaints, duplicates, false reports left out)."),
    )
    recent_case_count = serializers.IntegerField(
        read_only=True, help_text=_("Reports about it in the last 90 days (same rules).")
    )
    is_repeat_fault = serializers.BooleanField(
        read_only=True, help_text=_("Reported 3 times or more in the last 90 days (反复故障).")
    )
    report_url = serializers.SerializerMethodField(
        help_text=_("What its QR code holds: the pre-filled complaint form.")
    )
    public_url = serializers.SerializerMethodField(
        help_text=_("Its public page (cases as strangers see them).")
    )

    class Meta:
        model = Facility
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "lat",
            "lng",
            "address",
            "community",
            "grid_cell",
            "is_active",
            "open_case_count",
            "recent_case_count",
            "is_repeat_fault",
            "report_url",
            "public_url",
        ]

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    @extend_schema_field(OpenApiTypes.URI)
    def get_report_url(self, facility: Facility) -> str:
        return self._absolute(qr.facility_report_path(facility))

    @extend_schema_field(OpenApiTypes.URI)
    def get_public_url(self, facility: Facility) -> str:
        return self._absolute(reverse("communities:facility_detail", args=[facility.code]))
