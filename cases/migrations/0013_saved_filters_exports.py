# Saved filters of the case lists and export jobs (cases.saved_filters, cases.exports).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import cases.models
import chengguan.clock


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0012_returnvisit_done_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ExportJob",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("list_key", models.CharField(max_length=32, verbose_name="list")),
                ("querystring", models.CharField(blank=True, max_length=2000, verbose_name="filters")),
                (
                    "format",
                    models.CharField(
                        choices=[("csv", "CSV"), ("xlsx", "XLSX")], max_length=8, verbose_name="format"
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting"),
                            ("running", "Running"),
                            ("done", "Ready"),
                            ("failed", "Failed"),
                            ("expired", "Expired"),
                        ],
                        default="pending",
                        max_length=16,
                        verbose_name="status",
                    ),
                ),
                ("rows_done", models.PositiveIntegerField(default=0, verbose_name="rows written")),
                ("rows_total", models.PositiveIntegerField(default=0, verbose_name="rows")),
                (
                    "file",
                    models.FileField(
                        blank=True,
                        max_length=200,
                        upload_to=cases.models.export_upload_to,
                        verbose_name="file",
                    ),
                ),
                ("error", models.TextField(blank=True, verbose_name="error")),
                ("created_at", models.DateTimeField(default=chengguan.clock.now, verbose_name="created at")),
                ("started_at", models.DateTimeField(blank=True, null=True, verbose_name="started at")),
                ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="finished at")),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="owner",
                    ),
                ),
            ],
            options={
                "verbose_name": "export",
                "verbose_name_plural": "exports",
                "ordering": ["-created_at", "-pk"],
                "indexes": [
                    models.Index(fields=["status", "finished_at"], name="cases_expor_status_40c1c8_idx")
                ],
            },
        ),
        migrations.CreateModel(
            name="SavedFilter",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("list_key", models.CharField(max_length=32, verbose_name="list")),
                ("name", models.CharField(max_length=60, verbose_name="name")),
                ("querystring", models.CharField(max_length=2000, verbose_name="filters")),
                ("created_at", models.DateTimeField(default=chengguan.clock.now, verbose_name="created at")),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="owner",
                    ),
                ),
            ],
            options={
                "verbose_name": "saved filter",
                "verbose_name_plural": "saved filters",
                "ordering": ["name", "pk"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("owner", "list_key", "name"), name="saved_filter_name_once_per_list"
                    )
                ],
            },
        ),
    ]
