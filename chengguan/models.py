from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from chengguan import clock


class User(AbstractUser):
    """A person who signs in: staff of every role, or a registered resident.

    Chinese names are one string, so `name` replaces first/last name in the UI.
    Role is group membership (chengguan.roles); scope is guardian object
    permissions on districts, communities and handling units (chengguan.permissions).
    """

    name = models.CharField(_("name"), max_length=64, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    photo = models.ImageField(_("photo"), upload_to="staff/", blank=True)
    title = models.CharField(_("job title"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.name or self.username

    @property
    def display_name(self) -> str:
        return self.name or self.get_full_name() or self.username


class CalendarOverride(models.Model):
    """A day whose working status the calendar package does not know or gets wrong.

    Overrides win over `chinesecalendar`; they are how an admin enters a year's
    holiday schedule before the package ships it.
    """

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("is a working day"))
    note = models.CharField(_("note"), max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("calendar override")
        verbose_name_plural = _("calendar overrides")

    def __str__(self) -> str:
        return f"{self.date} {'workday' if self.is_workday else 'day off'}"


class AuditEntry(models.Model):
    """Append-only record of writes that are not case transitions (those have CaseEvent)."""

    created_at = models.DateTimeField(_("time"), default=clock.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(_("action"), max_length=64, db_index=True)
    target_type = models.CharField(_("target type"), max_length=64, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_repr = models.CharField(_("target"), max_length=200, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.target_repr}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None:
            raise RuntimeError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("Audit entries are append-only.")


class OutboundMessage(models.Model):
    """An SMS or email to someone outside the staff (a reporter), sent after commit.

    The unique key makes sending idempotent: a retried task finds the row and
    does not send twice; failures stay listed with their error.
    """

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("Email")

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("message status", "Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", pgettext_lazy("message status", "Failed")

    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=254)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("message"))
    key = models.CharField(_("key"), max_length=160, unique=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("time"), default=clock.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.channel} → {self.recipient}"


class NotificationKind(models.TextChoices):
    """What a notification is about: staff choose per kind whether it also reaches them by email or SMS."""

    CASE_ASSIGNED = "case_assigned", _("A case is sent to me (dispatch, rework, reopen)")
    CASE_ESCALATED = "case_escalated", _("A case is escalated (督办)")
    DEADLINE = "deadline", _("A deadline is near")
    APPROVAL = "approval", _("Something waits for my decision (result, extension, return)")
    DECISION = "decision", _("My request was decided")
    DIGEST = "digest", _("Daily digest")
    FIELD_WORK = "field_work", _("Patrols, return visits and inspections")
    OTHER = "other", _("Other notices")


class Notification(models.Model):
    """An in-app message to one user; email/SMS channels read the same rows."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(_("link"), max_length=300, blank=True)
    # Deduplicates fan-out: a retried task must not notify twice.
    key = models.CharField(_("key"), max_length=120)
    kind = models.CharField(
        _("kind"), max_length=24, choices=NotificationKind.choices, default=NotificationKind.OTHER
    )
    created_at = models.DateTimeField(_("time"), default=clock.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [models.UniqueConstraint(fields=["recipient", "key"], name="notification_unique_key")]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self) -> str:
        return self.title


class NotificationChannel(models.Model):
    """A staff member's choice that one kind of notification also reaches them by email and/or SMS.

    No row means in-app only. Addresses come from the user (email, phone).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="notification_channels",
    )
    kind = models.CharField(_("kind"), max_length=24, choices=NotificationKind.choices)
    by_email = models.BooleanField(_("by email"), default=False)
    by_sms = models.BooleanField(_("by SMS"), default=False)

    class Meta:
        ordering = ["user", "kind"]
        verbose_name = _("notification channel")
        verbose_name_plural = _("notification channels")
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notification_channel_unique_kind")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.kind}"
