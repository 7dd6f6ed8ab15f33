"""QR service codes (城市服务码): facilities, CSV import, printable sheets, the pre-filled form,
the public page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.choices import CaseSource, CaseStatus
from cases.models import Case, Category
from chengguan.models import AuditEntry
from chengguan.roles import Role
from communities.choices import FacilityKind
from communities.models import Facility
from communities.services import facility_import_csv, facility_save
from tests import factories

pytestmark = pytest.mark.django_db

CSV_HEADER = "code,name,kind,lat,lng,address,community,active\n"


@pytest.fixture
def grid(community):  # type: ignore[no-untyped-def]
    cell = factories.GridCellFactory(community=community)
    cell.set_boundary(factories.square(120.0, 30.0, 0.005))
    cell.save()
    return cell


@pytest.fixture
def lamp(community, grid):  # type: ignore[no-untyped-def]
    facility, _created = facility_save(
        code="LD-0001",
        name="东门路灯",
        kind=FacilityKind.STREET_LIGHT,
        lat=30.002,
        lng=120.002,
        address="东门口",
    )
    return facility


# --- model and service ------------------------------------------------------------------------


def test_saving_a_facility_routes_its_point_to_community_and_grid_cell(community, grid):
    # given a point inside the community and its grid cell
    # when the facility is saved
    facility, created = facility_save(code="B-1", name="垃圾箱", kind="bin", lat=30.001, lng=120.001)
    # then it is placed by point-in-polygon and audited
    assert created and facility.community == community and facility.grid_cell == grid
    assert AuditEntry.objects.filter(action="facility.created", target_id=str(facility.pk)).exists()
    assert facility.category_code == "9003"


def test_a_point_outside_every_community_needs_a_community(community):
    with pytest.raises(Exception) as error:
        facility_save(code="X-1", name="井盖", kind="manhole", lat=10.0, lng=10.0)
    assert getattr(error.value, "code", "") == "invalid.facility_place"
    assert not Facility.objects.exists()


def test_a_point_in_another_community_than_named_is_refused(community, other_community):
    with pytest.raises(Exception) as error:
        facility_save(
            code="X-2", name="井盖", kind="manhole", lat=30.001, lng=120.001, community=other_community
        )
    assert getattr(error.value, "code", "") == "invalid.facility_place"


# --- CSV import -------------------------------------------------------------------------------


def test_csv_import_creates_then_updates_by_code(community, grid):
    # given a file of two facilities
    data = (
        CSV_HEADER
        + "LD-1,北门路灯,street_light,30.001,120.001,北门,,\n"
        + f"GC-1,北门公厕,Public toilet,30.003,120.003,北门,{community.code},yes\n"
    ).encode("utf-8-sig")
    # when it is imported twice
    first = facility_import_csv(data=data)
    second = facility_import_csv(data=data)
    # then the first creates, the second only updates the same rows
    assert (first.created, first.updated, first.errors) == (2, 0, [])
    assert (second.created, second.updated, second.errors) == (0, 2, [])
    assert Facility.objects.count() == 2
    assert Facility.objects.get(code="GC-1").kind == FacilityKind.PUBLIC_TOILET


def test_csv_import_with_a_bad_row_saves_nothing_and_names_each_bad_line(community):
    data = (
        CSV_HEADER
        + "OK-1,好路灯,street_light,30.001,120.001,,,\n"
        + "BAD-1,坏类型,rocket,30.001,120.001,,,\n"
        + "BAD-2,坏坐标,bin,north,120.001,,,\n"
        + "OK-1,重复,bin,30.001,120.001,,,\n"
        + "BAD-3,无社区,bin,30.001,120.001,,NOPE,\n"
    )
    result = facility_import_csv(data=data)
    assert not result.ok
    assert [line for line, _message in result.errors] == [3, 4, 5, 6]
    assert "rocket" in result.errors[0][1] and "north" in result.errors[1][1]
    assert "2" in result.errors[2][1] and "OK-1" in result.errors[2][1]  # the line it first appeared on
    assert "NOPE" in result.errors[3][1]
    assert not Facility.objects.exists()
    assert (result.created, result.updated) == (0, 0)


def test_csv_import_refuses_a_file_without_the_needed_columns():
    result = facility_import_csv(data="name,lat\nx,1\n")
    assert result.errors and result.errors[0][0] == 1 and "code" in result.errors[0][1]


def test_import_command_reports_errors_and_imports_good_files(community, tmp_path):
    from django.core.management import CommandError, call_command

    good = tmp_path / "good.csv"
    good.write_text(CSV_HEADER + "LD-9,路灯,street_light,30.001,120.001,,,\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV_HEADER + "LD-8,路灯,lamp,30.001,120.001,,,\n", encoding="utf-8")
    with pytest.raises(CommandError, match="第 2 行"):
        call_command("import_facilities", str(bad))
    call_command("import_facilities", str(good))
    assert list(Facility.objects.values_list("code", flat=True)) == ["LD-9"]


def test_admin_import_view_shows_row_errors(client, community):
    admin_user = factories.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    url = reverse("admin:communities_facility_import")
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("f.csv", (CSV_HEADER + "Z,z,zzz,30.001,120.001,,,\n").encode(), "text/csv")
    response = client.post(url, {"file": upload})
    assert response.status_code == 200
    assert "Line 2" in response.content.decode() or "第" in response.content.decode()
    assert not Facility.objects.exists()
    upload = SimpleUploadedFile("f.csv", (CSV_HEADER + "Z,z,bin,30.001,120.001,,,\n").encode(), "text/csv")
    response = client.post(url, {"file": upload})
    assert response.status_code == 302 and Facility.objects.filter(code="Z").exists()


# --- QR sheets (staff only) -------------------------------------------------------------------


def test_qr_sheet_anonymous_goes_to_sign_in(client, lamp):
    response = client.get(reverse("communities:qr_sheet", args=[lamp.community.code]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = client.get(reverse("communities:facility_qr_image", args=[lamp.code, "png"]))
    assert response.status_code == 302


def test_qr_sheet_out_of_scope_is_not_found(client, lamp):
    elsewhere = factories.DistrictFactory()
    client.force_login(factories.staff(Role.SUPERVISOR, scope=elsewhere))
    assert client.get(reverse("communities:qr_sheet", args=[lamp.community.code])).status_code == 404
    assert client.get(reverse("communities:facility_qr_sheet", args=[lamp.code])).status_code == 404
    assert client.get(reverse("communities:facility_qr_image", args=[lamp.code, "svg"])).status_code == 404


def test_qr_sheet_in_scope_lists_the_community_and_each_facility(client, lamp, django_assert_max_num_queries):
    facility_save(code="LJ-2", name="西门垃圾箱", kind="bin", lat=30.004, lng=120.004)
    client.force_login(factories.staff(Role.SUPERVISOR, scope=lamp.community.street.district))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("communities:qr_sheet", args=[lamp.community.code]))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('<li class="qr-label">') == 3  # the community's own code and two facilities
    assert "东门路灯" in page and "西门垃圾箱" in page and "qr.css" in page
    assert "facility=LD-0001" in page and "source=qr" in page


def test_qr_downloads(client, lamp):
    client.force_login(factories.staff(Role.LIAISON, scope=lamp.community))
    png = client.get(reverse("communities:facility_qr_image", args=[lamp.code, "png"]))
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG") and 'filename="qr-LD-0001.png"' in png["Content-Disposition"]
    svg = client.get(reverse("communities:qr_image", args=[lamp.community.code, "svg"]))
    assert svg.status_code == 200 and b"<svg" in svg.content
    assert client.get(reverse("communities:qr_image", args=[lamp.community.code, "gif"])).status_code == 404


def test_printable_stylesheet_is_a4():
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "static" / "css" / "qr.css").read_text()
    assert "size: A4" in css


# --- the pre-filled form and the case it files ------------------------------------------------


def test_scanning_a_facility_prefills_the_form(client, lamp):
    response = client.get(reverse("public:report"), {"facility": lamp.code, "source": "qr"})
    assert response.status_code == 200
    form = response.context["form"]
    street_light = Category.objects.get(code="9002")
    assert form.initial["facility"] == lamp.code
    assert form.initial["community"] == lamp.community_id
    assert (form.initial["lat"], form.initial["lng"]) == (lamp.lat, lamp.lng)
    assert form.initial["category"] == str(street_light.pk)
    assert form.initial["via"] == "qr"
    assert "东门路灯" in response.content.decode()


def test_an_unknown_or_retired_facility_prefills_nothing(client, lamp):
    Facility.objects.filter(pk=lamp.pk).update(is_active=False)
    response = client.get(reverse("public:report"), {"facility": lamp.code, "source": "qr"})
    assert "facility" not in response.context["form"].initial


def test_a_report_from_a_scan_carries_the_facility_and_the_qr_source(client, lamp):
    street_light = Category.objects.get(code="9002")
    response = client.post(
        reverse("public:report"),
        {
            "category": street_light.pk,
            "description": "路灯不亮了",
            "facility": lamp.code,
            "via": "qr",
            "consent": "on",
            "reporter_phone": "13900001111",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    case = Case.objects.get()
    assert case.source == CaseSource.QR_CODE and case.facility == lamp
    assert case.community == lamp.community and case.grid_cell == lamp.grid_cell
    assert (case.lat, case.lng) == (lamp.lat, lamp.lng)


def test_a_report_naming_a_retired_facility_is_refused_with_a_message(client, lamp):
    Facility.objects.filter(pk=lamp.pk).update(is_active=False)
    response = client.post(
        reverse("public:report"),
        {"category": "unsure", "description": "坏了", "facility": lamp.code, "via": "qr", "consent": "on"},
    )
    assert response.status_code == 400
    assert not Case.objects.exists()


# --- the public facility page -----------------------------------------------------------------


def test_facility_page_shows_cases_without_personal_data(client, lamp, django_assert_max_num_queries):
    open_case = factories.CaseFactory(
        facility=lamp, community=lamp.community, status=CaseStatus.DISPATCHED, reporter_name="李四隐私"
    )
    closed = factories.CaseFactory(
        facility=lamp, community=lamp.community, status=CaseStatus.CLOSED, closed_at=timezone.now()
    )
    false = factories.CaseFactory(
        facility=lamp, community=lamp.community, status=CaseStatus.CLOSED, false_report=True
    )
    with django_assert_max_num_queries(8):
        response = client.get(reverse("communities:facility_detail", args=[lamp.code]))
    page = response.content.decode()
    assert response.status_code == 200
    assert open_case.number in page and closed.number in page and false.number not in page
    assert "李四隐私" not in page and "13812341234" not in page and open_case.description not in page


def test_facility_page_flags_repeat_faults(client, lamp):
    for days_ago in (1, 20, 80):
        factories.CaseFactory(
            facility=lamp, community=lamp.community, reported_at=timezone.now() - timedelta(days=days_ago)
        )
    factories.CaseFactory(
        facility=lamp, community=lamp.community, reported_at=timezone.now() - timedelta(days=120)
    )
    response = client.get(reverse("communities:facility_detail", args=[lamp.code]))
    assert response.context["recent_count"] == 3 and response.context["is_repeat_fault"]
    assert 'id="repeat-fault"' in response.content.decode()


def test_facility_page_of_a_retired_facility_is_not_found(client, lamp):
    Facility.objects.filter(pk=lamp.pk).update(is_active=False)
    assert client.get(reverse("communities:facility_detail", args=[lamp.code])).status_code == 404
