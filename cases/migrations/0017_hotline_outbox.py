# Pushes of status changes back to the 12345 platform (cases.hotline): the
# client's push settings, the case's link to the client, and the outbox.

import chengguan.clock
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0016_search_rollups"),
    ]

    operations = [
        migrations.AddField(
            model_name="open311client",
            name="push_kind",
            field=models.CharField(
                choices=[
                    ("none", "No push"),
                    ("georeport", "GeoReport v2 style (form POST)"),
                    ("webhook", "JSON webhook"),
                ],
                default="none",
                max_length=16,
                verbose_name="push status changes",
            ),
        ),
        migrations.AddField(
            model_name="open311client",
            name="push_url",
            field=models.URLField(
                blank=True,
                help_text="Where status changes and results of this client's cases are POSTed.",
                max_length=500,
                verbose_name="push endpoint",
            ),
        ),
        migrations.AddField(
            model_name="open311client",
            name="push_secret",
            field=models.CharField(
                blank=True,
                help_text=(
                    "Webhook: signs each body with HMAC-SHA256 (X-Hotline-Signature). "
                    "GeoReport: sent as the api_key field."
                ),
                max_length=128,
                verbose_name="push shared secret",
            ),
        ),
        migrations.AddField(
            model_name="case",
            name="open311_client",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="cases",
                to="cases.open311client",
                verbose_name="received from",
            ),
        ),
        migrations.CreateModel(
            name="HotlinePush",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("action", models.CharField(max_length=24, verbose_name="change")),
                (
                    "case_status",
                    models.CharField(
                        choices=[
                            ("reported", "Reported"),
                            ("registered", "Registered"),
                            ("dispatched", "Dispatched"),
                            ("in_progress", "In progress"),
                            ("resolved", "Resolved, awaiting verification"),
                            ("closed", "Closed"),
                            ("rejected", "Rejected"),
                            ("parked", "Parked"),
                        ],
                        max_length=16,
                        verbose_name="case status pushed",
                    ),
                ),
                ("payload", models.JSONField(default=dict, verbose_name="payload")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting to be sent"),
                            ("sent", "Sent and acknowledged"),
                            ("failed", "Failed, will retry"),
                            ("dead", "Gave up"),
                        ],
                        default="pending",
                        max_length=16,
                        verbose_name="delivery",
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0, verbose_name="attempts")),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True, verbose_name="next attempt")),
                ("last_attempt_at", models.DateTimeField(blank=True, null=True, verbose_name="last attempt")),
                ("locked_until", models.DateTimeField(blank=True, editable=False, null=True)),
                ("last_error", models.TextField(blank=True, verbose_name="last error")),
                (
                    "response_code",
                    models.PositiveSmallIntegerField(blank=True, null=True, verbose_name="response code"),
                ),
                (
                    "acknowledged_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="acknowledged at"),
                ),
                ("created_at", models.DateTimeField(default=chengguan.clock.now, verbose_name="created at")),
                (
                    "case",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="pushes",
                        to="cases.case",
                        verbose_name="case",
                    ),
                ),
                (
                    "client",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="pushes",
                        to="cases.open311client",
                        verbose_name="platform",
                    ),
                ),
                (
                    "event",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="cases.caseevent",
                        verbose_name="event",
                    ),
                ),
            ],
            options={
                "verbose_name": "push to the hotline platform",
                "verbose_name_plural": "pushes to the hotline platform",
                "ordering": ["-created_at", "-id"],
                "permissions": [("retry_hotlinepush", "Retry pushes to the hotline platform")],
                "indexes": [
                    models.Index(
                        condition=models.Q(("status__in", ["pending", "failed"])),
                        fields=["next_attempt_at"],
                        name="hotlinepush_due",
                    ),
                    models.Index(fields=["case", "id"], name="cases_hotli_case_id_7916f5_idx"),
                    models.Index(fields=["status", "created_at"], name="cases_hotli_status_0b2b28_idx"),
                ],
            },
        ),
    ]
