"""The cases API (/api/v1/): reads through the gate, reporting, and every workflow verb.

The verbs call the same services as the desk; here each one succeeds for
the role that may take it, answers 409 with the domain code in a status
that forbids it, and the errors keep their structured shape.
"""

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from cases import services
from cases.choices import CaseSource, CaseStatus, ExtensionStatus
from cases.models import Case
from chengguan.roles import Role
from tests.api import api, as_user, assert_anonymous_refused, assert_constant_queries, assert_error, listed
from tests.factories import CaseFactory, DistrictFactory, UserFactory, staff

pytestmark = pytest.mark.django_db

__all__ = ["api"]


def png(name: str = "after.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (40, 160, 80)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def case_url(case: Case, verb: str = "") -> str:
    return f"/api/v1/cases/{case.number}/" + (f"{verb}/" if verb else "")


@pytest.fixture
def operator(district):  # type: ignore[no-untyped-def]
    return staff(Role.OPERATOR, scope=district, username="operator")


@pytest.fixture
def dispatcher(district):  # type: ignore[no-untyped-def]
    return staff(Role.DISPATCHER, scope=district, username="dispatcher")


@pytest.fixture
def liaison(community):  # type: ignore[no-untyped-def]
    return staff(Role.LIAISON, scope=community, username="liaison")


@pytest.fixture
def unscoped():  # type: ignore[no-untyped-def]
    return staff(Role.OPERATOR, username="unscoped")


# --- reads ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/",
        "/api/v1/cases/",
        "/api/v1/cases/CG-20260101-000001/",
        "/api/v1/case-events/",
        "/api/v1/case-attachments/",
        "/api/v1/return-visits/",
        "/api/v1/categories/",
        "/api/v1/indicators/",
    ],
)
def test_anonymous_gets_401_json(url):
    assert_anonymous_refused(url)


def test_anonymous_cannot_act_on_a_case(make_case):
    case = make_case(CaseStatus.REPORTED)

    response = as_anonymous_post(case_url(case, "register"))

    assert_error(response, 401, "not_authenticated")
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REPORTED


def as_anonymous_post(url: str) -> Any:
    from rest_framework.test import APIClient

    return APIClient().post(url, {}, format="json")


def test_unscoped_staff_sees_no_case_and_gets_404(make_case, unscoped):
    case = make_case(CaseStatus.DISPATCHED)
    client = as_user(unscoped)

    assert listed(client.get("/api/v1/cases/"), "number") == []
    assert listed(client.get("/api/v1/case-events/")) == []
    assert listed(client.get("/api/v1/case-attachments/")) == []
    assert_error(client.get(case_url(case)), 404, "not_found")
    assert_error(client.post(case_url(case, "register"), {}, format="json"), 404, "not_found")


def test_staff_of_another_district_sees_nothing(make_case):
    case = make_case(CaseStatus.REPORTED)
    elsewhere = staff(Role.OPERATOR, scope=DistrictFactory(), username="elsewhere")
    client = as_user(elsewhere)

    assert listed(client.get("/api/v1/cases/"), "number") == []
    assert_error(client.get(case_url(case)), 404, "not_found")


def test_scoped_staff_lists_and_reads_their_cases(make_case, operator):
    reported = make_case(CaseStatus.REPORTED)
    closed = make_case(CaseStatus.CLOSED)
    client = as_user(operator)

    assert sorted(listed(client.get("/api/v1/cases/"), "number")) == sorted([reported.number, closed.number])
    detail = client.get(case_url(closed)).json()
    assert detail["status"] == "closed"
    assert detail["version"] == closed.version
    assert [event["action"] for event in detail["events"]] == [
        "report",
        "register",
        "dispatch",
        "sign_for",
        "submit_result",
        "close",
    ]
    assert detail["handling_unit"]["code"]
    assert detail["pending_extension"] is None


def test_case_list_filters_and_orders(make_case, operator):
    reported = make_case(CaseStatus.REPORTED)
    registered = make_case(CaseStatus.REGISTERED)
    client = as_user(operator)

    assert listed(client.get("/api/v1/cases/?status=registered"), "number") == [registered.number]
    assert listed(client.get(f"/api/v1/cases/?q={reported.number}"), "number") == [reported.number]
    assert listed(client.get("/api/v1/cases/?ordering=number"), "number") == [
        reported.number,
        registered.number,
    ]
    assert listed(client.get("/api/v1/cases/?ordering=-number"), "number") == [
        registered.number,
        reported.number,
    ]
    assert_error(client.get("/api/v1/cases/?status=nonsense"), 400, "invalid")


def test_reporter_contact_is_masked_without_the_permission(make_case, community, operator):
    case = make_case(CaseStatus.REPORTED, reporter_name="张三丰", reporter_phone="13812341234")
    community_staff = staff(Role.COMMUNITY_STAFF, scope=community)

    masked = as_user(community_staff).get(case_url(case)).json()
    full = as_user(operator).get(case_url(case)).json()
    listed_masked = as_user(community_staff).get("/api/v1/cases/").json()["results"][0]

    assert (masked["reporter_name"], masked["reporter_phone"]) == ("张**", "138****1234")
    assert (listed_masked["reporter_name"], listed_masked["reporter_phone"]) == ("张**", "138****1234")
    assert (full["reporter_name"], full["reporter_phone"]) == ("张三丰", "13812341234")


def test_case_list_query_count_is_constant(community, unit, operator, django_assert_max_num_queries):
    assignee = staff(Role.LIAISON, scope=community)
    CaseFactory(community=community, handling_unit=unit, assignee=assignee)
    client = as_user(operator)

    def grow() -> None:
        for _ in range(12):
            CaseFactory(
                community=community, handling_unit=unit, assignee=staff(Role.LIAISON, scope=community)
            )

    # Handling units and assignees come in one query each, not joined (cases.api.views.CASE_LIST_QUERYSET).
    assert_constant_queries(client, "/api/v1/cases/", grow, 9, django_assert_max_num_queries)


def test_case_event_list_query_count_is_constant(make_case, operator, django_assert_max_num_queries):
    make_case(CaseStatus.REGISTERED)
    client = as_user(operator)

    assert_constant_queries(
        client,
        "/api/v1/case-events/",
        lambda: [make_case(CaseStatus.CLOSED) for _ in range(3)],
        8,
        django_assert_max_num_queries,
    )


def test_case_events_filter_by_case(make_case, operator):
    first = make_case(CaseStatus.REGISTERED)
    make_case(CaseStatus.REPORTED)

    rows = as_user(operator).get(f"/api/v1/case-events/?case={first.number}").json()["results"]

    assert [(row["case"], row["action"]) for row in rows] == [
        (first.number, "report"),
        (first.number, "register"),
    ]


def test_categories_list_with_time_limits(operator, django_assert_max_num_queries):
    from cases.models import Category, TimeLimit

    client = as_user(operator)
    rows = client.get("/api/v1/categories/?top_level=true").json()["results"]

    def grow() -> None:
        for n in range(5):
            category = Category.objects.create(code=f"8{n}", name=f"新类{n}")
            TimeLimit.objects.create(
                category=category,
                urgency="normal",
                register_hours=1,
                dispatch_hours=1,
                handle_hours=8,
                verify_hours=4,
            )

    assert {row["code"] for row in rows} >= {"01", "02", "99"}
    assert all(row["parent"] is None for row in rows)
    assert {"urgency", "handle_hours"} <= set(rows[0]["time_limits"][0])
    assert_constant_queries(client, "/api/v1/categories/", grow, 7, django_assert_max_num_queries)


def test_categories_need_a_role(db):
    resident = UserFactory(username="resident")

    assert listed(as_user(resident).get("/api/v1/categories/")) == []


# --- reporting -------------------------------------------------------------------


REPORT = {
    "source": "hotline_12345",
    "description": "路口有人乱倒建筑垃圾",
    "category": "0203",
    "lat": 30.005,
    "lng": 120.005,
    "reporter_name": "李四",
    "reporter_phone": "13900001111",
}


def test_operator_reports_a_hotline_case(operator, community):
    response = as_user(operator).post("/api/v1/cases/", REPORT, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    case = Case.objects.get(number=body["number"])
    assert (case.source, case.status, case.community) == (
        CaseSource.HOTLINE_12345,
        CaseStatus.REPORTED,
        community,
    )
    assert case.events.get().actor == operator
    assert body["events"][0]["action"] == "report"


def test_reporting_is_idempotent_with_a_key(operator):
    client = as_user(operator)

    first = client.post("/api/v1/cases/", REPORT, format="json", HTTP_IDEMPOTENCY_KEY="call-42")
    again = client.post("/api/v1/cases/", REPORT, format="json", HTTP_IDEMPOTENCY_KEY="call-42")

    assert first.json()["number"] == again.json()["number"]
    assert Case.objects.count() == 1


def test_staff_source_needs_the_report_permission(unit_member):
    response = as_user(unit_member).post("/api/v1/cases/", REPORT, format="json")

    assert_error(response, 403, "permission_denied")
    assert not Case.objects.exists()


def test_report_input_errors_name_their_field(operator):
    client = as_user(operator)

    missing = assert_error(
        client.post("/api/v1/cases/", {"source": "walk_in"}, format="json"), 400, "invalid"
    )
    bad_phone = assert_error(
        client.post("/api/v1/cases/", {**REPORT, "reporter_phone": "call me"}, format="json"),
        400,
        "invalid.phone",
    )

    assert "description" in missing["fields"]
    assert list(bad_phone["fields"]) == ["reporter_phone"]


# --- workflow verbs -------------------------------------------------------------------

FAR = (timezone.now() + timedelta(days=60)).isoformat()


# verb, starting status, actor fixture, input, status afterwards
ALLOWED = [
    ("register", CaseStatus.REPORTED, "operator", {}, CaseStatus.REGISTERED),
    ("reject", CaseStatus.REPORTED, "operator", {"reason": "invalid", "note": "不属于城管职责"}, "rejected"),
    ("merge", CaseStatus.REPORTED, "operator", {"master": "<open case>"}, CaseStatus.REJECTED),
    ("dispatch", CaseStatus.REGISTERED, "dispatcher", {"handling_unit": "<unit>"}, CaseStatus.DISPATCHED),
    ("return", CaseStatus.DISPATCHED, "unit_member", {"reason": "不属于本单位"}, CaseStatus.REGISTERED),
    ("sign-for", CaseStatus.DISPATCHED, "unit_member", {}, CaseStatus.IN_PROGRESS),
    ("submit-result", CaseStatus.IN_PROGRESS, "unit_member", {"result": "已清理"}, CaseStatus.RESOLVED),
    (
        "request-extension",
        CaseStatus.DISPATCHED,
        "unit_member",
        {"requested_due_at": FAR, "reason": "需协调产权单位"},
        CaseStatus.DISPATCHED,
    ),
    ("decide-extension", "extension-pending", "supervisor", {"approve": True}, CaseStatus.DISPATCHED),
    ("request-park", CaseStatus.REGISTERED, "dispatcher", {"reason": "涉及拆迁"}, CaseStatus.REGISTERED),
    ("decide-parking", "parking-pending", "supervisor", {"approve": True}, CaseStatus.PARKED),
    ("unpark", CaseStatus.PARKED, "supervisor", {}, CaseStatus.REGISTERED),
    ("verify", CaseStatus.RESOLVED, "supervisor", {"passed": True}, CaseStatus.CLOSED),
    ("escalate", CaseStatus.DISPATCHED, "supervisor", {"note": "群众反映强烈"}, CaseStatus.DISPATCHED),
    ("reopen", CaseStatus.CLOSED, "supervisor", {"reason": "回访不满意"}, CaseStatus.DISPATCHED),
    ("close-on-spot", "patrol", "liaison", {"result": "已当场劝离"}, CaseStatus.CLOSED),
    ("mark-false", CaseStatus.CLOSED, "supervisor", {"reason": "恶意投诉"}, CaseStatus.CLOSED),
    (
        "moderate-text",
        CaseStatus.REGISTERED,
        "operator",
        {"description": "门口有流动摊贩占道经营", "reason": "删除电话号码"},
        CaseStatus.REGISTERED,
    ),
    (
        "recategorise",
        CaseStatus.DISPATCHED,
        "operator",
        {"address": "东园街1号", "reason": "地址有误"},
        CaseStatus.DISPATCHED,
    ),
    (
        "hide-photo",
        "with-photo",
        "operator",
        {"attachment": "<photo>", "reason": "照片可辨认人脸"},
        CaseStatus.REGISTERED,
    ),
]

# verb, a status that forbids it (the actor still reaches the case), actor, input, domain code
FORBIDDEN = [
    ("register", CaseStatus.DISPATCHED, "operator", {}, "case.transition_not_allowed"),
    (
        "reject",
        CaseStatus.REGISTERED,
        "operator",
        {"reason": "invalid", "note": "x"},
        "case.transition_not_allowed",
    ),
    ("merge", CaseStatus.REGISTERED, "operator", {"master": "<open case>"}, "case.transition_not_allowed"),
    (
        "dispatch",
        CaseStatus.REPORTED,
        "dispatcher",
        {"handling_unit": "<unit>"},
        "case.transition_not_allowed",
    ),
    ("return", CaseStatus.RESOLVED, "unit_member", {"reason": "x"}, "case.transition_not_allowed"),
    ("sign-for", CaseStatus.IN_PROGRESS, "unit_member", {}, "case.transition_not_allowed"),
    ("submit-result", CaseStatus.DISPATCHED, "unit_member", {"result": "x"}, "case.transition_not_allowed"),
    (
        "request-extension",
        CaseStatus.RESOLVED,
        "unit_member",
        {"requested_due_at": FAR, "reason": "x"},
        "case.extension_not_allowed",
    ),
    ("decide-extension", CaseStatus.DISPATCHED, "supervisor", {"approve": True}, "extension.none_pending"),
    ("request-park", CaseStatus.RESOLVED, "unit_member", {"reason": "x"}, "case.parking_not_allowed"),
    ("decide-parking", CaseStatus.REGISTERED, "supervisor", {"approve": True}, "parking.none_pending"),
    ("unpark", CaseStatus.REGISTERED, "supervisor", {}, "case.transition_not_allowed"),
    ("verify", CaseStatus.IN_PROGRESS, "supervisor", {"passed": True}, "case.transition_not_allowed"),
    ("escalate", CaseStatus.CLOSED, "supervisor", {"note": "x"}, "case.escalate_not_allowed"),
    ("reopen", CaseStatus.RESOLVED, "supervisor", {"reason": "x"}, "case.transition_not_allowed"),
    ("close-on-spot", "patrol-registered", "liaison", {"result": "x"}, "case.transition_not_allowed"),
    ("mark-false", CaseStatus.DISPATCHED, "supervisor", {"reason": "x"}, "case.mark_false_not_allowed"),
]


def _given(make_case: Any, start: Any, unit_member: Any) -> Case:
    """A case in `start`: a status, a patrol finding, a case with an extension or parking
    request pending, or a registered case with a photo."""
    if start == "patrol":
        return make_case(CaseStatus.REPORTED, source=CaseSource.PATROL)
    if start == "patrol-registered":
        return make_case(CaseStatus.REGISTERED, source=CaseSource.PATROL)
    if start == "extension-pending":
        case = make_case(CaseStatus.DISPATCHED)
        services.case_request_extension(
            case=case,
            actor=unit_member,
            requested_due_at=timezone.now() + timedelta(days=60),
            reason="需协调",
        )
        return Case.objects.get(pk=case.pk)
    if start == "parking-pending":
        case = make_case(CaseStatus.DISPATCHED)
        services.case_request_parking(case=case, actor=unit_member, reason="涉及拆迁，暂缓处置")
        return Case.objects.get(pk=case.pk)
    if start == "with-photo":
        return make_case(CaseStatus.REGISTERED, photos=[png("face.png")])
    return make_case(start)


def _input(data: dict[str, Any], make_case: Any, unit: Any, case: Case) -> dict[str, Any]:
    data = dict(data)
    if data.get("attachment") == "<photo>":
        data["attachment"] = case.attachments.get().pk
    if data.get("master") == "<open case>":
        data["master"] = make_case(CaseStatus.REGISTERED).number
    if data.get("handling_unit") == "<unit>":
        data["handling_unit"] = unit.pk
    return data


@pytest.mark.parametrize(
    ("verb", "start", "actor", "data", "after"), ALLOWED, ids=[row[0] for row in ALLOWED]
)
def test_each_verb_succeeds_for_its_role(
    request, make_case, unit, unit_member, verb, start, actor, data, after
):
    case = _given(make_case, start, unit_member)
    user = request.getfixturevalue(actor)

    response = as_user(user).post(
        case_url(case, verb), {"version": case.version, **_input(data, make_case, unit, case)}, format="json"
    )

    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert case.status == after
    assert response.json()["status"] == after
    assert response.json()["version"] == case.version


@pytest.mark.parametrize(
    ("verb", "start", "actor", "data", "code"), FORBIDDEN, ids=[row[0] for row in FORBIDDEN]
)
def test_each_verb_is_409_in_a_status_that_forbids_it(
    request, make_case, unit, unit_member, verb, start, actor, data, code
):
    case = _given(make_case, start, unit_member)
    user = request.getfixturevalue(actor)

    response = as_user(user).post(case_url(case, verb), _input(data, make_case, unit, case), format="json")

    assert_error(response, 409, code)
    assert Case.objects.get(pk=case.pk).version == case.version


def test_extension_decision_moves_the_deadline(make_case, unit_member, supervisor):
    case = make_case(CaseStatus.DISPATCHED)
    as_user(unit_member).post(
        case_url(case, "request-extension"),
        {"requested_due_at": FAR, "reason": "需协调产权单位"},
        format="json",
    )

    response = as_user(supervisor).post(case_url(case, "decide-extension"), {"approve": True}, format="json")

    case.refresh_from_db()
    assert response.status_code == 200
    assert case.extension_count == 1
    assert case.extension_requests.get().status == ExtensionStatus.APPROVED


def test_pending_extension_shows_in_the_detail(make_case, unit_member, supervisor):
    case = make_case(CaseStatus.DISPATCHED)
    services.case_request_extension(
        case=case, actor=unit_member, requested_due_at=timezone.now() + timedelta(days=60), reason="需协调"
    )

    detail = as_user(supervisor).get(case_url(case)).json()

    assert detail["pending_extension"]["reason"] == "需协调"
    assert detail["pending_extension"]["requested_by"]["id"] == unit_member.pk


def test_submit_result_takes_photos(make_case, unit_member):
    case = make_case(CaseStatus.IN_PROGRESS)

    response = as_user(unit_member).post(
        case_url(case, "submit-result"),
        {"result": "已清理", "photos": [png(), png("b.png")]},
        format="multipart",
    )

    assert response.status_code == 200, response.content
    attachments = response.json()["attachments"]
    assert [a["kind"] for a in attachments] == ["after", "after"]
    assert attachments[0]["url"].startswith("http://testserver/")


def test_verify_fail_sends_the_case_back(make_case, supervisor):
    case = make_case(CaseStatus.RESOLVED)

    response = as_user(supervisor).post(
        case_url(case, "verify"), {"passed": False, "note": "现场仍有垃圾"}, format="json"
    )

    assert response.json()["status"] == CaseStatus.DISPATCHED
    assert Case.objects.get(pk=case.pk).rework_count == 1


def test_a_stale_version_is_409(make_case, operator):
    case = make_case(CaseStatus.REPORTED)

    response = as_user(operator).post(
        case_url(case, "register"), {"version": case.version + 5}, format="json"
    )

    assert_error(response, 409, "stale_object")
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REPORTED


def test_a_stale_version_is_409_for_a_service_without_one(make_case, supervisor):
    case = make_case(CaseStatus.CLOSED)

    response = as_user(supervisor).post(
        case_url(case, "mark-false"), {"version": case.version + 1, "reason": "恶意投诉"}, format="json"
    )

    assert_error(response, 409, "stale_object")
    assert not Case.objects.get(pk=case.pk).false_report


def test_a_role_without_the_verb_is_403(make_case, dispatcher):
    case = make_case(CaseStatus.REPORTED)

    assert_error(
        as_user(dispatcher).post(case_url(case, "register"), {}, format="json"), 403, "permission_denied"
    )


def test_input_errors_are_400_with_fields(make_case, unit_member):
    case = make_case(CaseStatus.DISPATCHED)

    body = assert_error(
        as_user(unit_member).post(case_url(case, "return"), {}, format="json"), 400, "invalid"
    )

    assert list(body["fields"]) == ["reason"]


def test_references_outside_the_scope_are_invalid(make_case, dispatcher):
    case = make_case(CaseStatus.REGISTERED)
    from tests.factories import HandlingUnitFactory

    foreign = HandlingUnitFactory(district=DistrictFactory())

    body = assert_error(
        as_user(dispatcher).post(case_url(case, "dispatch"), {"handling_unit": foreign.pk}, format="json"),
        400,
        "invalid",
    )
    assert list(body["fields"]) == ["handling_unit"]


def test_a_handler_returning_a_case_gets_its_outcome_only(make_case, unit_member):
    case = make_case(CaseStatus.DISPATCHED)

    response = as_user(unit_member).post(case_url(case, "return"), {"reason": "不属于本单位"}, format="json")

    assert response.status_code == 200
    assert response.json() == {"number": case.number, "status": "registered", "version": case.version + 1}


# --- return visits and indicators -------------------------------------------------


def test_return_visits_through_the_gate(make_case, community, unscoped, django_assert_max_num_queries):
    from cases.models import ReturnVisit

    case = make_case(CaseStatus.CLOSED, reporter_phone="13812341234")
    visit = services.return_visit_schedule(case=case)
    liaison = staff(Role.LIAISON, scope=community)

    assert isinstance(visit, ReturnVisit)
    assert listed(as_user(liaison).get("/api/v1/return-visits/")) == [visit.pk]
    assert listed(as_user(unscoped).get("/api/v1/return-visits/")) == []
    assert_error(as_user(unscoped).get(f"/api/v1/return-visits/{visit.pk}/"), 404, "not_found")
    assert_constant_queries(
        as_user(liaison),
        "/api/v1/return-visits/",
        lambda: [
            services.return_visit_schedule(case=make_case(CaseStatus.CLOSED, reporter_phone="13812341234"))
            for _ in range(3)
        ],
        7,
        django_assert_max_num_queries,
    )


def test_indicators_count_the_callers_cases(make_case, operator, unscoped, unit):
    make_case(CaseStatus.REPORTED)
    make_case(CaseStatus.CLOSED)

    mine = as_user(operator).get("/api/v1/indicators/?group_by=handling_unit").json()
    none = as_user(unscoped).get("/api/v1/indicators/").json()

    assert mine["totals"]["reported"] == 2
    assert mine["totals"]["closed"] == 1
    assert mine["for_assessment"] is True
    assert [(g["key"], g["label"], g["figures"]["closed"]) for g in mine["groups"] if g["key"]] == [
        (str(unit.pk), unit.name, 1)
    ]
    assert none["totals"]["reported"] == 0


@pytest.mark.parametrize("period", ["2026-13", "0000-01", "9999-12", "2026-1"])
def test_indicators_reject_a_bad_period(operator, period):
    body = assert_error(as_user(operator).get(f"/api/v1/indicators/?period={period}"), 400, "invalid")

    assert list(body["fields"]) == ["period"]


def test_moments_with_any_iso_offset_are_accepted(make_case, operator):
    make_case(CaseStatus.REGISTERED)
    # ISO 8601 allows offsets PostgreSQL refuses (beyond ±15:59); found by schemathesis.
    after = "2000-01-01T00:00:00+21:31"

    response = as_user(operator).get("/api/v1/case-events/", {"created_at_after": after})

    assert len(listed(response)) == 2
