"""Case viewsets: reads through the gate, every workflow verb a POST action.

Each action validates its input with a small serializer and runs its verb
of cases.verbs, the one table of the workflow the desk reads too: exactly
one service, which checks the action's permission under a row lock; the
response is the case as it is afterwards. `version` in the input is the
version the client saw: a case changed in between fails with 409
`stale_object`.
"""

from __future__ import annotations

import inspect
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, Throttled, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from cases import services
from cases.api import serializers as s
from cases.api.verbs import VERBS, ApiVerb
from cases.assessment import two_way_rating_submit
from cases.choices import PUBLIC_SOURCES, CaseSource, ExtensionStatus, ParkingRequestStatus
from cases.filtersets import (
    CaseApiFilterSet,
    CaseAttachmentFilterSet,
    CaseEventFilterSet,
    CategoryFilterSet,
    ParkingRequestFilterSet,
    ReturnVisitFilterSet,
)
from cases.indicators import Period, indicators, indicators_by
from cases.models import (
    Case,
    CaseAttachment,
    CaseEvent,
    Category,
    ExtensionRequest,
    ParkingRequest,
    ReturnVisit,
    TwoWayRating,
)
from cases.selectors import with_actor_standing
from chengguan import clock
from chengguan.api import ErrorSerializer, RestrictedQuerysetMixin, RestrictedReadOnlyViewSet
from chengguan.api_pagination import CappedPageNumberPagination
from chengguan.errors import ActionNotPermitted
from chengguan.masking import contact_revealed
from chengguan.permissions import can, restrict
from communities.models import Community, HandlingUnit

User = get_user_model()

AREA_BOUNDARIES = ("district__boundary", "community__boundary", "grid_cell__boundary")
ERRORS = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
}
AFTER_ACTION = OpenApiResponse(
    s.CaseDetailSerializer,
    description=(
        "The case after the action. When the action took the case out of the caller's scope "
        "(e.g. a handler returning it), only `number`, `status` and `version`."
    ),
)


@extend_schema_view(
    list=extend_schema(summary="List categories with their time limits"),
    retrieve=extend_schema(summary="A category"),
)
class CategoryViewSet(RestrictedReadOnlyViewSet):
    """Case categories (大类/小类) with the working hours allowed per stage and urgency."""

    queryset = Category.objects.prefetch_related("time_limits")
    serializer_class = s.CategorySerializer
    filterset_class = CategoryFilterSet


def with_history(cases: QuerySet[Case]) -> QuerySet[Case]:
    """What the case detail shows besides the case: events, photos, pending extension and parking."""
    return cases.select_related("subject_officer").prefetch_related(
        Prefetch(
            "events",
            queryset=with_actor_standing(
                CaseEvent.objects.select_related("actor").prefetch_related("attachments")
            ),
        ),
        "attachments",
        Prefetch(
            "extension_requests",
            queryset=ExtensionRequest.objects.filter(status=ExtensionStatus.PENDING).select_related(
                "requested_by"
            ),
            to_attr="pending_extensions",
        ),
        Prefetch(
            "parking_requests",
            queryset=ParkingRequest.objects.filter(status=ParkingRequestStatus.PENDING).select_related(
                "requested_by", "decided_by"
            ),
            to_attr="pending_parkings",
        ),
    )


def with_workflow_verbs(viewset: type[CaseViewSet]) -> type[CaseViewSet]:
    """Add one POST action per row of the verb table (cases.api.verbs) to the case viewset."""
    for verb in VERBS:
        setattr(viewset, verb.method, _verb_action(verb))
    return viewset


def _verb_action(verb: ApiVerb) -> Any:
    def act(self: CaseViewSet, request: Request, number: str | None = None) -> Response:
        return self.act(request, verb)

    act.__name__ = act.__qualname__ = verb.method
    act.__doc__ = verb.summary
    # extend_schema must wrap the action, not the other way round.
    routed = action(detail=True, methods=["post"], url_path=verb.path)(act)
    return extend_schema(
        summary=verb.summary,
        description=verb.description,
        request=verb.input,
        responses={200: AFTER_ACTION, **ERRORS},
    )(routed)


# The list joins four relations and fetches the others by id (a small query each,
# none when no case on the page has one): PostgreSQL's planner searches the join
# orders of the eight-way join for 130-190 ms at a million cases, a hundred times
# what running it takes; at five tables it plans in 2 ms (issue #9).
CASE_LIST_QUERYSET = (
    Case.objects.select_related("category", "district", "community", "grid_cell")
    .defer(*AREA_BOUNDARIES)
    .prefetch_related(
        "handling_unit", "assignee", Prefetch("merged_into", queryset=Case.objects.only("id", "number"))
    )
)


@with_workflow_verbs
@extend_schema_view(
    list=extend_schema(summary="List cases", responses={200: s.CaseSerializer(many=True)}),
    retrieve=extend_schema(summary="A case with its history and photos"),
    create=extend_schema(
        summary="Report a case",
        description=(
            "Files a new report (status `reported`) through the same service as the complaint "
            "form and the intake desk. Sources other than `web` and `qr_code` need "
            "`cases.add_case`. An `Idempotency-Key` header makes a retried request return the "
            "case of the first one."
        ),
        request=s.CaseReportSerializer,
        responses={201: s.CaseDetailSerializer, **ERRORS},
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER)],
    ),
)
class CaseViewSet(
    RestrictedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Cases in the caller's scope, by case number; every workflow verb is a POST action.

    Reporters' names and phone numbers are masked without `cases.view_reporter_contact`.
    """

    lookup_field = "number"
    lookup_value_regex = "[^/]+"
    queryset = Case.objects.select_related(
        "category", "district", "community", "grid_cell", "handling_unit", "assignee", "merged_into"
    ).defer(*AREA_BOUNDARIES)
    serializer_class = s.CaseSerializer
    filterset_class = CaseApiFilterSet
    # A million cases: no COUNT(*) of the whole scope per page (issue #9).
    pagination_class = CappedPageNumberPagination

    def get_queryset(self) -> QuerySet[Case]:
        if self.action == "list":
            return restrict(CASE_LIST_QUERYSET.all(), self.request.user, self.gate_action)
        queryset = super().get_queryset()
        return with_history(queryset) if self.action == "retrieve" else queryset

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        case = self.get_object()
        # Unmasked contact details shown to a caller who may see them are audited (PIPL).
        contact_revealed(actor=request.user, case=case, via="api")
        return Response(self.get_serializer(case).data)

    def get_serializer_class(self) -> Any:
        return s.CaseSerializer if self.action == "list" else s.CaseDetailSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = s.CaseReportSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        case = services.case_report(
            actor=request.user,
            reporter=request.user if serializer.validated_data["source"] in PUBLIC_SOURCES else None,
            idempotency_key=request.headers.get("Idempotency-Key") or None,
            **serializer.validated_data,
        )
        return self._case_response(case, status.HTTP_201_CREATED)

    def _case_response(self, case: Case, code: int = status.HTTP_200_OK) -> Response:
        """The case as the caller may now see it."""
        visible = with_history(self.get_queryset()).filter(pk=case.pk).first()
        if visible is None:
            outcome = Case.objects.values("number", "status", "version").get(pk=case.pk)
            return Response(s.CaseOutcomeSerializer(outcome).data, status=code)
        return Response(
            s.CaseDetailSerializer(visible, context=self.get_serializer_context()).data, status=code
        )

    def act(self, request: Request, verb: ApiVerb) -> Response:
        """One workflow verb: scope (404), the verb's permission (403), input (400), service (409…)."""
        case = self.get_object()
        if not can(request.user, verb.verb.gate_for(case.status), case):
            raise ActionNotPermitted()
        given = verb.input(data=request.data, context={**self.get_serializer_context(), "case": case})
        given.is_valid(raise_exception=True)
        verb.perform(case, request.user, given.validated_data)
        return self._case_response(case)

    # --- photos -------------------------------------------------------------

    @extend_schema(
        summary="Add photos to a case (multipart)",
        description=inspect.cleandoc(services.case_add_photos.__doc__ or ""),
        request={"multipart/form-data": s.CasePhotosSerializer},
        responses={201: s.CaseAttachmentSerializer(many=True), **ERRORS},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def photos(self, request: Request, number: str | None = None) -> Response:
        case = self.get_object()
        given = s.CasePhotosSerializer(data=request.data, context=self.get_serializer_context())
        given.is_valid(raise_exception=True)
        stored = services.case_add_photos(
            case=case,
            actor=request.user,
            photos=given.validated_data["photos"],
            kind=given.validated_data["kind"],
        )
        return Response(
            s.CaseAttachmentSerializer(stored, many=True, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


@extend_schema_view(
    list=extend_schema(summary="List case events (the history of every case in scope)"),
    retrieve=extend_schema(summary="A case event"),
)
class CaseEventViewSet(RestrictedReadOnlyViewSet):
    """The append-only history of the cases in the caller's scope."""

    # Which actors are residents comes in the same query (their names are masked, cases.api.serializers).
    queryset = with_actor_standing(
        CaseEvent.objects.select_related("case", "actor").prefetch_related("attachments")
    )
    serializer_class = s.CaseEventSerializer
    filterset_class = CaseEventFilterSet


@extend_schema_view(
    list=extend_schema(summary="List case photos"), retrieve=extend_schema(summary="A case photo")
)
class CaseAttachmentViewSet(RestrictedReadOnlyViewSet):
    """Photos of the cases in the caller's scope: before (the report) and after (the result)."""

    queryset = CaseAttachment.objects.select_related("case")
    serializer_class = s.CaseAttachmentSerializer
    filterset_class = CaseAttachmentFilterSet


@extend_schema_view(
    list=extend_schema(summary="List parking requests (挂账申请), e.g. those pending: `?status=pending`"),
    retrieve=extend_schema(summary="A parking request"),
)
class ParkingRequestViewSet(RestrictedReadOnlyViewSet):
    """Requests to park a case (挂账申请) and their decisions, of the cases in the caller's scope.

    Asked for with `POST /api/v1/cases/{number}/request-park/`, decided with
    `POST /api/v1/cases/{number}/decide-parking/`.
    """

    queryset = ParkingRequest.objects.select_related("case", "requested_by", "decided_by")
    serializer_class = s.ParkingRequestSerializer
    filterset_class = ParkingRequestFilterSet


@extend_schema_view(
    list=extend_schema(summary="List return visits (回访)"), retrieve=extend_schema(summary="A return visit")
)
class ReturnVisitViewSet(RestrictedReadOnlyViewSet):
    """Return visits (回访) to reporters after closure, of the cases in the caller's scope."""

    queryset = ReturnVisit.objects.select_related("case", "liaison", "visited_by")
    serializer_class = s.ReturnVisitSerializer
    filterset_class = ReturnVisitFilterSet


class TrackingThrottle(AnonRateThrottle):
    """Ratings by tracking code are counted per address, like every anonymous request."""

    scope = "anon"


@extend_schema_view(
    create=extend_schema(
        summary="Rate a closed case as its reporter (tracking code and phone)",
        description=(
            "The resident's satisfaction rating of the tracking page: the tracking code and the "
            "phone number used when reporting (not needed when signed in as the reporter). Once "
            "per case, and only once it is closed (409 `case.rate_not_allowed` before). Failed "
            "lookups count towards the tracking page's lockout.\n\n"
            + inspect.cleandoc(services.case_rate.__doc__ or "")
        ),
        request=s.ResidentRatingSerializer,
        responses={201: s.ResidentRatingResultSerializer, **ERRORS, 429: ErrorSerializer},
    )
)
class ResidentRatingViewSet(viewsets.GenericViewSet):
    """Residents' ratings of their closed cases; no account needed."""

    permission_classes = [AllowAny]
    throttle_classes = [TrackingThrottle]
    serializer_class = s.ResidentRatingSerializer

    def create(self, request: Request) -> Response:
        from cases import abuse
        from cases.selectors import case_for_tracking

        if abuse.tracking_blocked(request._request):
            raise Throttled()
        given = s.ResidentRatingSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        case = case_for_tracking(data["tracking_code"])
        if case is None:
            abuse.count_tracking_miss(request._request)
            raise NotFound(_("No case has this tracking code."))
        user = request.user
        if not (user.is_authenticated and case.reporter_id == user.pk):
            if not data["phone"]:
                raise ValidationError({"phone": [_("Enter the phone number you used when reporting.")]})
            if case_for_tracking(data["tracking_code"], data["phone"]) is None:
                abuse.count_tracking_miss(request._request)
                raise ValidationError({"phone": [_("This phone number was not used to report this case.")]})
        feedback = services.case_rate(
            case=case, satisfaction=data["satisfaction"], comment=data["comment"], actor=user
        )
        return Response(s.ResidentRatingResultSerializer(feedback).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="List the two-way ratings (双向考评) one has given"),
    create=extend_schema(
        summary="Rate a community's liaison, or the community's cooperation (双向考评)",
        description=inspect.cleandoc(two_way_rating_submit.__doc__ or ""),
        request=s.TwoWayRatingInputSerializer,
        responses={201: s.TwoWayRatingSerializer, **ERRORS},
    ),
)
class TwoWayRatingViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Two-way ratings by community staff (of their liaison) and liaisons (of the community).

    The list holds the caller's own ratings, as the rating page does.
    """

    serializer_class = s.TwoWayRatingSerializer
    filterset_fields = ["direction", "month", "community"]

    def get_queryset(self) -> QuerySet[TwoWayRating]:
        return (
            TwoWayRating.objects.filter(rater_id=self.request.user.pk)
            .select_related("community", "liaison", "rater")
            .defer("community__boundary")
            .order_by("-month", "community__code", "id")
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        given = s.TwoWayRatingInputSerializer(data=request.data, context=self.get_serializer_context())
        given.is_valid(raise_exception=True)
        data = given.validated_data
        rating = two_way_rating_submit(
            actor=request.user,
            community=data["community"],
            direction=data["direction"],
            month=data["month"],
            score=data["score"],
            comment=data["comment"],
        )
        saved = self.get_queryset().get(pk=rating.pk)
        return Response(s.TwoWayRatingSerializer(saved).data, status=status.HTTP_201_CREATED)


class SingleObjectSchema(AutoSchema):
    """The indicators are one object, although the route is a collection's."""

    def _is_list_view(self, serializer: Any = None) -> bool:
        return False


class IndicatorViewSet(viewsets.ViewSet):
    """The DESIGN §6 indicators (cases.indicators) over the cases the caller may see.

    Grouped per handling unit or officer, cases marked false or malicious
    are left out, as in their assessment.
    """

    serializer_class = s.IndicatorsSerializer
    schema = SingleObjectSchema()

    @extend_schema(
        summary="Indicators for a month, in total and per group",
        parameters=[s.IndicatorsQuerySerializer],
        responses={200: s.IndicatorsSerializer, **ERRORS},
    )
    def list(self, request: Request) -> Response:
        query = s.IndicatorsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        label = query.validated_data.get("period") or timezone.localtime(clock.now()).strftime("%Y-%m")
        year, month = (int(part) for part in label.split("-"))
        period = Period.month(year, month)
        group_by = query.validated_data.get("group_by")
        # Handling units and officers are assessed without reports marked false.
        for_assessment = group_by in ("handling_unit", "assignee")
        cases = restrict(Case.objects.all(), request.user, "view")
        now = clock.now()
        groups = []
        if group_by:
            rows = indicators_by(cases, period, group_by, for_assessment=for_assessment, now=now)
            labels = _group_labels(group_by, list(rows))
            groups = [
                {"key": None if key is None else str(key), "label": labels.get(key, ""), "figures": figures}
                for key, figures in rows.items()
            ]
        body = {
            "period": label,
            "start": period.start,
            "end": period.end,
            "group_by": group_by,
            "for_assessment": for_assessment,
            "totals": indicators(cases, period, for_assessment=for_assessment, now=now),
            "groups": groups,
        }
        return Response(s.IndicatorsSerializer(body).data)


def _group_labels(group_by: str, keys: list[Any]) -> dict[Any, str]:
    ids = [key for key in keys if key is not None]
    if group_by == "source":
        return {key: str(CaseSource(key).label) for key in ids if key in CaseSource.values}
    if group_by == "assignee":
        return {user.pk: user.display_name for user in User.objects.filter(pk__in=ids)}
    model: Any = {"handling_unit": HandlingUnit, "community": Community, "category": Category}[group_by]
    return dict(model.objects.filter(pk__in=ids).values_list("pk", "name"))
