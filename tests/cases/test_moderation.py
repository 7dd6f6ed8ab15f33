"""Moderation: staff correct a report's wording, category and place, and hide photos.

The case keeps the corrected version; the event keeps the original for
staff; public pages (tracking, Open311) show the corrected version and never
serve a hidden photo, not even by its old media URL.
"""

import io
import os
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from cases import services
from cases.choices import CaseAction, CaseStatus
from cases.models import Case, CaseAttachment, CaseEvent
from chengguan.errors import ActionNotPermitted, InvalidInput
from chengguan.models import AuditEntry
from chengguan.roles import Role
from tests.factories import CommunityFactory, DistrictFactory, StreetFactory, leaf_category, staff

pytestmark = pytest.mark.django_db


def png(name: str = "face.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 60)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def reported(make_case):  # type: ignore[no-untyped-def]
    return make_case(
        CaseStatus.REGISTERED, description="门口那个**摊贩天天占道，电话13812345678", photos=[png()]
    )


def act_url(case: Case, action: str) -> str:
    return reverse("desk:act", args=[case.number, action])


# --- wording ----------------------------------------------------------------------


def test_operator_corrects_the_wording_and_the_event_keeps_the_original(reported, operator):
    original = reported.description

    services.case_moderate_text(
        case=reported, actor=operator, description="门口摊贩天天占道经营", reason="删除不文明用语和电话"
    )

    case = Case.objects.get(pk=reported.pk)
    assert case.description == "门口摊贩天天占道经营"
    assert case.version == reported.version + 1
    event = CaseEvent.objects.get(case=case, action=CaseAction.TEXT_MODERATED)
    assert event.data["changes"]["description"] == [original, "门口摊贩天天占道经营"]
    assert event.note == "删除不文明用语和电话" and not event.is_public
    assert AuditEntry.objects.filter(action="case.text_moderated", target_id=str(case.pk)).exists()


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"description": "新的描述", "reason": ""}, "invalid.required"),
        ({"description": "   ", "reason": "更正"}, "invalid.required"),
        ({"description": "长" * 2001, "reason": "更正"}, "invalid.too_long"),
        ({"description": "SAME", "reason": "更正"}, "invalid.unchanged"),
    ],
)
def test_bad_corrections_change_nothing(reported, operator, kwargs, code):
    if kwargs["description"] == "SAME":
        kwargs["description"] = reported.description

    with pytest.raises(InvalidInput) as error:
        services.case_moderate_text(case=reported, actor=operator, **kwargs)

    assert error.value.code == code
    assert Case.objects.get(pk=reported.pk).description == reported.description
    assert not CaseEvent.objects.filter(case=reported, action=CaseAction.TEXT_MODERATED).exists()


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.LIAISON, Role.HANDLING_UNIT, Role.COMMUNITY_STAFF])
def test_other_roles_may_not_moderate(reported, district, community, unit, role):
    scope = {Role.LIAISON: community, Role.COMMUNITY_STAFF: community, Role.HANDLING_UNIT: unit}.get(
        role, district
    )

    with pytest.raises(ActionNotPermitted):
        services.case_moderate_text(
            case=reported, actor=staff(role, scope=scope), description="x", reason="y"
        )


def test_an_operator_of_another_district_may_not_moderate(reported):
    with pytest.raises(ActionNotPermitted):
        services.case_moderate_text(
            case=reported, actor=staff(Role.OPERATOR, scope=DistrictFactory()), description="x", reason="y"
        )


def test_tracking_page_shows_the_corrected_text_only(client, reported, operator):
    original = reported.description
    services.case_moderate_text(case=reported, actor=operator, description="门口摊贩占道经营", reason="隐私")

    page = client.get(reverse("public:track_detail", args=[reported.tracking_code])).content.decode()

    assert "门口摊贩占道经营" in page
    assert original not in page and "13812345678" not in page and "隐私" not in page


def test_staff_see_the_marker_and_the_original_in_the_timeline(client, reported, operator):
    original = reported.description
    services.case_moderate_text(case=reported, actor=operator, description="门口摊贩占道经营", reason="隐私")
    client.force_login(operator)

    page = client.get(reverse("cases:detail", args=[reported.number])).content.decode()

    assert 'class="edited-marker"' in page
    assert original.replace("*", "") in page.replace("*", "")
    assert "<del" in page


# --- category and place ---------------------------------------------------------------


def test_recategorise_corrects_category_community_and_address(reported, operator, other_community):
    old_category = str(reported.category)
    fumes = leaf_category("0401")

    services.case_recategorise(
        case=reported,
        actor=operator,
        reason="分类错误",
        category=fumes,
        community=other_community,
        address="幸福路1号",
    )

    case = Case.objects.get(pk=reported.pk)
    assert (case.category, case.community, case.address) == (fumes, other_community, "幸福路1号")
    assert case.district == other_community.street.district
    changes = CaseEvent.objects.get(case=case, action=CaseAction.RECATEGORISED).data["changes"]
    assert changes["category"] == [old_category, str(fumes)]
    assert set(changes) == {"category", "community", "address"}
    assert AuditEntry.objects.filter(action="case.recategorised", target_id=str(case.pk)).exists()


def test_recategorise_refuses_an_inactive_category_and_a_community_outside_scope(reported, operator):
    retired = leaf_category("0402")
    retired.is_active = False
    retired.save()
    outside: Any = CommunityFactory(street=StreetFactory(district=DistrictFactory()), origin=(122.0, 32.0))

    with pytest.raises(InvalidInput):
        services.case_recategorise(case=reported, actor=operator, reason="x", category=retired)
    with pytest.raises(InvalidInput) as error:
        services.case_recategorise(case=reported, actor=operator, reason="x", community=outside)

    assert error.value.code == "invalid.community"
    assert Case.objects.get(pk=reported.pk).community_id == reported.community_id


# --- photos ---------------------------------------------------------------------------


def test_hiding_a_photo_takes_it_off_public_pages_and_its_media_url(client, reported, operator):
    photo = CaseAttachment.objects.get(case=reported)
    assert os.path.exists(os.path.join(settings.MEDIA_ROOT, photo.file.name))

    services.case_attachment_hide(attachment=photo, actor=operator, reason="照片含可识别的人脸")

    photo.refresh_from_db()
    assert photo.is_hidden and photo.hidden_by == operator and photo.hidden_reason == "照片含可识别的人脸"
    # (the public copy is deleted on commit: see the transactional test below)
    event = CaseEvent.objects.get(case=reported, action=CaseAction.ATTACHMENT_HIDDEN)
    assert event.data["attachment"] == photo.pk and not event.is_public
    assert os.path.exists(os.path.join(settings.PRIVATE_MEDIA_ROOT, photo.file.name))
    page = client.get(reverse("public:track_detail", args=[reported.tracking_code])).content.decode()
    assert photo.file.name not in page


@pytest.mark.django_db(transaction=True)
def test_after_commit_the_old_media_file_is_gone(make_case, district):
    operator = staff(Role.OPERATOR, scope=district)
    case = make_case(CaseStatus.REGISTERED, photos=[png()])
    photo = CaseAttachment.objects.get(case=case)
    public_path = os.path.join(settings.MEDIA_ROOT, photo.file.name)

    services.case_attachment_hide(attachment=photo, actor=operator, reason="车牌")

    assert not os.path.exists(public_path)
    assert os.path.exists(os.path.join(settings.PRIVATE_MEDIA_ROOT, photo.file.name))


def test_staff_fetch_a_hidden_photo_through_the_gate_only(client, reported, operator):
    photo = CaseAttachment.objects.get(case=reported)
    services.case_attachment_hide(attachment=photo, actor=operator, reason="人脸")
    url = reverse("cases:photo", args=[reported.number, photo.pk])

    anonymous = client.get(url)
    client.force_login(staff(Role.OPERATOR, scope=DistrictFactory()))
    unscoped = client.get(url)
    client.force_login(operator)
    scoped = client.get(url)

    assert anonymous.status_code == 302 and "login" in anonymous.url
    assert unscoped.status_code == 404
    assert scoped.status_code == 200 and scoped["Cache-Control"] == "private, no-store"
    assert b"".join(scoped.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"


def test_open311_request_output_leaves_hidden_photos_out(client, reported, operator, settings):
    settings.OPEN311_PUBLIC_READS = True
    photo = CaseAttachment.objects.get(case=reported)
    services.case_attachment_hide(attachment=photo, actor=operator, reason="人脸")

    response = client.get(f"/open311/v2/requests/{reported.number}.json")

    assert response.status_code == 200
    assert photo.file.name.split("/")[-1] not in response.content.decode()


def test_a_photo_is_hidden_once(reported, operator):
    photo = CaseAttachment.objects.get(case=reported)
    services.case_attachment_hide(attachment=photo, actor=operator, reason="人脸")

    with pytest.raises(InvalidInput) as error:
        services.case_attachment_hide(attachment=photo, actor=operator, reason="人脸")

    assert error.value.code == "invalid.already_hidden"


def test_liaisons_may_not_hide_photos(reported, community):
    photo = CaseAttachment.objects.get(case=reported)

    with pytest.raises(ActionNotPermitted):
        services.case_attachment_hide(
            attachment=photo, actor=staff(Role.LIAISON, scope=community), reason="x"
        )

    assert not CaseAttachment.objects.get(pk=photo.pk).is_hidden


# --- desk ---------------------------------------------------------------------------


def test_moderation_actions_on_the_page(client, reported, operator):
    client.force_login(operator)
    photo = CaseAttachment.objects.get(case=reported)

    page = client.get(reverse("cases:detail", args=[reported.number])).content.decode()
    assert 'data-desk-action="moderate-text"' in page and 'data-desk-action="hide-photo"' in page
    hidden = client.post(
        act_url(reported, "hide-photo"),
        {"expected_version": reported.version, "attachment": photo.pk, "reason": "人脸"},
    )
    assert hidden.status_code == 302
    assert CaseAttachment.objects.get(pk=photo.pk).is_hidden
    page = client.get(reverse("cases:detail", args=[reported.number])).content.decode()
    assert 'data-desk-action="hide-photo"' not in page  # nothing left to hide
    assert reverse("cases:photo", args=[reported.number, photo.pk]) in page


def test_a_correction_without_reason_is_shown_again_with_the_error(client, reported, operator):
    client.force_login(operator)

    response = client.post(
        act_url(reported, "moderate-text"),
        {"expected_version": reported.version, "description": "新描述", "reason": ""},
    )

    assert response.status_code == 422
    assert Case.objects.get(pk=reported.pk).description == reported.description
