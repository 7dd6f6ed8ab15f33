"""Liaison work as the API shows it: postings, patrols with their findings, meetings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases.models import Category
from cases.services import MAX_DESCRIPTION
from chengguan import clock
from chengguan.api import (
    BriefSerializer,
    BriefUserSerializer,
    PhotoListField,
    RestrictedRelatedField,
    RestrictedSlugRelatedField,
)
from communities.models import Community, GridCell
from liaisons.forms import CLIENT_UUID_RE, MAX_FINDINGS
from liaisons.models import CoverPeriod, LiaisonAssignment, Meeting, PatrolFinding, PatrolLog, PatrolPhoto
from liaisons.services import FindingInput


class LiaisonAssignmentSerializer(serializers.ModelSerializer):
    community = BriefSerializer(read_only=True)
    liaison = BriefUserSerializer(read_only=True)

    class Meta:
        model = LiaisonAssignment
        fields = ["id", "community", "liaison", "role", "duties", "starts_at", "ends_at"]


class PatrolFindingSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    case = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)

    class Meta:
        model = PatrolFinding
        fields = ["id", "category", "description", "address", "lat", "lng", "fixed_on_spot", "case"]


class PatrolPhotoSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = PatrolPhoto
        fields = ["id", "finding", "url", "created_at"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, photo: PatrolPhoto) -> str:
        request = self.context.get("request")
        url = photo.file.url
        return request.build_absolute_uri(url) if request is not None else url


class PatrolSerializer(serializers.ModelSerializer):
    liaison = BriefUserSerializer(read_only=True)
    community = BriefSerializer(read_only=True)
    grid_cells = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    findings = PatrolFindingSerializer(many=True, read_only=True)
    photos = PatrolPhotoSerializer(many=True, read_only=True)

    class Meta:
        model = PatrolLog
        fields = [
            "id",
            "liaison",
            "community",
            "grid_cells",
            "started_at",
            "ended_at",
            "notes",
            "findings",
            "photos",
            "created_at",
        ]


class MeetingSerializer(serializers.ModelSerializer):
    community = BriefSerializer(read_only=True)
    recorded_by = BriefUserSerializer(read_only=True, allow_null=True)
    cases = serializers.SlugRelatedField(slug_field="number", many=True, read_only=True)

    class Meta:
        model = Meeting
        fields = [
            "id",
            "community",
            "held_at",
            "title",
            "location",
            "attendees",
            "issues",
            "resolutions",
            "cases",
            "recorded_by",
            "created_at",
        ]


class CoverPeriodSerializer(serializers.ModelSerializer):
    """A cover period (AB角): who covers which community when, and whether the access is held."""

    community = BriefSerializer(read_only=True)
    backup = BriefUserSerializer(read_only=True)
    created_by = BriefUserSerializer(read_only=True, allow_null=True)
    state = serializers.SerializerMethodField(
        help_text=_("planned, running, over or cancelled, at the moment of the response.")
    )

    class Meta:
        model = CoverPeriod
        fields = [
            "id",
            "community",
            "backup",
            "starts_at",
            "ends_at",
            "reason",
            "state",
            "created_by",
            "created_at",
            "cancelled_at",
            "granted_at",
            "withdrawn_at",
        ]

    @extend_schema_field(
        {"type": "string", "enum": ["planned", "running", "over", "cancelled"]}  # type: ignore[arg-type]
    )
    def get_state(self, cover: CoverPeriod) -> str:
        now = clock.now()
        if cover.cancelled_at is not None:
            return "cancelled"
        if now < cover.starts_at:
            return "planned"
        return "running" if now < cover.ends_at else "over"


# --- input -----------------------------------------------------------------------


class FindingInputSerializer(serializers.Serializer):
    """One problem found on a patrol (the page's finding form)."""

    description = serializers.CharField(max_length=MAX_DESCRIPTION)
    category = RestrictedSlugRelatedField(
        slug_field="code",
        queryset=Category.objects.filter(is_active=True, parent__isnull=False, parent__is_active=True),
        required=False,
        allow_null=True,
        help_text=_("Subcategory code, e.g. 0102; leave out when unsure."),
    )
    address = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    lat = serializers.FloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    lng = serializers.FloatField(required=False, allow_null=True, min_value=-180, max_value=180)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if (data.get("lat") is None) != (data.get("lng") is None):
            raise serializers.ValidationError({"lng": [_("A location needs both latitude and longitude.")]})
        return data

    def finding_input(self, photos: Sequence[Any] = ()) -> FindingInput:
        data = self.validated_data
        return FindingInput(
            description=data["description"],
            category=data.get("category"),
            address=data.get("address") or "",
            lat=data.get("lat"),
            lng=data.get("lng"),
            photos=list(photos),
        )


class FindingCreateSerializer(FindingInputSerializer):
    """A finding added to a patrol already logged; photos need a multipart request."""

    photos = PhotoListField(required=False)

    def finding_input(self, photos: Sequence[Any] = ()) -> FindingInput:
        return super().finding_input(self.validated_data.get("photos") or [])


class PatrolCreateSerializer(serializers.Serializer):
    """A patrol (巡查台账) with its findings, as the patrol page logs it (JSON)."""

    community = RestrictedRelatedField(queryset=Community.objects.filter(is_active=True))
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()
    grid_cells = RestrictedRelatedField(
        queryset=GridCell.objects.filter(is_active=True), many=True, required=False
    )
    notes = serializers.CharField(max_length=MAX_DESCRIPTION, required=False, allow_blank=True, default="")
    findings = FindingInputSerializer(many=True, required=False)
    client_uuid = serializers.RegexField(
        CLIENT_UUID_RE,
        required=False,
        help_text=_("The client's id of this patrol; sending it again returns the first patrol."),
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[Any]] = {}
        if data["ended_at"] <= data["started_at"]:
            errors["ended_at"] = [_("The patrol must end after it starts.")]
        elif data["ended_at"] > clock.now() + timedelta(minutes=5):
            errors["ended_at"] = [_("A patrol cannot end in the future.")]
        if any(cell.community_id != data["community"].pk for cell in data.get("grid_cells", [])):
            errors["grid_cells"] = [_("Choose grid cells of this community.")]
        if len(data.get("findings", [])) > MAX_FINDINGS:
            errors["findings"] = [_("At most %(max)d findings.") % {"max": MAX_FINDINGS}]
        if errors:
            raise serializers.ValidationError(errors)
        return data

    def finding_inputs(self) -> list[FindingInput]:
        return [
            FindingInput(
                description=row["description"],
                category=row.get("category"),
                address=row.get("address") or "",
                lat=row.get("lat"),
                lng=row.get("lng"),
            )
            for row in self.validated_data.get("findings", [])
        ]


class PatrolPhotosSerializer(serializers.Serializer):
    """Photos added to a patrol, or to one of its findings (multipart)."""

    photos = PhotoListField(min_length=1)
    finding = serializers.IntegerField(
        required=False, allow_null=True, help_text=_("Id of the patrol's finding the photos show.")
    )


class CoverCreateSerializer(serializers.Serializer):
    """A backup liaison (B角) to cover a community for a period, as the cover page names one."""

    community = RestrictedRelatedField(
        queryset=Community.objects.filter(is_active=True), help_text=_("Id of the community covered.")
    )
    backup = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        help_text=_("Id of the covering liaison officer; not the community's own liaison."),
    )
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    reason = serializers.CharField(max_length=200, help_text=_("E.g. leave, training, urgent work."))
