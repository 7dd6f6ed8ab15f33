"""The admin: every changelist loads, history stays read-only, boundaries are validated."""

import json

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.choices import CaseStatus
from cases.models import Case, CaseEvent
from chengguan.audit import audit
from chengguan.models import CalendarOverride, User
from chengguan.roles import Role
from communities.models import Community
from liaisons.models import LiaisonAssignment
from tests.factories import CaseFactory, GridCellFactory, square, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):  # type: ignore[no-untyped-def]
    return User.objects.create_superuser("root", password="pass-1234-word")


@pytest.fixture
def admin_client(client, superuser):  # type: ignore[no-untyped-def]
    client.force_login(superuser)
    return client


@pytest.fixture
def some_of_everything(community, unit, superuser):  # type: ignore[no-untyped-def]
    from cases import events

    GridCellFactory(community=community)
    case = CaseFactory(community=community, handling_unit=unit, status=CaseStatus.DISPATCHED)
    events.reported(case, actor=None)
    liaison = staff(Role.LIAISON, scope=community)
    LiaisonAssignment.objects.create(community=community, liaison=liaison, starts_at=timezone.now())
    CalendarOverride.objects.create(date=timezone.localdate(), is_workday=False, note="调休")
    audit(actor=superuser, action="user.created", target=liaison)
    return case


def changelist_urls() -> list[str]:
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]


def test_every_changelist_loads_for_a_superuser(admin_client, some_of_everything):
    for url in changelist_urls():
        response = admin_client.get(url)
        assert response.status_code == 200, url


def test_every_change_page_loads(admin_client, some_of_everything):
    for model in admin.site._registry:
        obj = model._default_manager.first()
        if obj is None:
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
        assert admin_client.get(url).status_code == 200, url


def test_object_permission_pages_load(admin_client, some_of_everything, community, unit):
    for obj in (community.street.district, community, unit):
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_permissions", args=[obj.pk])
        assert admin_client.get(url).status_code == 200, url


def test_case_changelist_does_not_grow_queries_with_rows(
    admin_client, some_of_everything, django_assert_max_num_queries
):
    url = reverse("admin:cases_case_changelist")
    admin_client.get(url)
    with CaptureQueriesContext(connection) as one_case:
        admin_client.get(url)
    case = some_of_everything
    CaseFactory.create_batch(10, community=case.community, handling_unit=case.handling_unit)

    with django_assert_max_num_queries(len(one_case)):
        admin_client.get(url)


# --- cases are read-only --------------------------------------------------------


def test_case_admin_shows_but_refuses_changes(admin_client, some_of_everything):
    case = some_of_everything
    change_url = reverse("admin:cases_case_change", args=[case.pk])

    page = admin_client.get(change_url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.post(change_url, {"description": "改掉"}).status_code == 403
    assert admin_client.get(reverse("admin:cases_case_delete", args=[case.pk])).status_code == 403
    assert (
        admin_client.post(reverse("admin:cases_case_delete", args=[case.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert admin_client.get(reverse("admin:cases_case_add")).status_code == 403
    case.refresh_from_db()
    assert case.description != "改掉"
    assert Case.objects.filter(pk=case.pk).exists()


def test_case_admin_has_no_bulk_delete(admin_client, some_of_everything):
    response = admin_client.get(reverse("admin:cases_case_changelist"))

    assert "delete_selected" not in response.content.decode()


def test_case_events_are_read_only_inlines(admin_client, rf, superuser, some_of_everything):
    case = some_of_everything
    request = rf.get("/")
    request.user = superuser
    event_inline = next(
        i for i in admin.site._registry[Case].get_inline_instances(request, case) if i.model is CaseEvent
    )

    assert not event_inline.has_add_permission(request, case)
    assert not event_inline.has_change_permission(request, case)
    assert not event_inline.has_delete_permission(request, case)
    html = admin_client.get(reverse("admin:cases_case_change", args=[case.pk])).content.decode()
    assert "已上报" in html  # the report event is listed
    assert 'name="events-0-note"' not in html  # but not as a form


def test_case_admin_masks_reporter_for_staff_without_contact_permission(client, some_of_everything, unit):
    viewer = staff(Role.HANDLING_UNIT, scope=unit)
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)

    html = client.get(reverse("admin:cases_case_change", args=[some_of_everything.pk])).content.decode()

    assert "138****1234" in html
    assert "13812341234" not in html


def test_audit_entries_and_liaison_history_are_read_only(admin_client, some_of_everything):
    for name in ("chengguan_auditentry", "liaisons_liaisonassignment"):
        assert admin_client.get(reverse(f"admin:{name}_add")).status_code == 403


# --- boundaries -----------------------------------------------------------------


def community_form_data(community, boundary: str) -> dict:  # type: ignore[no-untyped-def]
    return {
        "code": community.code,
        "name": community.name,
        "street": community.street_id,
        "kind": community.kind,
        "address": "",
        "phone": "",
        "is_active": "on",
        "boundary_geojson": boundary,
    }


def test_a_valid_boundary_sets_centre_and_bounding_box(admin_client, community):
    url = reverse("admin:communities_community_change", args=[community.pk])

    response = admin_client.post(url, community_form_data(community, json.dumps(square(121.0, 31.0, 0.02))))

    assert response.status_code == 302
    community.refresh_from_db()
    assert community.centroid_lat == pytest.approx(31.01)
    assert community.centroid_lng == pytest.approx(121.01)
    assert (community.min_lat, community.max_lng) == (pytest.approx(31.0), pytest.approx(121.02))


def test_a_self_intersecting_boundary_is_a_form_error(admin_client, community):
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[120, 30], [120.01, 30.01], [120.01, 30], [120, 30.01], [120, 30]]],
    }
    url = reverse("admin:communities_community_change", args=[community.pk])
    before = Community.objects.get(pk=community.pk).boundary

    response = admin_client.post(url, community_form_data(community, json.dumps(bowtie)))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "边界多边形为空或自相交。" in errors["boundary_geojson"]
    assert Community.objects.get(pk=community.pk).boundary == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type": "Polygon", ', "边界不是有效的 JSON"),
        ('{"type": "Point", "coordinates": [120, 30]}', "边界必须是 GeoJSON 的 Polygon 或 MultiPolygon。"),
        (json.dumps(square(200.0, 30.0, 1)), "边界不是 WGS-84 经纬度坐标。"),
    ],
)
def test_bad_boundaries_are_form_errors(admin_client, community, text, message):
    url = reverse("admin:communities_community_change", args=[community.pk])

    response = admin_client.post(url, community_form_data(community, text))

    assert response.status_code == 200
    assert any(message in e for e in response.context["adminform"].form.errors["boundary_geojson"])


def test_an_empty_boundary_clears_it(admin_client, community):
    url = reverse("admin:communities_community_change", args=[community.pk])

    response = admin_client.post(url, community_form_data(community, ""))

    assert response.status_code == 302
    community.refresh_from_db()
    assert community.boundary is None
    assert community.min_lat is None


def test_only_superusers_grant_superuser_status(client, superuser):
    admin_user = staff(Role.ADMIN, scope="city")
    admin_user.is_staff = True
    admin_user.save()
    client.force_login(admin_user)
    target = staff(Role.OPERATOR)
    url = reverse("admin:chengguan_user_change", args=[target.pk])

    form = client.get(url).context["adminform"].form

    assert "is_superuser" not in form.fields
    assert "user_permissions" not in form.fields
    assert "groups" in form.fields


def test_admin_role_sees_case_history_without_event_model_permissions(client, some_of_everything):
    admin_user = staff(Role.ADMIN, scope="city")
    admin_user.is_staff = True
    admin_user.save()
    client.force_login(admin_user)

    response = client.get(reverse("admin:cases_case_change", args=[some_of_everything.pk]))

    assert response.status_code == 200
    inline_models = [formset.opts.model for formset in response.context["inline_admin_formsets"]]
    assert CaseEvent in inline_models
    assert (
        client.post(reverse("admin:cases_case_change", args=[some_of_everything.pk]), {}).status_code == 403
    )
