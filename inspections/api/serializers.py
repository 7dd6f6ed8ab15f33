"""门前三包 as the API shows it: responsibility units (shops), inspections, rectification notices."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chengguan.api import BriefSerializer, BriefUserSerializer, RestrictedRelatedField
from inspections.models import (
    ChecklistItem,
    Inspection,
    InspectionResult,
    RectificationNotice,
    ResponsibilityUnit,
)
from inspections.services import ItemOutcome
from liaisons.forms import CLIENT_UUID_RE


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


# --- input -----------------------------------------------------------------------


class ItemOutcomeInputSerializer(serializers.Serializer):
    item = serializers.SlugRelatedField(
        slug_field="code",
        queryset=ChecklistItem.objects.filter(is_active=True),
        help_text=_("Checklist item code."),
    )
    passed = serializers.BooleanField()
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class InspectionCreateSerializer(serializers.Serializer):
    """An inspection of a shop against the checklist (the page's inspection form).

    A failed item issues a rectification notice (整改通知书), returned as `notice`.
    """

    shop = RestrictedRelatedField(
        queryset=ResponsibilityUnit.objects.filter(is_active=True), help_text=_("Responsibility unit id.")
    )
    results = ItemOutcomeInputSerializer(many=True, allow_empty=False)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    requirements = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("What the notice requires; empty: the failed items' standard requirements."),
    )
    client_uuid = serializers.RegexField(CLIENT_UUID_RE, required=False)

    def validate_results(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        codes = [row["item"].code for row in rows]
        if len(set(codes)) != len(codes):
            raise serializers.ValidationError(_("Each checklist item can be checked once."))
        return rows

    def outcomes(self) -> list[ItemOutcome]:
        return [
            ItemOutcome(item=row["item"], passed=row["passed"], note=row["note"])
            for row in self.validated_data["results"]
        ]


class InspectionCreatedSerializer(InspectionSerializer):
    """The inspection recorded, with the rectification notice it issued (or null)."""

    notice = serializers.SerializerMethodField()

    class Meta(InspectionSerializer.Meta):
        fields = [*InspectionSerializer.Meta.fields, "notice"]

    @extend_schema_field(RectificationNoticeSerializer(allow_null=True))
    def get_notice(self, inspection: Inspection) -> dict[str, Any] | None:
        notice = RectificationNotice.objects.filter(inspection=inspection).first()
        return RectificationNoticeSerializer(notice).data if notice is not None else None


class ReinspectSerializer(serializers.Serializer):
    """The re-inspection (复查) of a notice: rectified or not."""

    rectified = serializers.BooleanField()
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    client_uuid = serializers.RegexField(CLIENT_UUID_RE, required=False)
