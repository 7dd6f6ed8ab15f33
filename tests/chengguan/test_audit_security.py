"""Audit of sign-ins and of permission changes, wherever they are made; sessions; passwords."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from guardian.shortcuts import assign_perm, remove_perm

from chengguan.logging import current_request
from chengguan.models import AuditEntry, User
from chengguan.roles import Role, role_group
from tests.factories import UserFactory, staff

PASSWORD = "pass-1234-word"


def actions(user: User) -> list[str]:
    return list(
        AuditEntry.objects.filter(target_type="chengguan.user", target_id=str(user.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


@pytest.fixture
def wang(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="wang")


def test_sign_in_failure_and_sign_out_are_audited(client, wang):
    client.post(reverse("login"), {"username": "wang", "password": "wrong"}, REMOTE_ADDR="10.0.0.7")
    client.post(reverse("login"), {"username": "wang", "password": PASSWORD}, REMOTE_ADDR="10.0.0.7")
    client.post(reverse("logout"))
    assert actions(wang)[-3:] == ["auth.login_failed", "auth.login", "auth.logout"]
    failed = AuditEntry.objects.get(action="auth.login_failed")
    assert failed.actor is None and failed.data == {"username": "wang", "ip": "10.0.0.7"}
    assert AuditEntry.objects.get(action="auth.login").actor == wang


def test_a_failed_sign_in_for_an_unknown_name_is_audited_without_target(client, db):
    client.post(reverse("login"), {"username": "nobody", "password": "x"})
    entry = AuditEntry.objects.get(action="auth.login_failed")
    assert entry.target_id == "" and entry.data["username"] == "nobody"


def test_group_changes_are_audited_from_either_side(wang):
    supervisor = role_group(Role.SUPERVISOR)
    wang.groups.add(supervisor)
    wang.groups.remove(supervisor)
    supervisor.user_set.add(wang)
    wang.groups.clear()
    entries = AuditEntry.objects.filter(action="auth.groups_changed", target_id=str(wang.pk)).order_by("id")
    assert [(e.data["op"], e.data["items"]) for e in entries] == [
        ("add", ["supervisor"]),
        ("remove", ["supervisor"]),
        ("add", ["supervisor"]),
        ("remove", ["supervisor"]),
    ]


def test_model_permission_changes_are_audited(wang):
    permission = Permission.objects.get(codename="oversee_city")
    wang.user_permissions.add(permission)
    entry = AuditEntry.objects.get(action="auth.permissions_changed")
    assert entry.data == {"op": "add", "items": ["communities.oversee_city"]}


def test_object_permission_grants_and_revocations_are_audited(wang, community):
    assign_perm("communities.work_in_community", wang, community)
    remove_perm("communities.work_in_community", wang, community)
    granted = AuditEntry.objects.get(action="auth.object_permission_granted")
    revoked = AuditEntry.objects.get(action="auth.object_permission_revoked")
    for entry in (granted, revoked):
        assert entry.target_id == str(wang.pk)
        assert entry.data == {
            "permission": "communities.work_in_community",
            "object_type": "communities.community",
            "object_id": str(community.pk),
        }


def test_group_object_permissions_are_audited(community, db):
    group = Group.objects.create(name="street-team")
    assign_perm("communities.work_in_community", group, community)
    entry = AuditEntry.objects.get(action="auth.object_permission_granted")
    assert entry.target_type == "auth.group"


def test_a_change_made_in_a_request_names_the_signed_in_actor(wang, db):
    # Given an admin's request in progress (as in the Django admin)
    admin = staff(Role.ADMIN, scope="city")

    class Request:
        user = admin

    token = current_request.set(Request())
    try:
        wang.groups.add(role_group(Role.OPERATOR))
    finally:
        current_request.reset(token)
    entry = AuditEntry.objects.filter(action="auth.groups_changed", target_id=str(wang.pk)).latest("id")
    assert entry.actor == admin


def test_a_group_change_saved_in_the_admin_is_audited_with_its_actor(client, wang, db):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(root)
    url = reverse("admin:chengguan_user_change", args=[wang.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list | tuple)}
    data.update(
        {
            "username": wang.username,
            "date_joined_0": wang.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": wang.date_joined.strftime("%H:%M:%S"),
            "groups": [role_group(Role.DISPATCHER).pk],
            "is_active": "on",
        }
    )
    data.pop("date_joined", None)
    data.pop("last_login", None)
    data.pop("password", None)
    data.pop("photo", None)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = AuditEntry.objects.filter(action="auth.groups_changed", target_id=str(wang.pk)).latest("id")
    assert entry.actor == root
    assert entry.data == {"op": "add", "items": ["dispatcher"]}


def test_a_session_lasts_one_shift_and_ends_with_the_browser(client, wang, settings):
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    response = client.post(reverse("login"), {"username": "wang", "password": PASSWORD})
    cookie = response.cookies["sessionid"]
    # A browser-session cookie: no lifetime of its own
    assert cookie["max-age"] == "" and cookie["expires"] == ""
    assert cookie["httponly"]
    assert client.get(reverse("home")).context["user"] == wang
    if settings.SESSION_ENGINE.endswith("cached_db"):
        # With Redis the session is read from the cache, which drops it after the
        # shift (its TTL); the clock below moves, Redis's does not: drop it here.
        from django.contrib.sessions.backends.cached_db import KEY_PREFIX
        from django.core.cache import caches

        session_cache = caches[settings.SESSION_CACHE_ALIAS]
        key = KEY_PREFIX + cookie.value
        if hasattr(session_cache, "ttl"):  # django-redis
            assert 0 < session_cache.ttl(key) <= 8 * 3600
        session_cache.delete(key)
    # Past the shift, the server no longer knows the session
    with time_machine.travel(timezone.now() + timedelta(hours=8, minutes=1)):
        assert (
            not Client(HTTP_COOKIE=f"sessionid={cookie.value}")
            .get(reverse("home"))
            .context["user"]
            .is_authenticated
        )


@pytest.mark.parametrize(
    ("password", "fragment_en", "in_django_catalog"),
    [
        # Django's zh_Hans catalog lacks the plural form for 10 characters; the
        # project catalog (locale/) is to carry it.
        ("Ab3$xyz", "at least 10 characters", False),
        ("1234567890123", "entirely numeric", True),
        ("password1234", "too common", True),
        ("wangxiaoming1", "too similar", True),
    ],
)
def test_weak_passwords_are_refused_with_translated_messages(db, password, fragment_en, in_django_catalog):
    user = User(username="wangxiaoming", name="王小明")
    with translation.override("en"), pytest.raises(ValidationError) as english:
        validate_password(password, user)
    assert fragment_en in " ".join(english.value.messages)
    # Django's own zh_Hans catalog translates them
    with translation.override("zh-hans"), pytest.raises(ValidationError) as chinese:
        validate_password(password, user)
    if in_django_catalog:
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in msg) for msg in chinese.value.messages)


def test_a_strong_password_passes(db):
    validate_password("Xq7!river-lantern", User(username="li"))
