# Cover periods: a backup liaison (B角) covering a community for a while.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import chengguan.clock


class Migration(migrations.Migration):
    dependencies = [
        ("liaisons", "0002_patrols_inspections_return_visits"),
        ("communities", "0002_facilities_disclosure"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CoverPeriod",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("starts_at", models.DateTimeField(verbose_name="from")),
                ("ends_at", models.DateTimeField(verbose_name="until")),
                ("reason", models.CharField(max_length=200, verbose_name="reason")),
                (
                    "created_at",
                    models.DateTimeField(
                        default=chengguan.clock.now, editable=False, verbose_name="created at"
                    ),
                ),
                ("cancelled_at", models.DateTimeField(blank=True, null=True, verbose_name="cancelled at")),
                (
                    "granted_at",
                    models.DateTimeField(
                        blank=True, editable=False, null=True, verbose_name="access granted at"
                    ),
                ),
                (
                    "withdrawn_at",
                    models.DateTimeField(
                        blank=True, editable=False, null=True, verbose_name="access withdrawn at"
                    ),
                ),
                (
                    "backup",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="cover_periods",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="covering liaison",
                    ),
                ),
                (
                    "community",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="cover_periods",
                        to="communities.community",
                        verbose_name="community",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="created by",
                    ),
                ),
            ],
            options={
                "verbose_name": "cover period",
                "verbose_name_plural": "cover periods",
                "ordering": ["-starts_at"],
                "indexes": [
                    models.Index(fields=["starts_at", "ends_at"], name="liaisons_co_starts__5a6fad_idx")
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("ends_at__gt", models.F("starts_at"))),
                        name="cover_ends_after_start",
                    )
                ],
            },
        ),
    ]
