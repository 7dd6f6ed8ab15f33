"""Write endpoints of the REST API: patrols, photos, inspections, ratings.

Each is tried as anonymous (401), as staff without scope (403/404), as the
scoped user (201), with bad input (400 naming the fields), and writes the
same rows as the page it mirrors. (The shared API contracts live in
tests/api.py, hence this file's place: a tests/api/ package would shadow it.)
"""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from cases import services as case_services
from cases.assessment import rating_months
from cases.choices import AttachmentKind, CaseSource, CaseStatus
from cases.models import Case, CaseAttachment, CaseEvent, CaseFeedback, TwoWayRating
from chengguan.clock import now as clock_now
from chengguan.roles import Role
from inspections.choices import NoticeStatus
from inspections.models import ChecklistItem, Inspection, RectificationNotice, ResponsibilityUnit
from liaisons.models import PatrolFinding, PatrolLog, PatrolPhoto
from tests.api import as_user, assert_constant_queries, assert_error
from tests.factories import leaf_category, staff
from tests.fieldwork import (
    cells,
    closed_case,
    liaison,
    log_patrol,
    not_an_image,
    operator,
    outsider,
    png,
    superuser,
    supervisor,
)

pytestmark = pytest.mark.django_db

__all__ = ["cells", "liaison", "operator", "outsider", "superuser", "supervisor"]

UUID_API = "1b7f3c52-8d2e-4c1a-9f5e-2a6b1c3d4e5f"
UUID_PAGE = "2b7f3c52-8d2e-4c1a-9f5e-2a6b1c3d4e5f"


# --- patrols ----------------------------------------------------------------------------


def patrol_body(community, cells=(), **overrides):  # type: ignore[no-untyped-def]
    now = timezone.now()
    body = {
        "community": community.pk,
        "started_at": (now - timedelta(hours=1)).isoformat(),
        "ended_at": now.isoformat(),
        "grid_cells": [cell.pk for cell in cells],
        "notes": "沿东园街巡查一遍",
        "findings": [
            {
                "description": "路口有流动摊贩",
                "category": "0102",
                "address": "东园街1号",
                "lat": 30.005,
                "lng": 120.005,
            }
        ],
    }
    body.update(overrides)
    return body


def test_anonymous_cannot_write_anything(community):
    client = as_user(staff(Role.LIAISON))
    client.logout()
    for url in [
        "/api/v1/patrols/",
        "/api/v1/patrols/1/findings/",
        "/api/v1/patrols/1/photos/",
        "/api/v1/cases/CG-1/photos/",
        "/api/v1/inspections/",
        "/api/v1/rectification-notices/1/reinspect/",
        "/api/v1/two-way-ratings/",
    ]:
        assert_error(client.post(url, {}, format="json"), 401, "not_authenticated")


def test_a_liaison_logs_a_patrol_like_the_page_does(client, liaison, community, cells):
    # given the same patrol sent through the API and through the patrol page
    api_response = as_user(liaison).post(
        "/api/v1/patrols/", patrol_body(community, cells, client_uuid=UUID_API), format="json"
    )
    client.force_login(liaison)
    now = timezone.localtime()
    page_response = client.post(
        reverse("liaisons:patrol_new"),
        {
            "client_uuid": UUID_PAGE,
            "community": community.pk,
            "started_at": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "ended_at": now.strftime("%Y-%m-%dT%H:%M"),
            "grid_cells": [cell.pk for cell in cells],
            "notes": "沿东园街巡查一遍",
            "findings-TOTAL_FORMS": 1,
            "findings-INITIAL_FORMS": 0,
            "findings-MIN_NUM_FORMS": 0,
            "findings-MAX_NUM_FORMS": 20,
            "findings-0-description": "路口有流动摊贩",
            "findings-0-category": leaf_category().pk,
            "findings-0-address": "东园街1号",
            "findings-0-lat": "30.005",
            "findings-0-lng": "120.005",
        },
    )

    # then both are the same patrol, and the API answers with it
    assert api_response.status_code == 201, api_response.content
    assert page_response.status_code == 302
    by_api = PatrolLog.objects.get(client_uuid=UUID_API)
    by_page = PatrolLog.objects.get(client_uuid=UUID_PAGE)

    def shape(log: PatrolLog) -> tuple:  # type: ignore[type-arg]
        findings = [
            (f.description, f.category_id, f.address, f.lat, f.lng, f.case_id) for f in log.findings.all()
        ]
        return (
            log.liaison_id,
            log.community_id,
            log.notes,
            sorted(c.pk for c in log.grid_cells.all()),
            findings,
        )

    assert shape(by_api) == shape(by_page)
    body = api_response.json()
    assert body["id"] == by_api.pk and body["findings"][0]["category"] == "0102"


def test_a_replayed_patrol_is_logged_once(liaison, community):
    client = as_user(liaison)
    first = client.post("/api/v1/patrols/", patrol_body(community, client_uuid=UUID_API), format="json")
    again = client.post("/api/v1/patrols/", patrol_body(community, client_uuid=UUID_API), format="json")

    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert PatrolLog.objects.count() == 1


def test_patrols_outside_ones_communities_are_refused(outsider, operator, community, other_community):
    # A liaison of the neighbouring community sees the community (same district) but works elsewhere.
    assert_error(
        as_user(outsider).post("/api/v1/patrols/", patrol_body(community), format="json"),
        403,
        "permission_denied",
    )
    # Operators have no patrol role.
    assert_error(
        as_user(operator).post("/api/v1/patrols/", patrol_body(community), format="json"),
        403,
        "permission_denied",
    )
    assert PatrolLog.objects.count() == 0


def test_bad_patrols_get_field_errors(liaison, community, other_community, cells):
    client = as_user(liaison)
    now = timezone.now()

    backwards = client.post(
        "/api/v1/patrols/",
        patrol_body(community, started_at=now.isoformat(), ended_at=(now - timedelta(hours=1)).isoformat()),
        format="json",
    )
    wrong_cells = client.post("/api/v1/patrols/", patrol_body(other_community, cells), format="json")
    half_location = client.post(
        "/api/v1/patrols/",
        patrol_body(community, findings=[{"description": "垃圾", "lat": 30.0}]),
        format="json",
    )
    missing = client.post("/api/v1/patrols/", {"notes": "x"}, format="json")
    unknown_category = client.post(
        "/api/v1/patrols/",
        patrol_body(community, findings=[{"description": "垃圾", "category": "9999"}]),
        format="json",
    )

    assert "ended_at" in assert_error(backwards, 400, "invalid")["fields"]
    assert "grid_cells" in assert_error(wrong_cells, 400, "invalid")["fields"]
    assert "findings" in assert_error(half_location, 400, "invalid")["fields"]
    assert {"community", "started_at", "ended_at"} <= set(assert_error(missing, 400, "invalid")["fields"])
    assert "findings" in assert_error(unknown_category, 400, "invalid")["fields"]
    assert PatrolLog.objects.count() == 0


def test_a_finding_is_added_to_a_logged_patrol(liaison, outsider, supervisor, community):
    patrol = log_patrol(liaison, community, findings=0)
    url = f"/api/v1/patrols/{patrol.pk}/findings/"
    finding = {"description": "井盖缺失", "category": "0102", "lat": 30.004, "lng": 120.004}

    response = as_user(liaison).post(url, finding, format="json")

    assert response.status_code == 201, response.content
    row = PatrolFinding.objects.get(patrol=patrol)
    assert (row.description, row.category_id, row.lat) == ("井盖缺失", leaf_category("0102").pk, 30.004)
    assert response.json()["id"] == row.pk
    # Outside the community the patrol is not found; a supervisor reads it but does not patrol.
    assert_error(as_user(outsider).post(url, finding, format="json"), 404, "not_found")
    assert_error(as_user(supervisor).post(url, finding, format="json"), 403, "permission_denied")
    assert (
        "description" in assert_error(as_user(liaison).post(url, {}, format="json"), 400, "invalid")["fields"]
    )
    assert PatrolFinding.objects.count() == 1


def test_photos_are_added_to_a_patrol_and_its_finding(liaison, outsider, community):
    patrol = log_patrol(liaison, community, findings=1)
    finding = patrol.findings.get()
    url = f"/api/v1/patrols/{patrol.pk}/photos/"

    response = as_user(liaison).post(
        url, {"photos": [png("a.png"), png("b.png")], "finding": finding.pk}, format="multipart"
    )

    assert response.status_code == 201, response.content
    assert len(response.json()) == 2
    assert PatrolPhoto.objects.filter(patrol=patrol, finding=finding).count() == 2
    assert_error(as_user(outsider).post(url, {"photos": [png()]}, format="multipart"), 404, "not_found")


def test_bad_patrol_photos_are_refused_and_nothing_is_stored(liaison, community):
    patrol = log_patrol(liaison, community, findings=0)
    other = log_patrol(liaison, community, findings=1, hours_ago=5)
    client = as_user(liaison)
    url = f"/api/v1/patrols/{patrol.pk}/photos/"

    not_image = client.post(url, {"photos": [png(), not_an_image()]}, format="multipart")
    none = client.post(url, {}, format="multipart")
    too_many = client.post(url, {"photos": [png(f"{n}.png") for n in range(7)]}, format="multipart")
    foreign_finding = client.post(
        url, {"photos": [png()], "finding": other.findings.get().pk}, format="multipart"
    )

    assert "photos" in assert_error(not_image, 400, "invalid")["fields"]
    assert "photos" in assert_error(none, 400, "invalid")["fields"]
    assert "photos" in assert_error(too_many, 400, "invalid")["fields"]
    assert "finding" in assert_error(foreign_finding, 400, "invalid")["fields"]
    assert PatrolPhoto.objects.count() == 0


# --- case photos --------------------------------------------------------------------------


def reported_case(community, superuser):  # type: ignore[no-untyped-def]
    return case_services.case_report(
        source=CaseSource.WEB,
        actor=superuser,
        description="小区门口有流动摊贩占道经营",
        category=leaf_category(),
        lat=30.005,
        lng=120.005,
        community=community,
        reporter_name="张三",
        reporter_phone="13812345678",
    )


def test_photos_are_added_to_a_case_in_scope(supervisor, superuser, community, district):
    case = reported_case(community, superuser)
    stranger = staff(Role.SUPERVISOR, scope=staff_district())
    url = f"/api/v1/cases/{case.number}/photos/"

    response = as_user(supervisor).post(url, {"photos": [png()], "kind": "before"}, format="multipart")

    assert response.status_code == 201, response.content
    (row,) = response.json()
    attachment = CaseAttachment.objects.get(pk=row["id"])
    assert (attachment.case_id, attachment.kind, attachment.uploaded_by_id) == (
        case.pk,
        AttachmentKind.BEFORE,
        supervisor.pk,
    )
    assert CaseEvent.objects.filter(case=case, action="attachment_added").count() == 1
    assert_error(as_user(stranger).post(url, {"photos": [png()]}, format="multipart"), 404, "not_found")


def staff_district():  # type: ignore[no-untyped-def]
    from tests.factories import DistrictFactory

    return DistrictFactory()


def test_bad_case_photos_are_refused(supervisor, superuser, community):
    case = reported_case(community, superuser)
    client = as_user(supervisor)
    url = f"/api/v1/cases/{case.number}/photos/"

    assert (
        "photos"
        in assert_error(client.post(url, {"photos": [not_an_image()]}, format="multipart"), 400, "invalid")[
            "fields"
        ]
    )
    assert (
        "kind"
        in assert_error(
            client.post(url, {"photos": [png()], "kind": "x"}, format="multipart"), 400, "invalid"
        )["fields"]
    )
    assert_error(client.post(url, {"photos": "x"}, format="json"), 415, "unsupported_media_type")
    assert CaseAttachment.objects.filter(case=case).count() == 0


# --- inspections --------------------------------------------------------------------------


def make_shop(community):  # type: ignore[no-untyped-def]
    return ResponsibilityUnit.objects.create(
        name="老王烧烤",
        address="东园街248号",
        community=community,
        contact_name="王老板",
        lat=30.005,
        lng=120.005,
    )


def checklist(failed=()):  # type: ignore[no-untyped-def]
    return [
        {
            "item": item.code,
            "passed": item.code not in failed,
            "note": "店外摆放烧烤炉" if item.code in failed else "",
        }
        for item in ChecklistItem.objects.filter(is_active=True)
    ]


def test_an_inspection_with_a_failed_item_issues_a_notice_like_the_page(client, liaison, community):
    shop = make_shop(community)
    # Both at the same instant: the notice's deadline is counted from now.
    with time_machine.travel(clock_now(), tick=False):
        response = as_user(liaison).post(
            "/api/v1/inspections/",
            {
                "shop": shop.pk,
                "results": checklist(["ZX01"]),
                "requirements": "三日内整改",
                "client_uuid": UUID_API,
            },
            format="json",
        )
        client.force_login(liaison)
        data = {"client_uuid": UUID_PAGE, "notes": "", "requirements": "三日内整改"}
        for item in ChecklistItem.objects.filter(is_active=True):
            data[f"item_{item.pk}"] = "fail" if item.code == "ZX01" else "pass"
            data[f"note_{item.pk}"] = "店外摆放烧烤炉" if item.code == "ZX01" else ""
        page = client.post(reverse("inspections:shop_inspect", args=[shop.pk]), data)

    assert response.status_code == 201, response.content
    assert page.status_code == 302
    by_api = Inspection.objects.get(client_uuid=UUID_API)
    by_page = Inspection.objects.get(client_uuid=UUID_PAGE)

    def shape(inspection: Inspection) -> tuple:  # type: ignore[type-arg]
        notice = inspection.notice
        return (
            inspection.unit_id,
            inspection.inspector_id,
            inspection.passed,
            sorted((r.item.code, r.passed, r.note) for r in inspection.results.all()),
            (notice.requirements, notice.deadline, list(notice.failed_items.values_list("code", flat=True))),
        )

    assert shape(by_api) == shape(by_page)
    body = response.json()
    assert body["passed"] is False and body["notice"]["number"] == by_api.notice.number


def test_inspections_outside_ones_communities_are_refused(outsider, operator, supervisor, community):
    shop = make_shop(community)
    body = {"shop": shop.pk, "results": checklist()}

    # Not visible to the neighbour: the shop is like one that does not exist.
    assert (
        "shop"
        in assert_error(as_user(outsider).post("/api/v1/inspections/", body, format="json"), 400, "invalid")[
            "fields"
        ]
    )
    assert_error(
        as_user(supervisor).post("/api/v1/inspections/", body, format="json"), 403, "permission_denied"
    )
    assert_error(as_user(operator).post("/api/v1/inspections/", body, format="json"), 400, "invalid")
    assert Inspection.objects.count() == 0


def test_bad_inspections_get_field_errors(liaison, community):
    shop = make_shop(community)
    client = as_user(liaison)
    code = ChecklistItem.objects.filter(is_active=True).values_list("code", flat=True)[0]

    empty = client.post("/api/v1/inspections/", {"shop": shop.pk, "results": []}, format="json")
    twice = client.post(
        "/api/v1/inspections/",
        {"shop": shop.pk, "results": [{"item": code, "passed": True}, {"item": code, "passed": False}]},
        format="json",
    )
    unknown = client.post(
        "/api/v1/inspections/",
        {"shop": shop.pk, "results": [{"item": "NOPE", "passed": True}]},
        format="json",
    )

    for response in (empty, twice, unknown):
        assert "results" in assert_error(response, 400, "invalid")["fields"]
    assert Inspection.objects.count() == 0


def test_the_re_inspection_settles_the_notice_once(liaison, outsider, community):
    shop = make_shop(community)
    created = as_user(liaison).post(
        "/api/v1/inspections/", {"shop": shop.pk, "results": checklist(["ZX01"])}, format="json"
    )
    notice = RectificationNotice.objects.get(pk=created.json()["notice"]["id"])
    url = f"/api/v1/rectification-notices/{notice.pk}/reinspect/"

    assert_error(as_user(outsider).post(url, {"rectified": True}, format="json"), 404, "not_found")
    assert (
        "rectified" in assert_error(as_user(liaison).post(url, {}, format="json"), 400, "invalid")["fields"]
    )
    response = as_user(liaison).post(url, {"rectified": False, "notes": "仍在店外经营"}, format="json")
    again = as_user(liaison).post(url, {"rectified": True}, format="json")

    assert response.status_code == 200, response.content
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.NOT_RECTIFIED and notice.case is not None
    assert response.json()["case"] == notice.case.number
    assert notice.case.source == CaseSource.INSPECTION
    assert_error(again, 409, "notice.already_settled")


# --- ratings ------------------------------------------------------------------------------


def test_the_reporter_rates_a_closed_case_by_code_and_phone(client, community, superuser, unit):
    case = closed_case(community, superuser, unit, phone="13812345678")
    anyone = as_user(staff(Role.LIAISON))
    anyone.logout()
    body = {
        "tracking_code": case.tracking_code.lower(),
        "phone": "138 1234 5678",
        "satisfaction": "satisfied",
        "comment": "处理及时",
    }

    wrong_phone = anyone.post("/api/v1/ratings/", {**body, "phone": "13900000000"}, format="json")
    no_phone = anyone.post("/api/v1/ratings/", {**body, "phone": ""}, format="json")
    unknown = anyone.post("/api/v1/ratings/", {**body, "tracking_code": "ZZZZZZZZ"}, format="json")
    bad_choice = anyone.post("/api/v1/ratings/", {**body, "satisfaction": "ecstatic"}, format="json")
    response = anyone.post("/api/v1/ratings/", body, format="json")
    again = anyone.post("/api/v1/ratings/", body, format="json")

    assert "phone" in assert_error(wrong_phone, 400, "invalid")["fields"]
    assert "phone" in assert_error(no_phone, 400, "invalid")["fields"]
    assert_error(unknown, 404, "not_found")
    assert "satisfaction" in assert_error(bad_choice, 400, "invalid")["fields"]
    assert response.status_code == 201, response.content
    feedback = CaseFeedback.objects.get(case=case)
    assert (feedback.satisfaction, feedback.comment) == ("satisfied", "处理及时")
    assert response.json()["satisfaction"] == "satisfied"
    assert_error(again, 400, "invalid.already_rated")


def test_the_api_rating_is_the_tracking_pages(client, community, superuser, unit):
    by_api = closed_case(community, superuser, unit, phone="13812345678")
    by_page = closed_case(community, superuser, unit, phone="13812345678")
    body = {"phone": "13812345678", "satisfaction": "basically", "comment": "还行"}

    as_user(superuser).logout()
    api = as_user(staff(Role.LIAISON))
    api.logout()
    api.post("/api/v1/ratings/", {**body, "tracking_code": by_api.tracking_code}, format="json")
    client.post(reverse("public:rate", args=[by_page.tracking_code]), body)

    def shape(case: Case) -> tuple:  # type: ignore[type-arg]
        feedback = CaseFeedback.objects.get(case=case)
        visit = case.return_visits.get()
        return (feedback.satisfaction, feedback.comment, visit.status, visit.channel, visit.satisfaction)

    assert shape(by_api) == shape(by_page)


def test_an_open_case_cannot_be_rated_yet(community, superuser):
    case = reported_case(community, superuser)
    anyone = as_user(staff(Role.LIAISON))
    anyone.logout()

    response = anyone.post(
        "/api/v1/ratings/",
        {"tracking_code": case.tracking_code, "phone": "13812345678", "satisfaction": "satisfied"},
        format="json",
    )

    assert_error(response, 409, "case.rate_not_allowed")
    assert Case.objects.get(pk=case.pk).status == CaseStatus.REPORTED


def test_community_staff_rate_their_liaison(client, liaison, community, other_community):
    rater = staff(Role.COMMUNITY_STAFF, scope=community)
    stranger = staff(Role.COMMUNITY_STAFF, scope=other_community)
    body = {
        "community": community.pk,
        "direction": "of_liaison",
        "month": rating_months()[0].isoformat(),
        "score": 4,
        "comment": "很负责",
    }

    refused = as_user(stranger).post("/api/v1/two-way-ratings/", body, format="json")
    bad = as_user(rater).post(
        "/api/v1/two-way-ratings/", {**body, "score": 9, "direction": "sideways"}, format="json"
    )
    response = as_user(rater).post("/api/v1/two-way-ratings/", body, format="json")
    again = as_user(rater).post("/api/v1/two-way-ratings/", body, format="json")

    assert_error(refused, 403, "permission_denied")
    assert {"score", "direction"} <= set(assert_error(bad, 400, "invalid")["fields"])
    assert response.status_code == 201, response.content
    rating = TwoWayRating.objects.get()
    assert (rating.liaison_id, rating.rater_id, rating.score, rating.comment) == (
        liaison.pk,
        rater.pk,
        4,
        "很负责",
    )
    assert response.json()["liaison"]["id"] == liaison.pk
    assert_error(again, 400, "assessment.already_rated")
    # Each rater lists their own ratings only.
    assert [row["id"] for row in as_user(rater).get("/api/v1/two-way-ratings/").json()["results"]] == [
        rating.pk
    ]
    assert as_user(stranger).get("/api/v1/two-way-ratings/").json()["results"] == []


def test_the_api_two_way_rating_is_the_rating_pages(client, liaison, community, other_community, superuser):
    from liaisons.services import liaison_assign

    other_liaison = staff(Role.LIAISON, username="other-liaison")
    liaison_assign(community=other_community, liaison=other_liaison, actor=superuser)
    month = rating_months()[0].isoformat()
    as_user(staff(Role.COMMUNITY_STAFF, scope=community)).post(
        "/api/v1/two-way-ratings/",
        {"community": community.pk, "direction": "of_liaison", "month": month, "score": 5, "comment": "好"},
        format="json",
    )
    client.force_login(staff(Role.COMMUNITY_STAFF, scope=other_community))
    client.post(
        reverse("dashboard:rate"),
        {
            "direction": "of_liaison",
            "of_liaison-month": month,
            "of_liaison-community": other_community.pk,
            "of_liaison-score": 5,
            "of_liaison-comment": "好",
        },
    )

    rows = TwoWayRating.objects.order_by("community_id")
    assert [(r.month, r.direction, r.score, r.comment, r.liaison_id) for r in rows] == [
        (rating_months()[0], "of_liaison", 5, "好", liaison.pk),
        (rating_months()[0], "of_liaison", 5, "好", other_liaison.pk),
    ]


def test_the_two_way_rating_list_costs_the_same_queries_for_more_rows(
    liaison, community, django_assert_max_num_queries
):
    rater = staff(Role.COMMUNITY_STAFF, scope=community)

    def rate(months_ago: int) -> TwoWayRating:
        month = (timezone.localdate().replace(day=1) - timedelta(days=31 * months_ago)).replace(day=1)
        return TwoWayRating.objects.create(
            month=month, community=community, direction="of_liaison", liaison=liaison, score=4, rater=rater
        )

    rate(0)
    assert_constant_queries(
        as_user(rater),
        "/api/v1/two-way-ratings/?direction=of_liaison",
        lambda: [rate(n) for n in range(1, 5)],
        8,
        django_assert_max_num_queries,
    )
