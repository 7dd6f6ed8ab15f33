"""Account security: two-factor enrolment services, the audit trail of sign-ins
and of permission changes, and the django-axes hooks (client address, lockout page).

Receivers are connected in ChengguanConfig.ready(). They record what Django,
django-axes and django-guardian signal, so changes made anywhere (the admin,
a shell, a service) land in the audit log with the signed-in user of the
current request as actor when there is one.
"""

import logging
import secrets
from base64 import b32encode
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from chengguan.audit import audit
from chengguan.errors import ActionNotPermitted, InvalidInput
from chengguan.logging import current_request
from chengguan.models import User

logger = logging.getLogger(__name__)

TOTP_DEVICE_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery"


# --- django-axes hooks -------------------------------------------------------------


def client_ip(request: HttpRequest) -> str | None:
    """The client address as the rate limits see it (RATELIMIT_IP_META_KEY behind a proxy)."""
    key = settings.RATELIMIT_IP_META_KEY or "REMOTE_ADDR"
    value = request.META.get(key) or request.META.get("REMOTE_ADDR")
    # X-Forwarded-For style headers list the client first.
    return value.split(",")[0].strip() if value else None


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return _(
        "Too many failed sign-in attempts. This account is locked from your address for "
        "%(minutes)d minutes; try again later or ask an administrator."
    ) % {"minutes": minutes}


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the login page with the lockout message, or a JSON error."""
    message = lockout_message()
    if request.path_info.startswith("/api/"):
        return JsonResponse(
            {"code": "auth.locked_out", "message": message, "fields": {}},
            status=settings.AXES_HTTP_RESPONSE_CODE,
        )
    return render(
        request,
        "registration/login.html",
        {"form": AuthenticationForm(request), "locked_out_message": message, "next": ""},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )


# --- Audit receivers ------------------------------------------------------------------


def _request_actor() -> User | None:
    request = current_request.get()
    user = getattr(request, "user", None) if request is not None else None
    return user if user is not None and user.is_authenticated else None


def _ip(request: HttpRequest | None) -> str | None:
    return client_ip(request) if request is not None and hasattr(request, "META") else None


def on_logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    audit(actor=user, action="auth.login", target=user, ip=_ip(request))


def on_logged_out(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        audit(actor=user, action="auth.logout", target=user, ip=_ip(request))


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username") or "")[:150]
    target = User.objects.filter(username=username).first() if username else None
    audit(actor=None, action="auth.login_failed", target=target, username=username, ip=_ip(request))


def on_locked_out(sender: Any, request: HttpRequest, username: str, ip_address: str, **kwargs: Any) -> None:
    target = User.objects.filter(username=username).first() if username else None
    audit(actor=None, action="auth.locked_out", target=target, username=username, ip=ip_address)


def _names(model: Any, pks: Any) -> list[str]:
    if not pks:
        return []
    if model is Group:
        return sorted(Group.objects.filter(pk__in=pks).values_list("name", flat=True))
    if model is Permission:
        return sorted(
            f"{app}.{codename}"
            for app, codename in Permission.objects.filter(pk__in=pks).values_list(
                "content_type__app_label", "codename"
            )
        )
    return sorted(str(u) for u in model.objects.filter(pk__in=pks))


def _m2m_receiver(action_name: str, field: str) -> Any:
    """An m2m_changed receiver for User.groups or User.user_permissions, either side."""

    def receiver(sender: Any, instance: Any, action: str, reverse: bool, model: Any, pk_set: Any, **kw: Any):  # type: ignore[no-untyped-def]
        if action == "pre_clear":
            # Remember what clear() is about to remove; post_clear has no pk_set.
            if reverse:
                instance._audit_cleared = set(instance.user_set.values_list("pk", flat=True))
            else:
                instance._audit_cleared = set(getattr(instance, field).values_list("pk", flat=True))
            return
        if action not in ("post_add", "post_remove", "post_clear"):
            return
        if action == "post_clear":
            pk_set = getattr(instance, "_audit_cleared", set())
        if not pk_set:
            return
        op = "add" if action == "post_add" else "remove"
        actor = _request_actor()
        if reverse:
            # group.user_set.add(...) / permission.user_set.add(...): one entry per user.
            label = instance.name if isinstance(instance, Group) else _names(Permission, [instance.pk])[0]
            for user in User.objects.filter(pk__in=pk_set):
                audit(actor=actor, action=action_name, target=user, op=op, items=[label])
        else:
            audit(actor=actor, action=action_name, target=instance, op=op, items=_names(model, pk_set))

    return receiver


on_groups_changed = _m2m_receiver("auth.groups_changed", "groups")
on_user_permissions_changed = _m2m_receiver("auth.permissions_changed", "user_permissions")


def _object_permission_data(row: Any) -> dict[str, Any]:
    permission = row.permission
    return {
        "permission": f"{permission.content_type.app_label}.{permission.codename}",
        "object_type": row.content_type.model_class()._meta.label_lower if row.content_type_id else "",
        "object_id": str(row.object_pk),
    }


def on_user_object_permission_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created:
        audit(
            actor=_request_actor(),
            action="auth.object_permission_granted",
            target=instance.user,
            **_object_permission_data(instance),
        )


def on_user_object_permission_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    audit(
        actor=_request_actor(),
        action="auth.object_permission_revoked",
        target=instance.user,
        **_object_permission_data(instance),
    )


def on_group_object_permission_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created:
        audit(
            actor=_request_actor(),
            action="auth.object_permission_granted",
            target=instance.group,
            **_object_permission_data(instance),
        )


def on_group_object_permission_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    audit(
        actor=_request_actor(),
        action="auth.object_permission_revoked",
        target=instance.group,
        **_object_permission_data(instance),
    )


def connect_receivers() -> None:
    from axes.signals import user_locked_out
    from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
    from django.db.models.signals import m2m_changed, post_delete, post_save
    from guardian.models import GroupObjectPermission, UserObjectPermission

    user_logged_in.connect(on_logged_in, dispatch_uid="chengguan.audit.login")
    user_logged_out.connect(on_logged_out, dispatch_uid="chengguan.audit.logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="chengguan.audit.login_failed")
    user_locked_out.connect(on_locked_out, dispatch_uid="chengguan.audit.locked_out")
    m2m_changed.connect(on_groups_changed, sender=User.groups.through, dispatch_uid="chengguan.audit.groups")
    m2m_changed.connect(
        on_user_permissions_changed,
        sender=User.user_permissions.through,
        dispatch_uid="chengguan.audit.perms",
    )
    post_save.connect(
        on_user_object_permission_saved, sender=UserObjectPermission, dispatch_uid="cg.uop.save"
    )
    post_delete.connect(
        on_user_object_permission_deleted, sender=UserObjectPermission, dispatch_uid="cg.uop.del"
    )
    post_save.connect(
        on_group_object_permission_saved, sender=GroupObjectPermission, dispatch_uid="cg.gop.save"
    )
    post_delete.connect(
        on_group_object_permission_deleted, sender=GroupObjectPermission, dispatch_uid="cg.gop.del"
    )


# --- Two-factor services ------------------------------------------------------------


def otp_is_required(user: User) -> bool:
    from chengguan.middleware import otp_required_for

    return otp_required_for(user)


def otp_confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def otp_secret(device: TOTPDevice) -> str:
    """The key as authenticator apps take it when typed in: base32, no padding."""
    return b32encode(device.bin_key).decode().rstrip("=")


def otp_provisioning_uri(device: TOTPDevice) -> str:
    # config_url carries the issuer from OTP_TOTP_ISSUER and the username.
    return str(device.config_url)


@transaction.atomic
def otp_enrolment_start(*, user: User) -> TOTPDevice:
    """Start enrolling an authenticator app: an unconfirmed TOTP device with a fresh key.

    Preconditions: the user has no confirmed authenticator (disable it first).
    Side effects: replaces any earlier unconfirmed device, so only the QR code
    shown last works.
    """
    if otp_confirmed_device(user) is not None:
        raise InvalidInput(_("Two-factor sign-in is already set up for this account."), code="otp.enrolled")
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = TOTPDevice(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    device.full_clean()
    device.save()
    return device


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [f"{secrets.token_hex(2)}-{secrets.token_hex(2)}" for _n in range(settings.OTP_RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@transaction.atomic
def otp_enrolment_confirm(*, user: User, token: str) -> list[str]:
    """Finish enrolment with the first code the app shows; returns the recovery codes.

    Preconditions: otp_enrolment_start ran for this user; `token` is the
    current code of that key. Side effects: confirms the device, replaces the
    recovery codes (shown to the user once, stored by the device), audits
    `auth.otp_enrolled`.
    """
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None:
        raise InvalidInput(
            _("Start the set-up again: no pending authenticator was found."), code="otp.no_pending"
        )
    if not device.verify_token(token.strip()):
        raise InvalidInput(
            _("The code is not correct. Check the time on your phone and try again."), code="otp.invalid"
        )
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_recovery_codes(user)
    audit(actor=user, action="auth.otp_enrolled", target=user, device=device.persistent_id)
    return codes


@transaction.atomic
def otp_recovery_codes_renew(*, user: User) -> list[str]:
    """New recovery codes; the old ones stop working.

    Preconditions: the user has a confirmed authenticator and this session is
    verified (the view checks). Side effects: audits `auth.otp_recovery_renewed`.
    """
    if otp_confirmed_device(user) is None:
        raise InvalidInput(_("Set up two-factor sign-in first."), code="otp.not_enrolled")
    codes = _new_recovery_codes(user)
    audit(actor=user, action="auth.otp_recovery_renewed", target=user)
    return codes


@transaction.atomic
def otp_disable(*, user: User, actor: User) -> None:
    """Remove the user's authenticator and recovery codes.

    Preconditions: the actor is the user (an account whose role does not
    require a second factor) or a superuser resetting a lost phone. Side
    effects: deletes every OTP device of the user, audits `auth.otp_disabled`.
    """
    if actor.pk == user.pk:
        if otp_is_required(user):
            raise ActionNotPermitted(
                _("Your role requires two-factor sign-in; it cannot be turned off."), code="otp.required"
            )
    elif not actor.is_superuser:
        raise ActionNotPermitted()
    removed = (
        TOTPDevice.objects.filter(user=user).delete()[0] + StaticDevice.objects.filter(user=user).delete()[0]
    )
    audit(actor=actor, action="auth.otp_disabled", target=user, devices=removed)


def otp_verify(*, request: HttpRequest, user: User, token: str) -> bool:
    """Check a code from the app or a recovery code; on success mark the session verified.

    Side effects: a used recovery code is consumed; audits `auth.otp_verified`
    or `auth.otp_failed` (devices throttle repeated failures themselves).
    """
    import django_otp

    verified = otp_matching_device(user=user, token=token)
    if verified is not None:
        django_otp.login(request, verified)
        audit(actor=user, action="auth.otp_verified", target=user, device=verified.persistent_id)
        return True
    audit(actor=user, action="auth.otp_failed", target=user, ip=_ip(request))
    return False


def otp_matching_device(*, user: User, token: str) -> Any:
    """The user's confirmed authenticator or recovery device that accepts `token`, or None.

    Shared by the sign-in page and the API token endpoint. Side effects: a
    used recovery code is consumed; devices record failures to throttle
    repeated guesses themselves. Nothing is audited here.
    """
    import django_otp

    token = token.strip()
    if not token:
        return None
    for device in [
        *TOTPDevice.objects.filter(user=user, confirmed=True),
        *StaticDevice.objects.filter(user=user),
    ]:
        verified = django_otp.verify_token(user, device.persistent_id, token)
        if verified is not None:
            return verified
    return None


def otp_pending_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).first()


def otp_recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user).count()


def otp_verify_after_enrolment(*, request: HttpRequest, user: User) -> None:
    """The session that just proved the new key counts as verified."""
    import django_otp

    device = otp_confirmed_device(user)
    if device is not None:
        django_otp.login(request, device)
