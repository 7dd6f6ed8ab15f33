"""Staff email/SMS channels: preferences per notification kind and notify()'s fan-out to the outbox."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from chengguan.errors import InvalidInput
from chengguan.models import AuditEntry, Notification, NotificationChannel, NotificationKind, OutboundMessage
from chengguan.notifications import Draft, message_key, notification_channels_save, notify, notify_many
from chengguan.roles import Role
from tests.factories import UserFactory, staff

pytestmark = pytest.mark.django_db

URL = "/desk/notifications/channels/"


@pytest.fixture
def handler(district):  # type: ignore[no-untyped-def]
    user = staff(Role.LIAISON, scope=district)
    user.email, user.phone = "wang@example.cn", "13900001111"
    user.save(update_fields=["email", "phone"])
    return user


def boxes(html: str, attribute: str = "") -> set[str]:
    """Names of the page's checkboxes, those with `attribute` (checked, disabled) if given."""
    return {
        name
        for tag, name in re.findall(r'(<input type="checkbox" name="([^"]+)"[^>]*>)', html)
        if not attribute or f" {attribute}" in tag
    }


def test_the_url_is_the_desk_page():
    assert reverse("desk:notification_channels") == URL


# --- fan-out --------------------------------------------------------------------------


def test_without_choices_a_notification_stays_in_app(handler, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = notify(recipients=[handler], key="case-event:1", title="CG-1: 已派遣", kind="case_assigned")

    assert created == 1
    assert Notification.objects.get(recipient=handler).kind == NotificationKind.CASE_ASSIGNED
    assert not OutboundMessage.objects.exists()


def test_a_chosen_kind_reaches_email_and_sms_once_and_is_sent_after_commit(
    handler, django_capture_on_commit_callbacks
):
    # given the handler takes escalations by email and SMS, and assignments by SMS only
    notification_channels_save(
        user=handler,
        choices={"case_escalated": (True, True), "case_assigned": (False, True)},
    )
    # when an escalation and an assignment reach them (the escalation twice, as a retried task would)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notify(
            recipients=[handler],
            key="case-event:7",
            title="CG-7: 督办",
            body="超期",
            url="/cases/CG-7/",
            kind="case_escalated",
        )
        notify(recipients=[handler], key="case-event:7", title="CG-7: 督办", kind="case_escalated")
        notify(recipients=[handler], key="case-event:8", title="CG-8: 已派遣", kind="case_assigned")
    # then one email and one SMS for the escalation, one SMS for the assignment, all sent
    messages = {(m.channel, m.key): m for m in OutboundMessage.objects.all()}
    assert set(messages) == {
        ("email", message_key(handler.pk, "case-event:7", "email")),
        ("sms", message_key(handler.pk, "case-event:7", "sms")),
        ("sms", message_key(handler.pk, "case-event:8", "sms")),
    }
    assert all(m.status == OutboundMessage.Status.SENT for m in messages.values())
    email = messages[("email", message_key(handler.pk, "case-event:7", "email"))]
    assert (email.recipient, email.subject) == ("wang@example.cn", "CG-7: 督办")
    assert "超期" in email.body and "/cases/CG-7/" in email.body
    assert [m.to for m in mail.outbox] == [["wang@example.cn"]]
    assert Notification.objects.filter(recipient=handler).count() == 2
    assert len(callbacks) == 2  # one delivery hand-off per notify that queued messages


def test_fan_out_is_per_recipient_and_skips_missing_addresses(handler, district):
    # given a colleague who chose email but has no address on the account
    colleague = staff(Role.LIAISON, scope=district)
    NotificationChannel.objects.create(user=colleague, kind="deadline", by_email=True, by_sms=True)
    notification_channels_save(user=handler, choices={"deadline": (False, True)})

    notify(recipients=[handler, colleague], key="deadline:1", title="CG-1 即将到期", kind="deadline")

    assert list(OutboundMessage.objects.values_list("channel", "recipient")) == [("sms", "13900001111")]
    assert Notification.objects.filter(key="deadline:1").count() == 2


def test_inactive_users_get_no_messages(handler):
    notification_channels_save(user=handler, choices={"approval": (True, True)})
    handler.is_active = False
    handler.save(update_fields=["is_active"])

    notify(recipients=[handler], key="case-event:3", title="CG-3", kind="approval")

    assert not OutboundMessage.objects.exists()


def test_the_digest_goes_by_email_by_default_and_can_be_turned_off(handler, district):
    other = staff(Role.SUPERVISOR, scope=district)
    other.email = "li@example.cn"
    other.save(update_fields=["email"])
    notification_channels_save(user=other, choices={"digest": (False, False)})

    notify_many(
        [
            Draft(recipient_id=handler.pk, key="digest:2026-03-02", title="日报", kind="digest"),
            Draft(recipient_id=other.pk, key="digest:2026-03-02", title="日报", kind="digest"),
        ]
    )

    assert list(OutboundMessage.objects.values_list("recipient", flat=True)) == ["wang@example.cn"]


def test_notify_many_is_constant_in_queries(handler, district, django_assert_max_num_queries):
    people = [handler] + [staff(Role.LIAISON, scope=district) for _ in range(5)]
    for person in people:
        NotificationChannel.objects.create(user=person, kind="deadline", by_sms=True)
        person.phone = f"139{person.pk:08d}"
        person.save(update_fields=["phone"])
    drafts = [
        Draft(recipient_id=p.pk, key=f"deadline:{n}", title=f"CG-{n}", kind="deadline")
        for n in range(20)
        for p in people
    ]

    # savepoint, existing pairs, notifications, channel choices, addresses, outbox, release,
    # whatever the number of drafts (SQLite may split a long insert in two)
    with django_assert_max_num_queries(8):
        assert notify_many(drafts) == 120

    assert OutboundMessage.objects.count() == 120


# --- saving preferences -----------------------------------------------------------------


def test_saving_needs_an_address_for_the_channel_and_changes_nothing_otherwise(district):
    user = staff(Role.DISPATCHER, scope=district)
    with pytest.raises(InvalidInput) as caught:
        notification_channels_save(user=user, choices={"approval": (True, False)})
    assert caught.value.code == "invalid.no_email"
    with pytest.raises(InvalidInput) as caught:
        notification_channels_save(user=user, choices={"approval": (False, True)})
    assert caught.value.code == "invalid.no_phone"
    with pytest.raises(InvalidInput):
        notification_channels_save(user=user, choices={"not-a-kind": (False, False)})
    assert not NotificationChannel.objects.exists()


# --- the page ---------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    response = client.post(URL, {"deadline__sms": "on"})
    assert response.status_code == 302 and not NotificationChannel.objects.exists()


def test_a_resident_account_has_no_such_page(client):
    client.force_login(UserFactory())
    assert client.get(URL).status_code == 403


def test_staff_see_their_choices_and_save_them(client, handler):
    notification_channels_save(user=handler, choices={"case_escalated": (True, False)})
    client.force_login(handler)

    page = client.get(URL)

    assert page.status_code == 200
    html = page.content.decode()
    assert boxes(html, "checked") == {"case_escalated__email", "digest__email"}  # the digest: default
    assert len(boxes(html)) == 2 * len(NotificationKind.values)

    response = client.post(URL, {"deadline__sms": "on", "digest__email": "on"})

    assert response.status_code == 302 and response.url == URL
    assert set(
        NotificationChannel.objects.filter(user=handler).values_list("kind", "by_email", "by_sms")
    ) == {(kind, kind == "digest", kind == "deadline") for kind in NotificationKind.values}
    assert AuditEntry.objects.filter(action="notification_channels.saved", target_id=str(handler.pk)).exists()


def test_a_channel_without_an_address_is_disabled_and_cannot_be_posted(client, district):
    user = staff(Role.DISPATCHER, scope=district)
    user.email = "zhao@example.cn"
    user.save(update_fields=["email"])
    client.force_login(user)

    html = client.get(URL).content.decode()
    assert boxes(html, "disabled") == {f"{kind}__sms" for kind in NotificationKind.values}

    response = client.post(URL, {"approval__sms": "on", "approval__email": "on"})

    assert response.status_code == 302
    assert NotificationChannel.objects.get(user=user, kind="approval").by_sms is False
    assert NotificationChannel.objects.get(user=user, kind="approval").by_email is True


def test_nobody_reaches_another_users_choices(client, handler, district):
    # given another staff member's choices
    other = staff(Role.DISPATCHER, scope=district)
    other.phone = "13700002222"
    other.save(update_fields=["phone"])
    notification_channels_save(user=other, choices={"approval": (False, True)})
    client.force_login(handler)
    # when the handler posts, naming the other user every way they can
    client.post(URL, {"user": other.pk, "user_id": other.pk, "deadline__sms": "on"})
    client.get(URL, {"user": other.pk})
    # then only the handler's own rows changed
    assert list(NotificationChannel.objects.filter(user=other).values_list("kind", "by_sms")) == [
        ("approval", True)
    ]
    assert NotificationChannel.objects.get(user=handler, kind="deadline").by_sms is True
    assert "13700002222" not in client.get(URL).content.decode()
