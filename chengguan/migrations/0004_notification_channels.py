# Notification kinds and each staff member's email/SMS channel per kind.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

KINDS = [
    ("case_assigned", "A case is sent to me (dispatch, rework, reopen)"),
    ("case_escalated", "A case is escalated (督办)"),
    ("deadline", "A deadline is near"),
    ("approval", "Something waits for my decision (result, extension, return)"),
    ("decision", "My request was decided"),
    ("digest", "Daily digest"),
    ("field_work", "Patrols, return visits and inspections"),
    ("other", "Other notices"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("chengguan", "0003_intake"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="kind",
            field=models.CharField(choices=KINDS, default="other", max_length=24, verbose_name="kind"),
        ),
        migrations.CreateModel(
            name="NotificationChannel",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("kind", models.CharField(choices=KINDS, max_length=24, verbose_name="kind")),
                ("by_email", models.BooleanField(default=False, verbose_name="by email")),
                ("by_sms", models.BooleanField(default=False, verbose_name="by SMS")),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="notification_channels",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
            ],
            options={
                "verbose_name": "notification channel",
                "verbose_name_plural": "notification channels",
                "ordering": ["user", "kind"],
                "constraints": [
                    models.UniqueConstraint(fields=("user", "kind"), name="notification_channel_unique_kind")
                ],
            },
        ),
    ]
