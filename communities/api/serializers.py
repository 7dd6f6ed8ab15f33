"""Geography and handling units as the API shows them.

Boundaries (GeoJSON, often large) are in the detail only; lists carry the
centre point.
"""

from rest_framework import serializers

from communities.models import Community, District, GridCell, HandlingUnit, Street

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
