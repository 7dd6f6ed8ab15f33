"""Liaison work as the API shows it: postings, patrols with their findings, meetings."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chengguan.api import BriefSerializer, BriefUserSerializer
from liaisons.models import LiaisonAssignment, Meeting, PatrolFinding, PatrolLog, PatrolPhoto


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
