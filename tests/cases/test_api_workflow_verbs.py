"""The API's parity with the desk's newer verbs: parking through a request and a
supervisor's decision, moderation, verification by the community's liaison,
and the parking requests read endpoint.

Each verb calls the service the desk calls; here: anonymous 401, unscoped 404,
a scoped role without the verb 403, bad input 400 naming the field, and the
effect for the role that may act. (Allowed and forbidden statuses of every
verb are in test_api.py's tables.)
"""

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from cases import services
from cases.choices import CaseAction, CaseStatus, ParkingRequestStatus
from cases.models import Case, CaseAttachment, CaseEvent, CommunityCaseSettings, ParkingRequest
from chengguan.roles import Role
from liaisons.services import liaison_assign
from tests.api import as_user, assert_anonymous_refused, assert_constant_queries, assert_error, listed
from tests.factories import DistrictFactory, leaf_category, staff

pytestmark = pytest.mark.django_db


def png(name: str = "face.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 120, 60)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def case_url(case: Case, verb: str = "") -> str:
    return f"/api/v1/cases/{case.number}/" + (f"{verb}/" if verb else "")


@pytest.fixture
def dispatcher(district):  # type: ignore[no-untyped-def]
    return staff(Role.DISPATCHER, scope=district)


@pytest.fixture
def community_staff(community):  # type: ignore[no-untyped-def]
    return staff(Role.COMMUNITY_STAFF, scope=community)


@pytest.fixture
def unscoped_supervisor():  # type: ignore[no-untyped-def]
    """Every role permission of the verbs below, but scoped to another district."""
    return staff(Role.SUPERVISOR, scope=DistrictFactory())


@pytest.fixture
def parking_pending(make_case, unit_member):  # type: ignore[no-untyped-def]
    case = make_case(CaseStatus.DISPATCHED)
    services.case_request_parking(case=case, actor=unit_member, reason="涉及拆迁，暂缓处置")
    return Case.objects.get(pk=case.pk)


# verb, a case it applies to (fixture-free builder name), valid input
NEW_VERBS = [
    ("request-park", "registered", {"reason": "涉及拆迁"}),
    ("decide-parking", "parking-pending", {"approve": True}),
    ("moderate-text", "with-photo", {"description": "门口有摊贩", "reason": "删除电话"}),
    ("recategorise", "with-photo", {"address": "东园街1号", "reason": "地址有误"}),
    ("hide-photo", "with-photo", {"attachment": "<photo>", "reason": "人脸"}),
]


def _case_for(start: str, make_case: Any, unit_member: Any) -> Case:
    if start == "parking-pending":
        case = make_case(CaseStatus.DISPATCHED)
        services.case_request_parking(case=case, actor=unit_member, reason="涉及拆迁，暂缓处置")
        return Case.objects.get(pk=case.pk)
    if start == "with-photo":
        return make_case(CaseStatus.REGISTERED, photos=[png()])
    return make_case(CaseStatus.REGISTERED)


def _body(case: Case, data: dict[str, Any]) -> dict[str, Any]:
    if data.get("attachment") == "<photo>":
        return {**data, "attachment": case.attachments.get().pk}
    return data


# --- anonymous, unscoped, scoped without the verb -------------------------------------


@pytest.mark.parametrize(("verb", "start", "data"), NEW_VERBS, ids=[row[0] for row in NEW_VERBS])
def test_anonymous_gets_401_and_nothing_changes(make_case, unit_member, verb, start, data):
    case = _case_for(start, make_case, unit_member)

    response = APIClient().post(case_url(case, verb), _body(case, data), format="json")

    assert_error(response, 401, "not_authenticated")
    assert Case.objects.get(pk=case.pk).version == case.version


@pytest.mark.parametrize(("verb", "start", "data"), NEW_VERBS, ids=[row[0] for row in NEW_VERBS])
def test_staff_of_another_district_gets_404_and_nothing_changes(
    make_case, unit_member, unscoped_supervisor, verb, start, data
):
    case = _case_for(start, make_case, unit_member)

    response = as_user(unscoped_supervisor).post(case_url(case, verb), _body(case, data), format="json")

    assert_error(response, 404, "not_found")
    assert Case.objects.get(pk=case.pk).version == case.version


# verb, start, a role in scope that may see the case but not take this verb, input
WITHOUT_THE_VERB = [
    ("request-park", "registered", "operator", {"reason": "涉及拆迁"}),
    ("decide-parking", "parking-pending", "dispatcher", {"approve": True}),
    ("moderate-text", "with-photo", "community_staff", {"description": "门口有摊贩", "reason": "删除电话"}),
    ("recategorise", "with-photo", "dispatcher", {"address": "东园街1号", "reason": "地址有误"}),
    ("hide-photo", "with-photo", "dispatcher", {"attachment": "<photo>", "reason": "人脸"}),
]


@pytest.mark.parametrize(
    ("verb", "start", "actor", "data"), WITHOUT_THE_VERB, ids=[row[0] for row in WITHOUT_THE_VERB]
)
def test_a_scoped_role_without_the_verb_gets_403(request, make_case, unit_member, verb, start, actor, data):
    case = _case_for(start, make_case, unit_member)

    response = as_user(request.getfixturevalue(actor)).post(
        case_url(case, verb), _body(case, {}), format="json"
    )

    # Refused before the input is looked at: an empty body is not a 400.
    assert_error(response, 403, "permission_denied")
    assert Case.objects.get(pk=case.pk).version == case.version


# --- parking through a request -------------------------------------------------------------


def test_supervisors_cannot_park_directly(make_case, supervisor):
    case = make_case(CaseStatus.REGISTERED)

    response = as_user(supervisor).post(case_url(case, "park"), {"reason": "涉及拆迁"}, format="json")

    assert_error(response, 404, "not_found")
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REGISTERED


def test_handler_requests_parking_and_a_supervisor_approves(make_case, unit_member, supervisor):
    case = make_case(CaseStatus.IN_PROGRESS)

    asked = as_user(unit_member).post(
        case_url(case, "request-park"),
        {"version": case.version, "reason": "涉及拆迁，暂缓处置", "resume_on": "2099-01-31"},
        format="json",
    )
    shown = as_user(supervisor).get(case_url(case)).json()
    decided = as_user(supervisor).post(
        case_url(case, "decide-parking"),
        {"version": shown["version"], "approve": True, "note": "同意挂账"},
        format="json",
    )

    assert asked.status_code == 200, asked.content
    assert asked.json()["status"] == CaseStatus.IN_PROGRESS
    assert shown["pending_parking"]["reason"] == "涉及拆迁，暂缓处置"
    assert shown["pending_parking"]["resume_on"] == "2099-01-31"
    assert shown["pending_parking"]["requested_by"]["id"] == unit_member.pk
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == CaseStatus.PARKED
    assert decided.json()["pending_parking"] is None
    request = ParkingRequest.objects.get(case=case)
    assert (request.status, request.decided_by, request.decision_note) == (
        ParkingRequestStatus.APPROVED,
        supervisor,
        "同意挂账",
    )
    park = CaseEvent.objects.get(case=case, action=CaseAction.PARK)
    assert (park.actor, park.data["request"]) == (supervisor, request.pk)


def test_refusing_parking_needs_a_note_and_leaves_the_case_as_it_is(parking_pending, supervisor):
    client = as_user(supervisor)

    missing = client.post(case_url(parking_pending, "decide-parking"), {"approve": False}, format="json")
    refused = client.post(
        case_url(parking_pending, "decide-parking"), {"approve": False, "note": "可以先行处置"}, format="json"
    )

    assert_error(missing, 400, "invalid.required")
    assert refused.status_code == 200, refused.content
    assert refused.json()["status"] == CaseStatus.DISPATCHED
    assert ParkingRequest.objects.get(case=parking_pending).status == ParkingRequestStatus.REFUSED
    assert CaseEvent.objects.filter(case=parking_pending, action=CaseAction.PARKING_REFUSED).exists()


def test_request_park_input_errors_name_their_field(make_case, dispatcher):
    case = make_case(CaseStatus.REGISTERED)
    client = as_user(dispatcher)

    no_reason = assert_error(client.post(case_url(case, "request-park"), {}, format="json"), 400, "invalid")
    past = assert_error(
        client.post(
            case_url(case, "request-park"), {"reason": "暂缓", "resume_on": "2000-01-01"}, format="json"
        ),
        400,
        "invalid.resume_on",
    )
    not_a_date = assert_error(
        client.post(case_url(case, "request-park"), {"reason": "暂缓", "resume_on": "soon"}, format="json"),
        400,
        "invalid",
    )

    assert list(no_reason["fields"]) == ["reason"]
    assert list(past["fields"]) == ["resume_on"]
    assert list(not_a_date["fields"]) == ["resume_on"]
    assert not ParkingRequest.objects.exists()


def test_a_second_parking_request_is_refused(parking_pending, unit_member):
    response = as_user(unit_member).post(
        case_url(parking_pending, "request-park"), {"reason": "再次申请"}, format="json"
    )

    assert_error(response, 400, "invalid.parking_pending")
    assert ParkingRequest.objects.filter(case=parking_pending).count() == 1


def test_a_stale_version_does_not_decide_parking(parking_pending, supervisor):
    response = as_user(supervisor).post(
        case_url(parking_pending, "decide-parking"),
        {"version": parking_pending.version - 1, "approve": True},
        format="json",
    )

    assert_error(response, 409, "stale_object")
    assert ParkingRequest.objects.get(case=parking_pending).status == ParkingRequestStatus.PENDING


# --- the parking requests read endpoint --------------------------------------------------


def test_parking_requests_need_a_sign_in():
    assert_anonymous_refused("/api/v1/parking-requests/")
    assert_anonymous_refused("/api/v1/parking-requests/1/")


def test_parking_requests_are_scoped_like_their_case(parking_pending, supervisor, unscoped_supervisor):
    request = ParkingRequest.objects.get(case=parking_pending)

    mine = as_user(supervisor).get("/api/v1/parking-requests/")
    detail = as_user(supervisor).get(f"/api/v1/parking-requests/{request.pk}/")

    assert listed(mine) == [request.pk]
    assert detail.json()["case"] == parking_pending.number
    assert detail.json()["status"] == ParkingRequestStatus.PENDING
    assert listed(as_user(unscoped_supervisor).get("/api/v1/parking-requests/")) == []
    assert_error(
        as_user(unscoped_supervisor).get(f"/api/v1/parking-requests/{request.pk}/"), 404, "not_found"
    )


def test_parking_requests_filter_by_status_and_case(make_case, unit_member, supervisor):
    first = make_case(CaseStatus.DISPATCHED)
    second = make_case(CaseStatus.DISPATCHED)
    for case in (first, second):
        services.case_request_parking(case=case, actor=unit_member, reason="暂缓")
    refused = ParkingRequest.objects.get(case=second)
    services.case_decide_parking(request=refused, actor=supervisor, approve=False, note="先处置")
    client = as_user(supervisor)

    pending = listed(client.get("/api/v1/parking-requests/?status=pending"))
    by_case = listed(client.get(f"/api/v1/parking-requests/?case={second.number}"))

    assert pending == [ParkingRequest.objects.get(case=first).pk]
    assert by_case == [refused.pk]
    assert_error(client.get("/api/v1/parking-requests/?status=nonsense"), 400, "invalid")


def test_parking_request_list_query_count_is_constant(
    make_case, unit_member, supervisor, django_assert_max_num_queries
):
    def ask() -> None:
        case = make_case(CaseStatus.DISPATCHED)
        services.case_request_parking(case=case, actor=unit_member, reason="暂缓")

    def grow() -> None:
        for _ in range(3):
            ask()

    ask()
    assert_constant_queries(
        as_user(supervisor),
        "/api/v1/parking-requests/",
        grow,
        7,
        django_assert_max_num_queries,
    )


# --- moderation ---------------------------------------------------------------------------


def test_operator_corrects_the_wording_and_the_history_keeps_the_original(make_case, operator):
    case = make_case(CaseStatus.REGISTERED, description="门口摊贩天天占道，电话13812345678")

    response = as_user(operator).post(
        case_url(case, "moderate-text"),
        {
            "version": case.version,
            "description": "门口摊贩天天占道",
            "title": "摊贩占道",
            "reason": "删除电话",
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["description"], body["title"]) == ("门口摊贩天天占道", "摊贩占道")
    event = CaseEvent.objects.get(case=case, action=CaseAction.TEXT_MODERATED)
    assert event.actor == operator
    assert "13812345678" in str(event.data)


def test_moderation_input_errors(make_case, operator):
    case = make_case(CaseStatus.REGISTERED)
    client = as_user(operator)

    missing = assert_error(
        client.post(case_url(case, "moderate-text"), {"reason": "x"}, format="json"), 400, "invalid"
    )
    unchanged = assert_error(
        client.post(
            case_url(case, "moderate-text"), {"description": case.description, "reason": "x"}, format="json"
        ),
        400,
        "invalid.unchanged",
    )
    no_reason = assert_error(
        client.post(case_url(case, "recategorise"), {"address": "别处"}, format="json"), 400, "invalid"
    )

    assert list(missing["fields"]) == ["description"]
    assert unchanged["code"] == "invalid.unchanged"
    assert list(no_reason["fields"]) == ["reason"]
    assert Case.objects.get(pk=case.pk).version == case.version


def test_operator_recategorises_and_moves_the_case(make_case, operator, other_community):
    case = make_case(CaseStatus.REGISTERED)
    category = leaf_category("0203")

    response = as_user(operator).post(
        case_url(case, "recategorise"),
        {"category": category.code, "community": other_community.pk, "reason": "类别和社区有误"},
        format="json",
    )

    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert (case.category, case.community) == (category, other_community)
    assert CaseEvent.objects.filter(case=case, action=CaseAction.RECATEGORISED).exists()


def test_recategorise_refuses_a_community_outside_the_scope(make_case, operator):
    from tests.factories import CommunityFactory, StreetFactory

    case = make_case(CaseStatus.REGISTERED)
    foreign = CommunityFactory(street=StreetFactory(district=DistrictFactory()), origin=(121.0, 31.0))

    body = assert_error(
        as_user(operator).post(
            case_url(case, "recategorise"), {"community": foreign.pk, "reason": "x"}, format="json"
        ),
        400,
        "invalid",
    )

    assert list(body["fields"]) == ["community"]
    assert Case.objects.get(pk=case.pk).community_id == case.community_id


def test_operator_hides_a_photo(make_case, operator):
    case = make_case(CaseStatus.REGISTERED, photos=[png()])
    photo = case.attachments.get()

    response = as_user(operator).post(
        case_url(case, "hide-photo"), {"attachment": photo.pk, "reason": "照片可辨认人脸"}, format="json"
    )

    assert response.status_code == 200, response.content
    shown = response.json()["attachments"]
    assert [(a["id"], a["is_hidden"]) for a in shown] == [(photo.pk, True)]
    photo.refresh_from_db()
    assert (photo.is_hidden, photo.hidden_by, photo.hidden_reason) == (True, operator, "照片可辨认人脸")


def test_hide_photo_takes_only_a_shown_photo_of_this_case(make_case, operator):
    case = make_case(CaseStatus.REGISTERED, photos=[png()])
    other = make_case(CaseStatus.REGISTERED, photos=[png("b.png")])
    client = as_user(operator)
    services.case_attachment_hide(attachment=case.attachments.get(), actor=operator, reason="人脸")

    foreign = assert_error(
        client.post(
            case_url(case, "hide-photo"),
            {"attachment": other.attachments.get().pk, "reason": "x"},
            format="json",
        ),
        400,
        "invalid",
    )
    again = assert_error(
        client.post(
            case_url(case, "hide-photo"),
            {"attachment": case.attachments.get().pk, "reason": "x"},
            format="json",
        ),
        400,
        "invalid",
    )

    assert list(foreign["fields"]) == ["attachment"]
    assert list(again["fields"]) == ["attachment"]
    assert not CaseAttachment.objects.get(pk=other.attachments.get().pk).is_hidden


def test_hide_photo_with_a_stale_version_is_409(make_case, operator):
    case = make_case(CaseStatus.REGISTERED, photos=[png()])

    response = as_user(operator).post(
        case_url(case, "hide-photo"),
        {"version": case.version + 1, "attachment": case.attachments.get().pk, "reason": "人脸"},
        format="json",
    )

    assert_error(response, 409, "stale_object")
    assert not case.attachments.get().is_hidden


# --- verification by the community's liaison ------------------------------------------------


@pytest.fixture
def responsible_liaison(community):  # type: ignore[no-untyped-def]
    user = staff(Role.LIAISON)
    liaison_assign(community=community, liaison=user)
    return type(user).objects.get(pk=user.pk)


def test_the_liaison_verifies_through_the_api_where_the_community_says_so(
    make_case, community, responsible_liaison
):
    case = make_case(CaseStatus.RESOLVED)
    client = as_user(responsible_liaison)

    before = client.post(case_url(case, "verify"), {"passed": True}, format="json")
    CommunityCaseSettings.objects.create(community=community, liaison_verifies=True)
    after = as_user(type(responsible_liaison).objects.get(pk=responsible_liaison.pk)).post(
        case_url(case, "verify"), {"passed": False, "note": "现场仍有杂物"}, format="json"
    )

    assert_error(before, 403, "permission_denied")
    assert after.status_code == 200, after.content
    case.refresh_from_db()
    assert (case.status, case.rework_count) == (CaseStatus.DISPATCHED, 1)
    assert CaseEvent.objects.get(case=case, action=CaseAction.REWORK).actor == responsible_liaison
