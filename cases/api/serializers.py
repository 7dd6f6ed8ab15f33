"""Cases as the API shows them, and the small input serializers of the workflow actions.

Serializers only shape and validate input; the services (cases.services)
decide and write. Reporters' names and phone numbers are masked
(chengguan.masking) for callers without `cases.view_reporter_contact`.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases.attachments import MAX_PHOTOS_PER_UPLOAD
from cases.choices import AttachmentKind, CaseSource, RejectReason, Satisfaction, Urgency
from cases.indicators import RATES
from cases.models import (
    Case,
    CaseAttachment,
    CaseEvent,
    Category,
    ExtensionRequest,
    ParkingRequest,
    ReturnVisit,
    TimeLimit,
    TwoWayRating,
)
from cases.selectors import resident_ids
from cases.services import OFFICER_ROLES
from chengguan import clock
from chengguan.api import (
    BriefSerializer,
    BriefUserSerializer,
    PhotoListField,
    RestrictedRelatedField,
    RestrictedSlugRelatedField,
    VersionedActionSerializer,
)
from chengguan.masking import mask_name, mask_phone
from chengguan.permissions import has_role_permission
from communities.models import Community, HandlingUnit

User = get_user_model()

CONTACT_PERMISSION = "cases.view_reporter_contact"


def shows_reporter_contact(context: dict[str, Any]) -> bool:
    """Whether the caller sees reporters' contact details in full; asked once per response."""
    if "shows_reporter_contact" not in context:
        request = context.get("request")
        user = getattr(request, "user", None)
        context["shows_reporter_contact"] = bool(user is not None and user.has_perm(CONTACT_PERMISSION))
    return bool(context["shows_reporter_contact"])


# --- reference data ----------------------------------------------------------


class TimeLimitSerializer(serializers.ModelSerializer):
    class Meta:
        model = TimeLimit
        fields = ["urgency", "register_hours", "dispatch_hours", "handle_hours", "verify_hours"]


class CategorySerializer(serializers.ModelSerializer):
    time_limits = TimeLimitSerializer(many=True, read_only=True)

    class Meta:
        model = Category
        fields = [
            "id",
            "code",
            "name",
            "name_en",
            "parent",
            "kind",
            "default_urgency",
            "description",
            "photo_required",
            "contact_required",
            "anonymous_allowed",
            "public_reporting_closed",
            "sort_order",
            "is_active",
            "time_limits",
        ]


# --- cases -------------------------------------------------------------------


class CaseAttachmentSerializer(serializers.ModelSerializer):
    case = serializers.CharField(source="case.number", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = CaseAttachment
        fields = ["id", "case", "event", "kind", "url", "width", "height", "size", "is_hidden", "created_at"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, attachment: CaseAttachment) -> str:
        from django.urls import reverse

        # A hidden photo has no public URL; staff fetch it through the gate.
        url = (
            reverse("cases:photo", args=[attachment.case.number, attachment.pk])
            if attachment.is_hidden
            else attachment.file.url
        )
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


def residents_known(context: dict[str, Any]) -> dict[int, bool]:
    """Actor id → whether the account is a resident's, as far as this response has asked."""
    known: dict[int, bool] = context.setdefault("resident_actors", {})
    return known


class CaseEventActorSerializer(serializers.Serializer):
    """Who acted: a staff member by account and name; a resident without id or username (PIPL)."""

    id = serializers.IntegerField(read_only=True, allow_null=True)
    username = serializers.CharField(read_only=True, allow_null=True)
    name = serializers.CharField(read_only=True)


class CaseEventListSerializer(serializers.ListSerializer):
    """A page of events; which actors are residents is read in one query for the page
    when the events were not loaded with it (cases.selectors.with_actor_standing)."""

    def to_representation(self, data: Any) -> list[Any]:
        events = list(data.all() if isinstance(data, models.manager.BaseManager) else data)
        known = residents_known(self.context)
        unknown = {
            event.actor_id
            for event in events
            if event.actor_id is not None
            and getattr(event, "actor_is_resident", None) is None
            and event.actor_id not in known
        }
        if unknown:
            residents = resident_ids(unknown)
            known.update({pk: pk in residents for pk in unknown})
        return super().to_representation(events)


class CaseEventSerializer(serializers.ModelSerializer):
    """One event of a case's history.

    A resident's account that acted (reported, added themselves, rated) is
    personal data: its id and username are never shown, its name only to
    callers with `cases.view_reporter_contact` and masked to others, as the
    case's reporter fields are. Staff actors are shown in full.
    """

    case = serializers.CharField(source="case.number", read_only=True)
    action_label = serializers.CharField(source="get_action_display", read_only=True)
    actor = serializers.SerializerMethodField()
    attachments = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = CaseEvent
        list_serializer_class = CaseEventListSerializer
        fields = [
            "id",
            "case",
            "action",
            "action_label",
            "actor",
            "from_status",
            "to_status",
            "note",
            "data",
            "is_public",
            "created_at",
            "attachments",
        ]

    @extend_schema_field(CaseEventActorSerializer(allow_null=True))
    def get_actor(self, event: CaseEvent) -> dict[str, Any] | None:
        actor = event.actor
        if actor is None:
            return None
        is_resident = getattr(event, "actor_is_resident", None)
        if is_resident is None:
            known = residents_known(self.context)
            if actor.pk not in known:  # one event on its own
                known[actor.pk] = bool(resident_ids([actor.pk]))
            is_resident = known[actor.pk]
        if not is_resident:
            return dict(BriefUserSerializer(actor).data)
        name = actor.name if shows_reporter_contact(self.context) else mask_name(actor.name)
        return {"id": None, "username": None, "name": name or str(_("Reporter"))}


class ExtensionRequestSerializer(serializers.ModelSerializer):
    requested_by = BriefUserSerializer(read_only=True)

    class Meta:
        model = ExtensionRequest
        fields = ["id", "requested_by", "requested_due_at", "reason", "status", "created_at"]


class ParkingRequestSerializer(serializers.ModelSerializer):
    """A request to park a case (挂账申请) and, once decided, the supervisor's decision."""

    case = serializers.CharField(source="case.number", read_only=True)
    requested_by = BriefUserSerializer(read_only=True)
    decided_by = BriefUserSerializer(read_only=True, allow_null=True)

    class Meta:
        model = ParkingRequest
        fields = [
            "id",
            "case",
            "requested_by",
            "reason",
            "resume_on",
            "status",
            "created_at",
            "decided_by",
            "decided_at",
            "decision_note",
        ]


class CaseSerializer(serializers.ModelSerializer):
    """A case in a list: what it is, where, who handles it, and its clock."""

    status_label = serializers.CharField(source="get_status_display", read_only=True)
    category = BriefSerializer(read_only=True, allow_null=True)
    district = BriefSerializer(read_only=True, allow_null=True)
    community = BriefSerializer(read_only=True, allow_null=True)
    grid_cell = BriefSerializer(read_only=True, allow_null=True)
    handling_unit = BriefSerializer(read_only=True, allow_null=True)
    assignee = BriefUserSerializer(read_only=True, allow_null=True)
    merged_into = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)
    is_overdue = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "number",
            "tracking_code",
            "version",
            "status",
            "status_label",
            "source",
            "category",
            "urgency",
            "title",
            "description",
            "address",
            "lat",
            "lng",
            "district",
            "community",
            "grid_cell",
            "reporter_name",
            "reporter_phone",
            "is_anonymous",
            "report_count",
            "handling_unit",
            "assignee",
            "merged_into",
            "reject_reason",
            "closed_on_spot",
            "false_report",
            "escalation_level",
            "deadline",
            "due_at",
            "is_overdue",
            "reported_at",
            "registered_at",
            "dispatched_at",
            "signed_at",
            "resolved_at",
            "closed_at",
            "rejected_at",
            "parked_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_is_overdue(self, case: Case) -> bool:
        return case.is_overdue(self.context.setdefault("now", clock.now()))

    def to_representation(self, instance: Case) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not shows_reporter_contact(self.context):
            data["reporter_name"] = mask_name(instance.reporter_name)
            data["reporter_phone"] = mask_phone(instance.reporter_phone)
        return data


class CaseDetailSerializer(CaseSerializer):
    """A case with its history, photos and the extension and parking requests waiting for a decision."""

    subject_officer = BriefUserSerializer(read_only=True, allow_null=True)
    events = CaseEventSerializer(many=True, read_only=True)
    attachments = CaseAttachmentSerializer(many=True, read_only=True)
    pending_extension = serializers.SerializerMethodField()
    pending_parking = serializers.SerializerMethodField()

    class Meta(CaseSerializer.Meta):
        fields = [
            *CaseSerializer.Meta.fields,
            "subject_officer",
            "result",
            "false_report_reason",
            "handling_hours",
            "parked_hours",
            "return_count",
            "rework_count",
            "extension_count",
            "reopen_count",
            "escalated_at",
            "pending_extension",
            "pending_parking",
            "events",
            "attachments",
        ]
        read_only_fields = fields

    @extend_schema_field(ExtensionRequestSerializer(allow_null=True))
    def get_pending_extension(self, case: Case) -> dict[str, Any] | None:
        pending = getattr(case, "pending_extensions", None)
        if not pending:
            return None
        return dict(ExtensionRequestSerializer(pending[0], context=self.context).data)

    @extend_schema_field(ParkingRequestSerializer(allow_null=True))
    def get_pending_parking(self, case: Case) -> dict[str, Any] | None:
        pending = getattr(case, "pending_parkings", None)
        if not pending:
            return None
        return dict(ParkingRequestSerializer(pending[0], context=self.context).data)


class CaseOutcomeSerializer(serializers.Serializer):
    """What an action returns when it took the case out of the caller's scope."""

    number = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    version = serializers.IntegerField(read_only=True)


class ReturnVisitSerializer(serializers.ModelSerializer):
    case = serializers.CharField(source="case.number", read_only=True)
    liaison = BriefUserSerializer(read_only=True, allow_null=True)
    visited_by = BriefUserSerializer(read_only=True, allow_null=True)

    class Meta:
        model = ReturnVisit
        fields = [
            "id",
            "case",
            "round",
            "liaison",
            "due_at",
            "status",
            "channel",
            "satisfaction",
            "comment",
            "visited_at",
            "visited_by",
            "reopened",
            "created_at",
        ]


# --- input: reporting and the workflow actions ---------------------------------


def photo_list() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.FileField(),
        required=False,
        max_length=MAX_PHOTOS_PER_UPLOAD,
        help_text=_("Photos (multipart upload); JPEG, PNG or WebP."),
    )


def category_field(**kwargs: Any) -> RestrictedSlugRelatedField:
    return RestrictedSlugRelatedField(
        slug_field="code",
        queryset=Category.objects.filter(is_active=True),
        help_text=_("Category code, e.g. 0102."),
        **kwargs,
    )


class CaseReportSerializer(serializers.Serializer):
    """A new report. Staff sources (hotlines, patrol, walk-in…) and naming the
    officer complained about need `cases.add_case`."""

    source = serializers.ChoiceField(choices=CaseSource.choices)
    description = serializers.CharField(max_length=2000)
    category = category_field(required=False, allow_null=True)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    title = serializers.CharField(max_length=100, required=False, allow_blank=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    lat = serializers.FloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    lng = serializers.FloatField(required=False, allow_null=True, min_value=-180, max_value=180)
    community = RestrictedRelatedField(
        queryset=Community.objects.all(), required=False, allow_null=True, help_text=_("Community id.")
    )
    reporter_name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    reporter_phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    is_anonymous = serializers.BooleanField(required=False, default=False)
    subject_officer = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True, groups__name__in=OFFICER_ROLES).distinct(),
        required=False,
        allow_null=True,
        help_text=_(
            "Id of the officer whose conduct the report complains about: only supervisors "
            "see such a case, never that officer. Needs `cases.add_case`."
        ),
    )
    photos = photo_list()

    def validate_subject_officer(self, officer: Any) -> Any:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if officer is not None and not has_role_permission(user, Case, "report"):
            raise serializers.ValidationError(
                _("Only staff who take reports can name the officer complained about.")
            )
        return officer


class NoteSerializer(VersionedActionSerializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class RequiredNoteSerializer(VersionedActionSerializer):
    note = serializers.CharField(max_length=1000)


class ReasonSerializer(VersionedActionSerializer):
    reason = serializers.CharField(max_length=1000)


class RegisterSerializer(NoteSerializer):
    category = category_field(required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    community = RestrictedRelatedField(
        queryset=Community.objects.all(), required=False, help_text=_("Community id.")
    )


class RejectSerializer(NoteSerializer):
    reason = serializers.ChoiceField(choices=RejectReason.choices)


class MergeSerializer(NoteSerializer):
    master = RestrictedSlugRelatedField(
        slug_field="number",
        queryset=Case.objects.all(),
        help_text=_("Number of the open case this report duplicates."),
    )


class DispatchSerializer(NoteSerializer):
    handling_unit = RestrictedRelatedField(
        queryset=HandlingUnit.objects.all(), required=False, allow_null=True, help_text=_("Handling unit id.")
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text=_("Id of the officer (e.g. the community's liaison) who handles the case."),
    )


class SubmitResultSerializer(VersionedActionSerializer):
    result = serializers.CharField(max_length=2000)
    photos = photo_list()


class RequestExtensionSerializer(VersionedActionSerializer):
    requested_due_at = serializers.DateTimeField()
    reason = serializers.CharField(max_length=1000)


class DecideExtensionSerializer(NoteSerializer):
    approve = serializers.BooleanField()


class VerifySerializer(NoteSerializer):
    passed = serializers.BooleanField(help_text=_("True closes the case; false sends it back for rework."))


class RequestParkingSerializer(ReasonSerializer):
    resume_on = serializers.DateField(
        required=False,
        allow_null=True,
        help_text=_("Optional: the day the case can probably be handled again; after today."),
    )


class DecideParkingSerializer(NoteSerializer):
    approve = serializers.BooleanField(
        help_text=_("True parks the case (its clock stops); false refuses, with a note saying why.")
    )


MODERATION_REASON = _("Why the correction was made; staff see it in the history, the public does not.")


class ModerateTextSerializer(VersionedActionSerializer):
    description = serializers.CharField(max_length=2000, help_text=_("The corrected description."))
    title = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text=_("The corrected title; left out: unchanged."),
    )
    reason = serializers.CharField(max_length=1000, help_text=MODERATION_REASON)


class RecategoriseSerializer(VersionedActionSerializer):
    category = category_field(required=False)
    urgency = serializers.ChoiceField(
        choices=Urgency.choices,
        required=False,
        help_text=_(
            "The corrected urgency; left out: unchanged. A new category or urgency recounts the deadlines."
        ),
    )
    community = RestrictedRelatedField(
        queryset=Community.objects.all(), required=False, help_text=_("Community id.")
    )
    address = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text=_("The corrected address; left out: unchanged."),
    )
    reason = serializers.CharField(max_length=1000, help_text=MODERATION_REASON)


class ShownPhotoField(serializers.PrimaryKeyRelatedField):
    """The id of a photo of the case in the context that the public still sees."""

    default_error_messages = {
        "does_not_exist": _("This case has no photo with id {pk_value} that is still shown."),
    }

    def get_queryset(self) -> Any:
        case = self.context.get("case")
        if case is None:
            return CaseAttachment.objects.none()
        return super().get_queryset().filter(case=case, is_hidden=False)


class HidePhotoSerializer(VersionedActionSerializer):
    attachment = ShownPhotoField(
        queryset=CaseAttachment.objects.all(),
        help_text=_("Id of the photo to hide (see the case's `attachments`)."),
    )
    reason = serializers.CharField(
        max_length=1000, help_text=_("Why it is hidden, e.g. faces or number plates can be recognised.")
    )


class HiddenPhotoField(serializers.PrimaryKeyRelatedField):
    """The id of a photo of the case in the context that is hidden from the public."""

    default_error_messages = {
        "does_not_exist": _("This case has no hidden photo with id {pk_value}."),
    }

    def get_queryset(self) -> Any:
        case = self.context.get("case")
        if case is None:
            return CaseAttachment.objects.none()
        return CaseAttachment.objects.filter(case=case, is_hidden=True)


class UnhidePhotoSerializer(VersionedActionSerializer):
    attachment = HiddenPhotoField(
        queryset=CaseAttachment.objects.all(),
        help_text=_("Id of the hidden photo to show again (see the case's `attachments`)."),
    )
    reason = serializers.CharField(
        max_length=1000, help_text=_("Why it is shown again, e.g. it was hidden by mistake.")
    )


# --- indicators ----------------------------------------------------------------

GROUPS = ["handling_unit", "assignee", "community", "category", "source"]
COUNTS = [
    "reported",
    "reported_non_duplicate",
    "registered",
    "registered_non_duplicate",
    "due",
    "closed",
    "closed_on_time",
    "closed_on_spot",
    "reworked",
    "extended",
    "overdue",
    "visited",
    "satisfied",
    "false_reports",
]


class IndicatorsQuerySerializer(serializers.Serializer):
    period = serializers.RegexField(
        r"^(19|20)\d{2}-(0[1-9]|1[0-2])$",
        required=False,
        help_text=_("The month, YYYY-MM; the current month when left out."),
    )
    group_by = serializers.ChoiceField(choices=GROUPS, required=False)


class FiguresSerializer(serializers.Serializer):
    """The DESIGN §6 figures (cases.indicators); rates are null without a denominator."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields: dict[str, serializers.Field] = {name: serializers.IntegerField() for name in COUNTS}
        for name in [*RATES, "avg_handling_hours"]:
            fields[name] = serializers.FloatField(allow_null=True)
        return fields


class IndicatorGroupSerializer(serializers.Serializer):
    key = serializers.CharField(allow_null=True, help_text=_("The id (or source code) of the group."))
    label = serializers.CharField()
    figures = FiguresSerializer()


class IndicatorsSerializer(serializers.Serializer):
    period = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    group_by = serializers.CharField(allow_null=True)
    for_assessment = serializers.BooleanField(
        help_text=_("True when cases marked false are left out (per handling unit or officer).")
    )
    totals = FiguresSerializer()
    groups = IndicatorGroupSerializer(many=True)


# --- input: photos and ratings ---------------------------------------------------


class CasePhotosSerializer(serializers.Serializer):
    """Photos added to a case (multipart)."""

    photos = PhotoListField(min_length=1)
    kind = serializers.ChoiceField(choices=AttachmentKind.choices, default=AttachmentKind.OTHER)


class ResidentRatingSerializer(serializers.Serializer):
    """The reporter's satisfaction with a closed case, as on the tracking page."""

    tracking_code = serializers.CharField(max_length=16, help_text=_("The case's tracking code."))
    phone = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("The phone number used when reporting; not needed when signed in as the reporter."),
    )
    satisfaction = serializers.ChoiceField(choices=Satisfaction.choices)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ResidentRatingResultSerializer(serializers.Serializer):
    tracking_code = serializers.CharField(source="case.tracking_code", read_only=True)
    satisfaction = serializers.ChoiceField(choices=Satisfaction.choices, read_only=True)
    comment = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class TwoWayRatingSerializer(serializers.ModelSerializer):
    """A two-way rating (双向考评): community staff rate their liaison, the liaison the community."""

    community = BriefSerializer(read_only=True)
    liaison = BriefUserSerializer(read_only=True)
    rater = BriefUserSerializer(read_only=True)

    class Meta:
        model = TwoWayRating
        fields = [
            "id",
            "month",
            "community",
            "direction",
            "liaison",
            "score",
            "comment",
            "rater",
            "created_at",
        ]


class TwoWayRatingInputSerializer(serializers.Serializer):
    community = RestrictedRelatedField(queryset=Community.objects.all(), help_text=_("Community id."))
    direction = serializers.ChoiceField(choices=TwoWayRating.Direction.choices)
    month = serializers.DateField(
        help_text=_("Any day of the month rated (this month or last month); stored as its first day.")
    )
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
