"""Open311 GeoReport v2 (/open311/v2/): both formats parsed against the specification's
field lists, reports posted with an api_key reaching the operator's inbox, and
their status changes visible through requests/{id}."""

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from rest_framework.test import APIClient

from cases import services
from cases.choices import CaseSource, CaseStatus
from cases.models import Case, CaseEvent, Open311Client
from chengguan.permissions import restrict
from chengguan.roles import Role
from tests.factories import CaseFactory, UserFactory, staff

pytestmark = pytest.mark.django_db

BASE = "/open311/v2"
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
ATTRIBUTE_FIELDS = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
}
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


@pytest.fixture
def hotline(db):  # type: ignore[no-untyped-def]
    """The 12345 platform: its key files reports as a (scope-less) operator account."""
    account = staff(Role.OPERATOR, username="hotline-12345")
    return Open311Client.objects.create(
        name="12345 热线平台", source=CaseSource.HOTLINE_12345, account=account
    )


@pytest.fixture
def anyone() -> APIClient:
    return APIClient()


@pytest.fixture
def superuser(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def get_json(client: APIClient, path: str, **params: Any) -> Any:
    response = client.get(f"{BASE}/{path}.json", params)
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return response.status_code, json.loads(response.content.decode("utf-8"))


def get_xml(client: APIClient, path: str, **params: Any) -> tuple[int, ET.Element]:
    response = client.get(f"{BASE}/{path}.xml", params)
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    return response.status_code, ET.fromstring(response.content)


def post_request(client: APIClient, key: str | None, **fields: Any) -> Any:
    data = {
        "service_code": "0102",
        "lat": "30.005",
        "long": "120.005",
        "description": "小区门口有流动摊贩占道经营",
        "first_name": "三",
        "last_name": "张",
        "phone": "13812341234",
        **fields,
    }
    if key:
        data["api_key"] = key
    return client.post(f"{BASE}/requests.json", data)  # form-encoded, as the specification posts


def children(element: ET.Element) -> dict[str, ET.Element]:
    return {child.tag: child for child in element}


# --- discovery and services ------------------------------------------------------


def test_discovery_in_both_formats(anyone):
    code, body = get_json(anyone, "discovery")
    xml_code, root = get_xml(anyone, "discovery")

    assert code == xml_code == 200
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["application/json", "text/xml"]


def test_services_have_the_georeport_fields(anyone):
    code, services_json = get_json(anyone, "services")
    xml_code, root = get_xml(anyone, "services")

    assert code == xml_code == 200
    assert all(set(service) == SERVICE_FIELDS for service in services_json)
    assert root.tag == "services"
    assert all(service.tag == "service" and set(children(service)) == SERVICE_FIELDS for service in root)
    codes = [service["service_code"] for service in services_json]
    assert "0102" in codes
    assert "01" not in codes  # a top-level category with subcategories is a group, not a service
    vendors = next(s for s in services_json if s["service_code"] == "0102")
    assert (vendors["service_name"], vendors["group"], vendors["type"], vendors["metadata"]) == (
        "流动摊贩",
        "街面秩序",
        "realtime",
        False,
    )
    assert "流动摊贩".encode() in anyone.get(f"{BASE}/services.json").content  # UTF-8, not \\u escapes


def test_service_definition_asks_for_what_the_category_needs(anyone):
    code, definition = get_json(anyone, "services/0301")  # illegal structures: photo and phone required
    xml_code, root = get_xml(anyone, "services/0301")

    assert code == xml_code == 200
    assert definition["service_code"] == "0301"
    required = {a["code"] for a in definition["attributes"] if a["required"]}
    assert required == {"contact_phone", "photo_url"}
    assert all(set(attribute) == ATTRIBUTE_FIELDS for attribute in definition["attributes"])
    assert root.tag == "service_definition"
    attributes = root.find("attributes")
    assert attributes is not None
    assert {children(a)["code"].text for a in attributes.findall("attribute")} >= {
        "contact_phone",
        "photo_url",
    }
    assert {children(a)["required"].text for a in attributes.findall("attribute")} == {"true"}


def test_a_plain_service_has_no_attributes(anyone):
    _code, definition = get_json(anyone, "services/0102")

    assert definition == {"service_code": "0102", "attributes": []}


def test_unknown_service_is_a_404_in_the_specifications_error_shape(anyone):
    code, errors = get_json(anyone, "services/nope")
    xml_code, root = get_xml(anyone, "services/nope")

    assert code == xml_code == 404
    assert errors[0]["code"] == 404 and errors[0]["description"]
    assert root.tag == "errors"
    assert root.find("error/code").text == "404"  # type: ignore[union-attr]


def test_unknown_paths_are_404(anyone):
    assert get_json(anyone, "nothing")[0] == 404


# --- posting -----------------------------------------------------------------------


def test_a_posted_request_reaches_the_operator_inbox(anyone, hotline, district, community):
    response = post_request(anyone, hotline.api_key)

    assert response.status_code == 201, response.content
    [created] = response.json()
    assert set(created) == {"service_request_id", "token", "service_notice", "account_id"}
    case = Case.objects.get(number=created["service_request_id"])
    assert created["token"] == case.tracking_code
    assert (case.source, case.status, case.community) == (
        CaseSource.HOTLINE_12345,
        CaseStatus.REPORTED,
        community,
    )
    assert (case.reporter_name, case.reporter_phone) == ("张三", "13812341234")
    assert case.events.get().actor == hotline.account
    # Given the district's operator, when they open the intake inbox, then the report is there.
    operator = staff(Role.OPERATOR, scope=district)
    inbox = restrict(Case.objects.filter(status=CaseStatus.REPORTED), operator, "register")
    assert list(inbox) == [case]


def test_posting_in_xml(anyone, hotline, community):
    response = anyone.post(
        f"{BASE}/requests.xml",
        {
            "api_key": hotline.api_key,
            "service_code": "0102",
            "address_string": "东园街248号",
            "description": "占道",
        },
    )

    assert response.status_code == 201
    root = ET.fromstring(response.content)
    number = root.find("request/service_request_id").text  # type: ignore[union-attr]
    assert Case.objects.get(number=number).address == "东园街248号"


def test_media_url_is_kept_as_a_note_and_attributes_count(anyone, hotline, community):
    response = post_request(
        anyone,
        hotline.api_key,
        service_code="0301",
        phone="",
        **{"attribute[contact_phone]": "13900001111", "media_url": "https://example.org/p/1.jpg"},
    )

    assert response.status_code == 201, response.content
    case = Case.objects.get(number=response.json()[0]["service_request_id"])
    assert case.reporter_phone == "13900001111"
    note = CaseEvent.objects.get(case=case, action="note")
    assert "https://example.org/p/1.jpg" in note.note


def test_required_contact_and_photo_are_checked(anyone, hotline, community):
    response = post_request(anyone, hotline.api_key, service_code="0301", phone="")

    assert response.status_code == 400
    assert response.json()[0]["code"] == 400
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"lat": "", "long": ""}, 400),  # no location at all
        ({"long": ""}, 400),  # half a point
        ({"service_code": "nope"}, 400),
        ({"description": ""}, 400),
        ({"jurisdiction_id": "elsewhere.gov"}, 404),
    ],
)
def test_invalid_posts(anyone, hotline, community, fields, status):
    hotline.jurisdiction_id = "city.example"
    hotline.save()

    response = post_request(anyone, hotline.api_key, **fields)

    assert response.status_code == status, response.content
    assert response.json()[0]["code"] == status
    assert not Case.objects.exists()


@pytest.mark.parametrize("key", [None, "not-a-key", "inactive"])
def test_posting_needs_an_active_api_key(anyone, hotline, community, key):
    if key == "inactive":
        hotline.is_active = False
        hotline.save()
        key = hotline.api_key

    response = post_request(anyone, key)

    assert response.status_code == 403
    assert response.json()[0]["code"] == 403
    assert not Case.objects.exists()


def test_a_key_whose_account_may_not_report_is_refused(anyone, community):
    client = Open311Client.objects.create(name="应用", account=staff(Role.HANDLING_UNIT))

    assert post_request(anyone, client.api_key).status_code == 403


# --- reading requests --------------------------------------------------------------


def test_status_changes_are_visible_through_the_request(anyone, hotline, community, unit, superuser):
    number = post_request(anyone, hotline.api_key).json()[0]["service_request_id"]
    case = Case.objects.get(number=number)

    _code, [reported] = get_json(anyone, f"requests/{number}", api_key=hotline.api_key)
    services.case_register(case=case, actor=superuser)
    services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    _code, [dispatched] = get_json(anyone, f"requests/{number}", api_key=hotline.api_key)
    xml_code, root = get_xml(anyone, f"requests/{number}", api_key=hotline.api_key)

    assert set(reported) == REQUEST_FIELDS | {"status_internal"}
    assert (reported["status"], reported["status_internal"]) == ("open", "reported")
    assert (dispatched["status"], dispatched["status_internal"]) == ("open", "dispatched")
    assert dispatched["agency_responsible"] == unit.name
    assert ISO_WITH_OFFSET.match(dispatched["requested_datetime"])
    assert ISO_WITH_OFFSET.match(dispatched["expected_datetime"])
    assert dispatched["updated_datetime"] >= reported["updated_datetime"]
    assert xml_code == 200 and root.tag == "service_requests"
    request = root.find("request")
    assert request is not None and set(children(request)) == REQUEST_FIELDS | {"status_internal"}
    assert children(request)["status_internal"].text == "dispatched"


def test_a_closed_request_carries_the_result(anyone, hotline, community, unit, superuser):
    number = post_request(anyone, hotline.api_key).json()[0]["service_request_id"]
    case = Case.objects.get(number=number)
    for step in (
        lambda c: services.case_register(case=c, actor=superuser),
        lambda c: services.case_dispatch(case=c, actor=superuser, handling_unit=unit),
        lambda c: services.case_sign_for(case=c, actor=superuser),
        lambda c: services.case_submit_result(case=c, actor=superuser, result="摊贩已劝离"),
        lambda c: services.case_verify(case=c, actor=superuser, passed=True),
    ):
        case = step(case)

    _code, [closed] = get_json(anyone, f"requests/{number}", api_key=hotline.api_key)

    assert (closed["status"], closed["status_internal"], closed["status_notes"]) == (
        "closed",
        "closed",
        "摊贩已劝离",
    )


def test_reading_requests_needs_a_key_and_shows_its_source_only(anyone, hotline, community):
    mine = post_request(anyone, hotline.api_key).json()[0]["service_request_id"]
    web = CaseFactory(community=community, source=CaseSource.WEB)

    code, errors = get_json(anyone, "requests")
    _code, rows = get_json(anyone, "requests", api_key=hotline.api_key)
    missing, _errors = get_json(anyone, f"requests/{web.number}", api_key=hotline.api_key)

    assert code == 403 and errors[0]["code"] == 403
    assert [row["service_request_id"] for row in rows] == [mine]
    assert missing == 404


def test_public_reads_show_every_request_but_conduct_complaints(anyone, community, settings):
    settings.OPEN311_PUBLIC_READS = True
    web = CaseFactory(community=community, source=CaseSource.WEB, reporter_phone="13812341234")
    CaseFactory(community=community, source=CaseSource.WEB, subject_officer=staff(Role.LIAISON))

    code, rows = get_json(anyone, "requests")

    assert code == 200
    assert [row["service_request_id"] for row in rows] == [web.number]
    assert "13812341234" not in json.dumps(rows)


def test_request_filters(anyone, hotline, community, superuser):
    first = post_request(anyone, hotline.api_key).json()[0]["service_request_id"]
    second = post_request(anyone, hotline.api_key, service_code="0204").json()[0]["service_request_id"]
    services.case_reject(
        case=Case.objects.get(number=second), actor=superuser, reason="invalid", note="不属于城管职责"
    )
    key = hotline.api_key

    def ids(**params: Any) -> list[str]:
        code, rows = get_json(anyone, "requests", api_key=key, **params)
        assert code == 200, rows
        return sorted(row["service_request_id"] for row in rows)

    assert ids() == sorted([first, second])
    assert ids(service_request_id=f"{first},{second}", status="closed") == sorted([first, second])
    assert ids(service_code="0204") == [second]
    assert ids(status="open") == [first]
    assert ids(status="closed") == [second]
    assert ids(start_date="2000-01-01T00:00:00+08:00", end_date="2000-02-01T00:00:00+08:00") == []
    assert ids(start_date="2000-01-01T00:00:00Z") == sorted([first, second])
    assert ids(start_date="2000-01-01T00:00:00+21:31") == sorted([first, second])
    assert get_json(anyone, "requests", api_key=key, start_date="yesterday")[0] == 400
    assert get_json(anyone, "requests", api_key=key, status="pending")[0] == 400


def test_tokens(anyone, hotline, community):
    created = post_request(anyone, hotline.api_key).json()[0]

    code, [found] = get_json(anyone, f"tokens/{created['token']}", api_key=hotline.api_key)
    xml_code, root = get_xml(anyone, f"tokens/{created['token']}", api_key=hotline.api_key)

    assert code == xml_code == 200
    assert found == {"service_request_id": created["service_request_id"], "token": created["token"]}
    assert root.find("request/service_request_id").text == created["service_request_id"]  # type: ignore[union-attr]
    assert get_json(anyone, "tokens/NOSUCHTK", api_key=hotline.api_key)[0] == 404


def test_clients_are_throttled_per_key(anyone, hotline, settings):
    settings.OPEN311_CLIENT_RATE = "2/minute"
    for _ in range(2):
        assert get_json(anyone, "requests", api_key=hotline.api_key)[0] == 200

    code, errors = get_json(anyone, "requests", api_key=hotline.api_key)

    assert code == 429 and errors[0]["code"] == 429


def test_cases_without_a_category_are_requests_too(anyone, hotline, community):
    case = CaseFactory(community=community, source=CaseSource.HOTLINE_12345, category=None)

    _code, [row] = get_json(anyone, f"requests/{case.number}", api_key=hotline.api_key)

    assert (row["service_code"], row["service_name"]) == ("", "")
