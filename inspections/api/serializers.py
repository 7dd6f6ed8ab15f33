"""门前三包 as the API shows it: responsibility units (shops), inspections, rectification notices."""

from rest_framework import serializers

from chengguan.api import BriefSerializer, BriefUserSerializer
from inspections.models import Inspection, InspectionResult, RectificationNotice, ResponsibilityUnit


class ShopSerializer(serializers.ModelSerializer):
    community = BriefSerializer(read_only=True)

    class Meta:
        model = ResponsibilityUnit
        fields = [
            "id",
            "name",
            "kind",
            "address",
            "community",
            "grid_cell",
            "lat",
            "lng",
            "contact_name",
            "contact_phone",
            "licence_number",
            "is_active",
            "created_at",
        ]


class InspectionResultSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="code", read_only=True)
    item_name = serializers.CharField(source="item.name", read_only=True)

    class Meta:
        model = InspectionResult
        fields = ["item", "item_name", "passed", "note"]


class InspectionSerializer(serializers.ModelSerializer):
    shop = serializers.PrimaryKeyRelatedField(source="unit", read_only=True)
    shop_name = serializers.CharField(source="unit.name", read_only=True)
    inspector = BriefUserSerializer(read_only=True)
    rechecks = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)
    results = InspectionResultSerializer(many=True, read_only=True)

    class Meta:
        model = Inspection
        fields = [
            "id",
            "shop",
            "shop_name",
            "inspector",
            "inspected_at",
            "passed",
            "notes",
            "rechecks",
            "results",
        ]


class RectificationNoticeSerializer(serializers.ModelSerializer):
    shop = serializers.PrimaryKeyRelatedField(source="unit", read_only=True)
    shop_name = serializers.CharField(source="unit.name", read_only=True)
    failed_items = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    case = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)

    class Meta:
        model = RectificationNotice
        fields = [
            "id",
            "number",
            "inspection",
            "shop",
            "shop_name",
            "failed_items",
            "requirements",
            "issued_at",
            "deadline",
            "status",
            "closed_at",
            "case",
        ]
