"""门前三包 reference data in the admin: units, agreements and the checklist load for
administrators, are refused to other roles, are scoped, validated and audited."""

from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from chengguan.models import AuditEntry, User
from chengguan.roles import Role
from inspections.choices import ChecklistGroup, UnitKind
from inspections.models import Agreement, ChecklistItem, ResponsibilityUnit
from tests.factories import CommunityFactory, DistrictFactory, StreetFactory, staff

pytestmark = pytest.mark.django_db

MODELS = ("responsibilityunit", "agreement", "checklistitem")
# The unit page's (read-only) agreements inline.
NO_AGREEMENTS = {"agreements-TOTAL_FORMS": "0", "agreements-INITIAL_FORMS": "0"}


def url(model: str, view: str, *args: object) -> str:
    return reverse(f"admin:inspections_{model}_{view}", args=args)


def signed_in(client, role, scope="city", perms=()):  # type: ignore[no-untyped-def]
    user = staff(role, scope=scope)
    user.is_staff = True
    user.save()
    if perms:
        user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    client.force_login(user)
    return User.objects.get(pk=user.pk)


@pytest.fixture
def superuser(client):  # type: ignore[no-untyped-def]
    user = User.objects.create_superuser("root", password="pass-1234-word")
    client.force_login(user)
    return user


@pytest.fixture
def shop(community):  # type: ignore[no-untyped-def]
    return ResponsibilityUnit.objects.create(name="老王烧烤", address="东园街248号", community=community)


@pytest.fixture
def far_shop(db):  # type: ignore[no-untyped-def]
    far = CommunityFactory(street=StreetFactory(district=DistrictFactory()), origin=(121.0, 31.0))
    return ResponsibilityUnit.objects.create(name="远方超市", address="西街1号", community=far)


def agreement_data(unit, **overrides):  # type: ignore[no-untyped-def]
    data = {
        "unit": unit.pk,
        "number": "MQ-2026-001",
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "signed_on": "2025-12-20",
        "signed_by": "王老板",
        "duties": "门前市容整洁、环境卫生、秩序良好",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("model", MODELS)
def test_list_and_add_pages_load_for_a_superuser(client, superuser, shop, model):
    Agreement.objects.create(
        unit=shop,
        number="MQ-1",
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        signed_on=date(2026, 1, 1),
        signed_by="王老板",
        duties="门前三包",
    )
    assert client.get(url(model, "changelist")).status_code == 200
    assert client.get(url(model, "add")).status_code == 200
    obj = {"responsibilityunit": shop, "agreement": Agreement.objects.get(), "checklistitem": None}[model]
    obj = obj or ChecklistItem.objects.first()
    assert client.get(url(model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", ["agreement", "checklistitem"])
def test_the_admin_role_manages_agreements_and_the_checklist(client, model):
    signed_in(client, Role.ADMIN)
    assert client.get(url(model, "changelist")).status_code == 200
    assert client.get(url(model, "add")).status_code == 200


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("role", [Role.OPERATOR, Role.DISPATCHER, Role.HANDLING_UNIT])
def test_other_roles_are_refused(client, model, role):
    signed_in(client, role)
    assert client.get(url(model, "changelist")).status_code == 403
    assert client.get(url(model, "add")).status_code == 403


@pytest.mark.parametrize("model", MODELS)
def test_nothing_is_deleted_in_the_admin(client, superuser, shop, model):
    obj = {"responsibilityunit": shop, "checklistitem": ChecklistItem.objects.first()}.get(model)
    if obj is None:
        obj = Agreement.objects.create(
            unit=shop,
            number="MQ-1",
            starts_on=date(2026, 1, 1),
            ends_on=date(2026, 12, 31),
            signed_on=date(2026, 1, 1),
            signed_by="王老板",
            duties="门前三包",
        )
    assert client.get(url(model, "delete", obj.pk)).status_code == 403


def test_a_unit_added_in_the_admin_goes_through_the_service(client, superuser, community):
    response = client.post(
        url("responsibilityunit", "add"),
        {
            "name": "张记面馆",
            "kind": UnitKind.RESTAURANT,
            "community": community.pk,
            "address": "东园街12号",
            "lat": "30.005",
            "lng": "120.005",
            "is_active": "on",
            **NO_AGREEMENTS,
        },
    )

    assert response.status_code == 302
    unit = ResponsibilityUnit.objects.get(name="张记面馆")
    assert unit.community == community
    # Audited as the service does
    assert AuditEntry.objects.filter(action="unit.created", target_id=str(unit.pk), actor=superuser).exists()


def test_a_unit_needs_both_coordinates(client, superuser, community):
    response = client.post(
        url("responsibilityunit", "add"),
        {
            "name": "张记面馆",
            "kind": UnitKind.SHOP,
            "community": community.pk,
            "address": "东园街12号",
            "lat": "30",
        }
        | NO_AGREEMENTS,
    )
    assert response.status_code == 200
    assert "lng" in response.context["adminform"].form.errors
    assert not ResponsibilityUnit.objects.exists()


def test_an_agreement_is_saved_and_audited(client, superuser, shop):
    response = client.post(url("agreement", "add"), agreement_data(shop))

    assert response.status_code == 302
    agreement = Agreement.objects.get()
    assert (agreement.unit, agreement.ends_on) == (shop, date(2026, 12, 31))
    entry = AuditEntry.objects.get(action="agreement.created")
    assert entry.actor == superuser
    assert entry.data["unit"] == shop.pk


def test_an_agreement_ending_before_it_starts_is_refused(client, superuser, shop):
    response = client.post(url("agreement", "add"), agreement_data(shop, ends_on="2025-12-31"))

    assert response.status_code == 200
    assert "ends_on" in response.context["adminform"].form.errors
    assert not Agreement.objects.exists()


def test_units_and_agreements_are_listed_in_the_user_s_scope(client, district, shop, far_shop):
    # Given a district supervisor allowed to view agreements, and units in and outside the district
    for unit in (shop, far_shop):
        Agreement.objects.create(
            unit=unit,
            number=f"MQ-{unit.pk}",
            starts_on=date(2026, 1, 1),
            ends_on=date(2026, 12, 31),
            signed_on=date(2026, 1, 1),
            signed_by="店主",
            duties="门前三包",
        )
    signed_in(client, Role.SUPERVISOR, scope=district, perms=["view_agreement"])

    units = client.get(url("responsibilityunit", "changelist")).context["cl"].result_list
    agreements = client.get(url("agreement", "changelist")).context["cl"].result_list

    assert list(units) == [shop]
    assert [a.unit for a in agreements] == [shop]
    assert client.get(url("responsibilityunit", "change", far_shop.pk)).status_code == 302


def test_checklist_changes_are_audited(client):
    admin_user = signed_in(client, Role.ADMIN)

    response = client.post(
        url("checklistitem", "add"),
        {
            "code": "ZZ99",
            "group": ChecklistGroup.ORDER,
            "name": "门前无乱堆放",
            "requirement": "",
            "rectify_days": 2,
            "sort_order": 99,
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    item = ChecklistItem.objects.get(code="ZZ99")
    assert AuditEntry.objects.filter(
        action="checklist_item.created", target_id=str(item.pk), actor=admin_user
    ).exists()
