"""Resident pages: the complaint form, nearby reports and 我也遇到了, the confirmation,
tracking and rating, the community pages, and the abuse limits around them."""

import io
import json
import re
from html import escape
from pathlib import Path

import pytest
from captcha.models import CaptchaStore
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from PIL import Image

from cases import events, services
from cases.choices import AttachmentKind, CaseSource, CaseStatus, Satisfaction
from cases.models import Case, CaseAttachment, CaseFeedback, Category, CoReporter
from chengguan.roles import Role
from communities.models import GridCell
from liaisons.choices import AssignmentRole
from liaisons.services import liaison_assign
from tests.factories import CommunityFactory, StreetFactory, UserFactory, leaf_category, square, staff

pytestmark = pytest.mark.django_db

REPORT_URL = "/report/"
INSIDE = {"lat": "30.005", "lng": "120.005"}  # inside the `community` fixture's square


def zh(message: str, **params: object) -> str:
    """A message as a Chinese visitor sees it (translated once the catalogue has it)."""
    with translation.override("zh-hans"):
        text = gettext(message)
    return text % params if params else text


def shows(response, message: str) -> bool:  # type: ignore[no-untyped-def]
    return escape(message) in response.content.decode()


def png(name: str = "photo.png", size: tuple[int, int] = (40, 30)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def report_data(kind: Category | None = None, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "category": str((kind or leaf_category()).pk),
        "description": "小区东门有流动摊贩占道经营，早上七点到九点最严重",
        "address": "红星路12号东门",
        "reporter_name": "李四",
        "reporter_phone": "13900001111",
        "consent": "on",
        "idempotency_key": "5f0c2f0e-9a51-4c1e-9d7a-3f1e2b6c7d80",
        **INSIDE,
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def code_from(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 302, response.content.decode()[:2000]
    match = re.fullmatch(r"/report/done/([A-Z0-9]+)/", response.url)
    assert match, response.url
    return match.group(1)


@pytest.fixture(autouse=True)
def _generous_limits(settings):  # type: ignore[no-untyped-def]
    # Each test sets the limit it is about; the others must not trip over one.
    settings.PUBLIC_REPORT_RATE_PER_IP = "1000/h"
    settings.PUBLIC_REPORT_RATE_PER_PHONE = "1000/d"
    settings.PUBLIC_REPORT_CAPTCHA_AFTER = 1000


@pytest.fixture
def grid_cell(community):  # type: ignore[no-untyped-def]
    cell = GridCell(community=community, code="G-public-1", name="东门网格")
    cell.set_boundary(square(120.0, 30.0, 0.01))
    cell.save()
    return cell


# --- the form ------------------------------------------------------------------------------------


def test_the_form_renders_in_chinese_with_categories_map_and_consent(client, community):
    response = client.get(REPORT_URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="zh-hans">' in page
    assert "流动摊贩" in page and "占道经营" in page  # category names, from the data
    assert "照片" in page and "社区" in page  # labels from the catalogue
    assert shows(response, zh("Report a problem"))
    assert shows(response, zh("Not sure – let the operator decide"))
    assert 'name="consent"' in page and 'name="idempotency_key"' in page
    assert 'id="map"' in page and community.name in page
    assert 'name="csrfmiddlewaretoken"' in page
    key = re.search(r'name="idempotency_key" value="([0-9a-f-]{36})"', page)
    assert key, "a fresh idempotency key is generated on GET"


def test_the_form_references_nothing_on_another_host(client, community, settings):
    settings.MAP_TILE_URL = ""
    page = client.get(REPORT_URL).content.decode()

    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert urls
    off_host = [url for url in urls if re.match(r"^(?:[a-z]+:)?//", url)]
    assert off_host == []
    config = json.loads(
        re.search(r'<script id="report-config" type="application/json">(.*?)</script>', page).group(1)
    )
    assert config["tileUrl"] == ""
    assert all(
        url.startswith("/") for url in (config["areasUrl"], config["nearbyUrl"], config["coReportUrl"])
    )


def test_the_map_data_is_served_from_this_host(client, community):
    response = client.get(reverse("public:areas"))

    assert response.status_code == 200
    data = response.json()
    assert data["type"] == "FeatureCollection"
    (feature,) = data["features"]
    assert feature["properties"]["code"] == community.code
    assert feature["geometry"]["type"] == "Polygon"


def test_a_qr_link_prefills_community_and_category_and_marks_the_source(client, community):
    category = leaf_category("0203")
    response = client.get(f"{REPORT_URL}?source=qr&community={community.code}&category={category.code}")

    page = response.content.decode()
    assert re.search(rf'value="{category.pk}"\s+checked', page)
    assert re.search(rf'value="{community.pk}" data-code="{community.code}" selected', page)
    assert 'name="via" value="qr"' in page

    data = report_data(category, via="qr", lat=None, lng=None, community=str(community.pk))
    data["photos"] = png()  # 乱倒垃圾 needs a photo
    code = code_from(client.post(REPORT_URL, data))
    case = Case.objects.get(tracking_code=code)
    assert case.source == CaseSource.QR_CODE
    assert case.community == community


# --- a good report -----------------------------------------------------------------------------


def test_a_valid_report_creates_one_case_routed_to_its_community_and_grid_cell(client, community, grid_cell):
    response = client.post(REPORT_URL, {**report_data(), "photos": [png("a.png"), png("b.png")]})

    code = code_from(response)
    case = Case.objects.get()
    assert case.tracking_code == code
    assert case.source == CaseSource.WEB
    assert case.status == CaseStatus.REPORTED
    assert case.community == community
    assert case.grid_cell == grid_cell
    assert case.district == community.street.district
    assert (case.lat, case.lng) == (30.005, 120.005)
    assert case.reporter_phone == "13900001111"
    assert case.attachments.filter(kind=AttachmentKind.BEFORE).count() == 2

    done = client.get(response.url)
    assert done.status_code == 200
    assert code in done.content.decode()
    assert case.number in done.content.decode()
    assert reverse("public:track_detail", args=[code]) in done.content.decode()


def test_the_confirmation_is_only_for_the_browser_that_filed_the_report(client, community):
    url = client.post(REPORT_URL, report_data()).url

    from django.test import Client

    assert Client().get(url).status_code == 404


def test_phone_numbers_are_stored_without_spaces_so_tracking_matches(client, community):
    code_from(client.post(REPORT_URL, report_data(reporter_phone="139 0000-1111")))

    assert Case.objects.get().reporter_phone == "13900001111"


def test_a_report_without_category_lets_the_operator_classify(client, community):
    code_from(client.post(REPORT_URL, report_data(category="unsure")))

    assert Case.objects.get().category is None


# --- bad input: a clear message, no 500, nothing lost -----------------------------------------


def test_missing_description_gets_a_chinese_message_and_keeps_the_input(client, community):
    response = client.post(REPORT_URL, report_data(description="   "))

    assert response.status_code == 400
    page = response.content.decode()
    assert "请填写描述。" in page
    assert "红星路12号东门" in page and "13900001111" in page and "李四" in page
    assert Case.objects.count() == 0


def test_a_missing_category_and_consent_are_asked_for(client, community):
    response = client.post(REPORT_URL, report_data(category=None, consent=None))

    assert response.status_code == 400
    assert shows(response, zh("Choose what kind of problem it is, or “Not sure”."))
    assert shows(response, zh("Please agree to the privacy notice so that we can handle your report."))
    assert Case.objects.count() == 0


def test_a_report_needs_some_place(client, community):
    response = client.post(REPORT_URL, report_data(lat=None, lng=None, address=""))

    assert response.status_code == 400
    assert shows(
        response,
        zh("Tell us where the problem is: put a pin on the map, type an address or choose a community."),
    )


def test_a_bad_phone_number_is_refused_in_chinese(client, community):
    response = client.post(REPORT_URL, report_data(reporter_phone="call me"))

    assert response.status_code == 400
    assert "请输入有效的电话号码。" in response.content.decode()


class _Chain(io.RawIOBase):
    """A readable stream over several files, so a huge upload never sits in memory."""

    def __init__(self, *parts: io.IOBase) -> None:
        self._parts = list(parts)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        while self._parts:
            chunk = self._parts[0].read(len(buffer))
            if chunk:
                buffer[: len(chunk)] = chunk
                return len(chunk)
            self._parts.pop(0).close()
        return 0


def test_a_30_mb_photo_is_refused_in_chinese_and_the_rest_is_kept(client, community, tmp_path: Path):
    # A sparse file: 30 MB on paper, no memory or disk spent on it.
    big = tmp_path / "big.jpg"
    with big.open("wb") as handle:
        handle.truncate(30 * 1024 * 1024)
    closing = f"--{BOUNDARY}--\r\n".encode()
    fields = encode_multipart(BOUNDARY, report_data())
    assert fields.endswith(closing)
    head = (
        fields[: -len(closing)]
        + (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="photos"; filename="big.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
    )
    tail = b"\r\n" + closing
    length = len(head) + big.stat().st_size + len(tail)
    stream = io.BufferedReader(_Chain(io.BytesIO(head), big.open("rb"), io.BytesIO(tail)))

    response = client.request(
        REQUEST_METHOD="POST",
        PATH_INFO=REPORT_URL,
        CONTENT_TYPE=MULTIPART_CONTENT,
        CONTENT_LENGTH=str(length),
        **{"wsgi.input": stream},
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "照片 big.jpg 超过 10 MB。" in page
    assert "红星路12号东门" in page and "小区东门有流动摊贩占道经营" in page
    assert Case.objects.count() == 0
    assert CaseAttachment.objects.count() == 0


def test_a_pdf_renamed_jpg_is_refused_in_chinese(client, community):
    fake = SimpleUploadedFile("receipt.jpg", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n%%EOF", "image/jpeg")

    response = client.post(REPORT_URL, {**report_data(), "photos": [png(), fake]})

    assert response.status_code == 400
    assert "receipt.jpg 不是 JPEG、PNG 或 WebP 格式的照片。" in response.content.decode()
    assert Case.objects.count() == 0
    assert CaseAttachment.objects.count() == 0


def test_more_than_six_photos_are_refused(client, community):
    response = client.post(REPORT_URL, {**report_data(), "photos": [png(f"{n}.png") for n in range(7)]})

    assert response.status_code == 400
    assert "一次最多上传 6 张照片。" in response.content.decode()
    assert Case.objects.count() == 0


def test_a_pin_outside_every_community_is_accepted_for_the_operator_to_place(client, community):
    # Decision: never lose such a report. It is filed without a community and
    # the operator places it at intake (the form says so next to the map).
    code = code_from(client.post(REPORT_URL, report_data(lat="31.5", lng="121.5")))

    case = Case.objects.get(tracking_code=code)
    assert case.community is None and case.grid_cell is None
    assert (case.lat, case.lng) == (31.5, 121.5)
    assert case.status == CaseStatus.REPORTED


def test_a_pin_outside_with_a_chosen_community_keeps_the_residents_choice(client, community, other_community):
    code_from(
        client.post(REPORT_URL, report_data(lat="31.5", lng="121.5", community=str(other_community.pk)))
    )

    assert Case.objects.get().community == other_community


def test_script_tags_are_shown_escaped_on_tracking_and_staff_pages(client, community, superuser):
    payload = "<script>alert('x')</script>"
    code = code_from(
        client.post(
            REPORT_URL, report_data(description=f"摊贩 {payload}", address=payload, reporter_name=payload)
        )
    )
    case = Case.objects.get(tracking_code=code)

    tracking = client.get(reverse("public:track_detail", args=[code])).content.decode()
    client.force_login(superuser)
    staff_page = client.get(reverse("cases:detail", args=[case.number])).content.decode()

    for page in (tracking, staff_page):
        assert payload not in page
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_a_replayed_post_with_the_same_key_files_one_case(client, community):
    from django.test import Client

    first = client.post(REPORT_URL, report_data())
    double_click = client.post(REPORT_URL, report_data())
    replay_elsewhere = Client().post(REPORT_URL, report_data())

    assert Case.objects.count() == 1
    assert first.url == double_click.url == replay_elsewhere.url


def test_a_form_without_a_usable_key_still_files_its_report(client, community):
    code_from(client.post(REPORT_URL, report_data(idempotency_key="not-a-uuid")))

    assert Case.objects.count() == 1


# --- per-category rules --------------------------------------------------------------------------


def test_a_category_closed_to_public_reports_refuses_with_its_message(client, community):
    category = leaf_category("0105")
    category.public_reporting_closed = True
    category.closed_message = "无照经营请拨打 12315 向市场监管部门反映。"
    category.save()

    response = client.post(REPORT_URL, report_data(category))

    assert response.status_code == 400
    assert "无照经营请拨打 12315 向市场监管部门反映。" in response.content.decode()
    assert Case.objects.count() == 0


def test_photo_and_phone_rules_are_enforced_on_the_server(client, community):
    category = leaf_category("0301")  # 违法建设
    Category.objects.filter(pk=category.pk).update(photo_required=True, contact_required=True)

    response = client.post(REPORT_URL, report_data(category, reporter_phone=""))

    assert response.status_code == 400
    assert shows(response, zh("For this kind of problem please add at least one photo."))
    assert shows(
        response, zh("For this kind of problem please leave a phone number so that we can reach you.")
    )

    code_from(client.post(REPORT_URL, {**report_data(category), "photos": png()}))


def test_anonymity_is_ignored_where_the_category_does_not_allow_it(client, community):
    category = leaf_category("0601")  # 物业管理
    Category.objects.filter(pk=category.pk).update(anonymous_allowed=False)
    code_from(client.post(REPORT_URL, report_data(category, is_anonymous="on")))
    assert Case.objects.get().is_anonymous is False

    code_from(
        client.post(
            REPORT_URL, report_data(is_anonymous="on", idempotency_key="6f0c2f0e-9a51-4c1e-9d7a-3f1e2b6c7d81")
        )
    )
    assert Case.objects.filter(is_anonymous=True).count() == 1


def test_the_chosen_categorys_notice_and_hint_are_shown(client, community):
    category = leaf_category("0104")
    Category.objects.filter(pk=category.pk).update(
        notice="机动车违法停车请拨打 122。", description_hint="请说明车牌号和停放位置。"
    )

    page = client.get(f"{REPORT_URL}?category={category.code}").content.decode()

    assert "机动车违法停车请拨打 122。" in page
    assert 'placeholder="请说明车牌号和停放位置。"' in page


def test_a_subcategory_without_its_own_notice_shows_its_parents(client, community):
    category = leaf_category("0402")
    Category.objects.filter(pk=category.pk).update(notice="", description_hint="")
    Category.objects.filter(pk=category.parent_id).update(notice="环境污染类问题由城管与环保部门联合处理。")

    page = client.get(f"{REPORT_URL}?category={category.code}").content.decode()

    assert "环境污染类问题由城管与环保部门联合处理。" in page
    config = json.loads(
        re.search(r'<script id="report-config" type="application/json">(.*?)</script>', page).group(1)
    )
    assert config["categories"][str(category.pk)]["notice"] == "环境污染类问题由城管与环保部门联合处理。"


# --- abuse limits --------------------------------------------------------------------------------


def test_too_many_reports_from_one_address_get_a_429_with_a_message(client, community, settings):
    settings.PUBLIC_REPORT_RATE_PER_IP = "2/h"
    keys = [f"7f0c2f0e-9a51-4c1e-9d7a-3f1e2b6c7d8{n}" for n in range(3)]

    assert client.post(REPORT_URL, report_data(idempotency_key=keys[0])).status_code == 302
    assert client.post(REPORT_URL, report_data(idempotency_key=keys[1])).status_code == 302
    response = client.post(REPORT_URL, report_data(idempotency_key=keys[2], address="别丢了我的地址"))

    assert response.status_code == 429
    assert shows(
        response,
        zh(
            "You have sent many reports in a short time. Please wait a while and try again, "
            "or call 12345 or 12319 to report the problem."
        ),
    )
    assert "别丢了我的地址" in response.content.decode()
    assert Case.objects.count() == 2


def test_too_many_reports_with_one_phone_number_get_a_429(client, community, settings):
    from django.test import Client

    settings.PUBLIC_REPORT_RATE_PER_PHONE = "1/d"
    first = Client(REMOTE_ADDR="10.0.0.1").post(REPORT_URL, report_data())
    second = Client(REMOTE_ADDR="10.0.0.2").post(
        REPORT_URL, report_data(idempotency_key="8f0c2f0e-9a51-4c1e-9d7a-3f1e2b6c7d80")
    )

    assert first.status_code == 302
    assert second.status_code == 429
    assert Case.objects.count() == 1


def test_a_captcha_is_asked_for_after_the_threshold(client, community, settings):
    settings.PUBLIC_REPORT_CAPTCHA_AFTER = 2
    assert "captcha" not in client.get(REPORT_URL).content.decode()
    for n in range(2):
        code_from(
            client.post(REPORT_URL, report_data(idempotency_key=f"9f0c2f0e-9a51-4c1e-9d7a-3f1e2b6c7d8{n}"))
        )

    page = client.get(REPORT_URL).content.decode()
    assert "/captcha/image/" in page
    hashkey = re.search(r'name="captcha_0" value="([0-9a-f]+)"', page).group(1)

    third = report_data(idempotency_key="9f0c2f0e-9a51-4c1e-9d7a-3f1e2b6c7d89")
    refused = client.post(REPORT_URL, {**third, "captcha_0": hashkey, "captcha_1": "wrong"})
    assert refused.status_code == 400
    assert shows(refused, zh("The characters do not match the picture. Please try again."))
    assert Case.objects.count() == 2

    page = refused.content.decode()
    hashkey = re.search(r'name="captcha_0" value="([0-9a-f]+)"', page).group(1)
    answer = CaptchaStore.objects.get(hashkey=hashkey).response
    code_from(client.post(REPORT_URL, {**third, "captcha_0": hashkey, "captcha_1": answer}))
    assert Case.objects.count() == 3


def test_the_captcha_image_is_served_by_this_site(client, community):
    hashkey = CaptchaStore.generate_key()

    response = client.get(reverse("captcha-image", args=[hashkey]))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"


# --- nearby reports and 我也遇到了 ---------------------------------------------------------------


@pytest.fixture
def open_case(make_case):  # type: ignore[no-untyped-def]
    return make_case(
        CaseStatus.REGISTERED,
        description="小区北门有流动摊贩，联系人王五 13812345678，身份证 110101199003071234，每天早上都在",
        reporter_name="王五",
        reporter_phone="13812345678",
    )


def nearby(client, category: Category, lat: float = 30.0051, lng: float = 120.0051):  # type: ignore[no-untyped-def]
    return client.get(reverse("public:nearby"), {"category": category.pk, "lat": lat, "lng": lng})


def test_nearby_lists_open_reports_of_the_category_without_reporter_data(client, open_case):
    response = nearby(client, open_case.category)

    assert response.status_code == 200
    (item,) = response.json()["results"]
    assert item["number"] == open_case.number
    assert item["status"] == "registered"
    assert item["statusLabel"] == zh("Accepted")
    assert 0 <= item["distance"] <= 200
    assert item["reportedOn"] == timezone.localtime(open_case.reported_at).date().isoformat()
    assert len(item["excerpt"]) <= 60
    assert item["excerpt"].startswith("小区北门有流动摊贩")
    raw = response.content.decode()
    for secret in ("13812345678", "110101199003071234", open_case.tracking_code, "reporter"):
        assert secret not in raw
    assert "138****5678" in raw
    assert set(item) == {
        "id",
        "number",
        "excerpt",
        "status",
        "statusLabel",
        "distance",
        "reportedOn",
        "reports",
    }


def test_nearby_leaves_out_other_categories_far_cases_and_closed_ones(client, open_case, make_case):
    make_case(CaseStatus.CLOSED)  # same category and place, but closed
    make_case(category=leaf_category("0203"))  # another category

    assert nearby(client, leaf_category("0203"), lat=30.02, lng=120.02).json()["results"] == []
    numbers = [item["number"] for item in nearby(client, open_case.category).json()["results"]]
    assert numbers == [open_case.number]


def test_nearby_with_bad_parameters_answers_400_json(client, community):
    response = client.get(reverse("public:nearby"), {"category": "x", "lat": "north"})

    assert response.status_code == 400
    assert response.json()["results"] == []


def test_me_too_adds_a_co_reporter_who_gets_the_number_but_not_the_tracking_code(client, open_case):
    token = nearby(client, open_case.category).json()["results"][0]["id"]
    data = {
        "case": token,
        "reporter_name": "赵六",
        "reporter_phone": "13700002222",
        "idempotency_key": "1e0c2f0e-9a51-4c1e-9d7a-3f1e2b6c7d80",
    }

    response = client.post(reverse("public:co_report"), data)
    replay = client.post(reverse("public:co_report"), data)

    assert response.status_code == 200 and replay.status_code == 200
    body = response.json()
    assert body["number"] == open_case.number
    assert open_case.tracking_code not in response.content.decode()
    assert body["message"] == zh(
        "Thank you. You have been added to report %(number)s. We will text you when it is "
        "accepted and when it is closed.",
        number=open_case.number,
    )
    co_reporter = CoReporter.objects.get()
    assert (co_reporter.case, co_reporter.phone) == (open_case, "13700002222")
    open_case.refresh_from_db()
    assert open_case.report_count == 2


def test_me_too_refuses_a_second_time_and_a_forged_token(client, open_case):
    token = nearby(client, open_case.category).json()["results"][0]["id"]
    client.post(reverse("public:co_report"), {"case": token, "reporter_phone": "13700002222"})

    again = client.post(reverse("public:co_report"), {"case": token, "reporter_phone": "137 0000 2222"})
    forged = client.post(reverse("public:co_report"), {"case": f"{open_case.pk}:forged"})

    assert again.status_code == 400
    assert again.json()["error"] == zh("You have already reported this problem.")
    assert forged.status_code == 400
    assert forged.json()["error"] == zh("This list is out of date. Please look for nearby reports again.")
    assert CoReporter.objects.count() == 1


# --- tracking --------------------------------------------------------------------------------------


def track_url(case: Case) -> str:
    return reverse("public:track_detail", args=[case.tracking_code])


def test_tracking_shows_public_events_only_and_no_reporter(client, make_case, superuser):
    case = make_case(CaseStatus.IN_PROGRESS, reporter_name="王五", reporter_phone="13812345678")
    events.note_added(case, actor=superuser, note="内部备注：不要告诉居民")
    services.case_escalate(case=case, actor=superuser, note="督办：请加快")
    (hidden,) = services.case_add_photos(
        case=case, actor=superuser, photos=[png()], kind=AttachmentKind.BEFORE
    )
    CaseAttachment.objects.filter(pk=hidden.pk).update(is_hidden=True)

    response = client.get(track_url(case))

    assert response.status_code == 200
    page = response.content.decode()
    assert "内部备注" not in page and "督办：请加快" not in page
    assert "王五" not in page and "13812345678" not in page and "138****5678" not in page
    assert hidden.file.name not in page
    for label in ("Report received", "Accepted as a case", "Passed on to be fixed", "Work started"):
        assert shows(response, zh(label))
    assert shows(response, zh("The problem is being dealt with."))
    assert case.number in page


def test_tracking_shows_the_liaison_deadline_and_result_photos(client, make_case, community, superuser):
    liaison = staff(Role.LIAISON)
    liaison.name = "陈联络"
    liaison.save()
    liaison_assign(community=community, liaison=liaison, actor=superuser)
    case = make_case(CaseStatus.IN_PROGRESS)
    services.case_submit_result(case=case, actor=superuser, result="已清理完毕", photos=[png("after.png")])

    page = client.get(track_url(case)).content.decode()

    assert "陈联络" in page
    assert "已清理完毕" in page
    assert Case.objects.get(pk=case.pk).attachments.get(kind=AttachmentKind.AFTER).file.url in page


def test_a_public_note_on_a_rejection_is_shown(client, make_case):
    case = make_case(CaseStatus.REJECTED)

    page = client.get(track_url(case)).content.decode()

    assert "不属于城管职责" in page  # the reject note, public by design


def test_an_unknown_code_gets_a_friendly_404_in_chinese(client, community):
    response = client.get("/track/ZZZZZZZZ/")

    assert response.status_code == 404
    assert shows(response, zh("We could not find this report"))
    assert 'name="code"' in response.content.decode()


def test_the_lookup_form_finds_a_case_by_code_and_checks_the_phone(client, make_case):
    case = make_case(reporter_phone="13812345678")
    url = reverse("public:track")

    assert client.get(url).status_code == 200
    found = client.post(url, {"code": case.tracking_code.lower()})
    wrong_phone = client.post(url, {"code": case.tracking_code, "phone": "13800000000"})
    with_phone = client.post(url, {"code": case.tracking_code, "phone": "138-1234-5678"})

    assert found.status_code == 302 and found.url == track_url(case)
    assert wrong_phone.status_code == 400
    assert shows(wrong_phone, zh("This phone number was not used to report this case."))
    assert with_phone.status_code == 302


def test_tracking_lookups_that_miss_are_rate_limited_per_address(client, community, settings):
    settings.PUBLIC_TRACK_MISSES_PER_IP = "2/h"

    assert client.get("/track/AAAAAAAA/").status_code == 404
    assert client.get("/track/BBBBBBBB/").status_code == 404
    assert client.get("/track/CCCCCCCC/").status_code == 429


# --- rating ------------------------------------------------------------------------------------------


def rate(client, case: Case, **data: str):  # type: ignore[no-untyped-def]
    return client.post(reverse("public:rate", args=[case.tracking_code]), data)


def test_a_closed_case_can_be_rated_once_with_the_reporters_phone(client, make_case):
    case = make_case(CaseStatus.CLOSED, reporter_phone="13812345678")
    page = client.get(track_url(case))
    assert shows(page, zh("Are you satisfied with the result?"))
    assert 'name="phone"' in page.content.decode()

    wrong = rate(client, case, satisfaction=Satisfaction.SATISFIED, phone="13800000000")
    assert wrong.status_code == 400
    assert shows(wrong, zh("This phone number was not used to report this case."))
    assert not CaseFeedback.objects.exists()

    right = rate(client, case, satisfaction=Satisfaction.BASICALLY, comment="处理及时", phone="13812345678")
    assert right.status_code == 302
    feedback = CaseFeedback.objects.get()
    assert (feedback.case, feedback.satisfaction, feedback.comment) == (case, "basically", "处理及时")

    again = rate(client, case, satisfaction=Satisfaction.UNSATISFIED, phone="13812345678")
    assert again.status_code == 302
    assert CaseFeedback.objects.get().satisfaction == "basically"
    page = client.get(track_url(case))
    assert shows(page, zh("Your rating"))
    assert shows(page, zh("Basically satisfied"))
    assert "处理及时" in page.content.decode()
    assert 'name="satisfaction"' not in page.content.decode()


def test_the_reporting_account_rates_without_a_phone(client, make_case):
    resident = UserFactory(username="resident")
    case = make_case(CaseStatus.CLOSED, reporter_phone="")
    Case.objects.filter(pk=case.pk).update(reporter=resident)
    client.force_login(resident)

    assert 'name="phone"' not in client.get(track_url(case)).content.decode()
    assert rate(client, case, satisfaction=Satisfaction.SATISFIED).status_code == 302
    assert CaseFeedback.objects.get().satisfaction == "satisfied"


def test_an_open_case_cannot_be_rated(client, make_case):
    case = make_case(CaseStatus.IN_PROGRESS, reporter_phone="13812345678")

    assert 'name="satisfaction"' not in client.get(track_url(case)).content.decode()
    assert rate(client, case, satisfaction="satisfied", phone="13812345678").status_code == 302
    assert not CaseFeedback.objects.exists()


def test_the_browser_that_filed_the_report_rates_it_without_typing_the_phone(
    client, community, superuser, unit
):
    code = code_from(client.post(REPORT_URL, report_data()))
    case = Case.objects.get(tracking_code=code)
    services.case_register(case=case, actor=superuser)
    services.case_dispatch(case=case, actor=superuser, handling_unit=unit)
    services.case_sign_for(case=case, actor=superuser)
    services.case_submit_result(case=case, actor=superuser, result="摊贩已劝离")
    services.case_verify(case=case, actor=superuser, passed=True)

    assert 'name="phone"' not in client.get(track_url(case)).content.decode()
    assert rate(client, case, satisfaction="satisfied").status_code == 302
    assert CaseFeedback.objects.count() == 1


# --- community pages ----------------------------------------------------------------------------------


def test_the_community_page_shows_liaisons_and_the_last_30_days(
    client, community, other_community, make_case, superuser
):
    liaison = staff(Role.LIAISON)
    liaison.name, liaison.phone = "陈联络", "0571-88880001"
    liaison.save()
    backup = staff(Role.LIAISON)
    backup.name = "周备岗"
    backup.save()
    liaison_assign(community=community, liaison=liaison, actor=superuser, duties="每周巡查两次")
    liaison_assign(community=community, liaison=backup, actor=superuser, role=AssignmentRole.BACKUP)
    make_case(CaseStatus.REGISTERED)
    make_case(CaseStatus.IN_PROGRESS)
    rated = make_case(CaseStatus.CLOSED)
    make_case(CaseStatus.CLOSED)
    services.case_rate(case=rated, satisfaction=Satisfaction.SATISFIED)

    response = client.get(reverse("communities:detail", args=[community.code]))

    assert response.status_code == 200
    stats = response.context["stats"]
    assert (stats["open"], stats["closed"], stats["rated"]) == (2, 2, 1)
    page = response.content.decode()
    assert "陈联络" in page and "0571-88880001" in page and "每周巡查两次" in page
    assert "周备岗" in page
    assert "100%" in page  # both closed on time, the one rating satisfied
    assert f"{reverse('public:report')}?community={community.code}" in page


def test_the_community_list_groups_communities_by_street(client, district):
    street = StreetFactory(district=district, name="红星街道")
    first = CommunityFactory(street=street, name="东苑社区", origin=(120.1, 30.1))
    second = CommunityFactory(street=street, name="西苑社区", origin=(120.2, 30.1))

    response = client.get(reverse("communities:list"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "红星街道" in page
    assert reverse("communities:detail", args=[first.code]) in page
    assert reverse("communities:detail", args=[second.code]) in page


def test_an_unknown_community_is_404(client, community):
    assert client.get(reverse("communities:detail", args=["nope"])).status_code == 404
