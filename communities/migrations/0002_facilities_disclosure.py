# Facilities carrying QR service codes (城市服务码) and the districts' enforcement disclosure (执法信息公开).

import django.db.models.deletion
from django.db import migrations, models

import chengguan.clock


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="EnforcementDisclosure",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "matters",
                    models.TextField(help_text="One matter a line.", verbose_name="enforcement matters"),
                ),
                (
                    "legal_basis",
                    models.TextField(help_text="One law or regulation a line.", verbose_name="legal basis"),
                ),
                ("process", models.TextField(verbose_name="enforcement process")),
                ("appeal", models.TextField(verbose_name="how to appeal")),
                ("complaint_phone", models.CharField(max_length=32, verbose_name="complaint phone")),
                (
                    "officers",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text='A list of {"name": …, "badge": …}; edited one officer a line in the admin.',
                        verbose_name="officers on duty",
                    ),
                ),
                ("is_published", models.BooleanField(default=True, verbose_name="published")),
                ("updated_at", models.DateTimeField(default=chengguan.clock.now, verbose_name="updated at")),
                (
                    "district",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="disclosure",
                        to="communities.district",
                        verbose_name="district",
                    ),
                ),
            ],
            options={
                "verbose_name": "enforcement disclosure",
                "verbose_name_plural": "enforcement disclosures",
            },
        ),
        migrations.CreateModel(
            name="Facility",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "code",
                    models.CharField(
                        help_text="Printed under the QR code; letters, digits, dots, dashes and underscores.",
                        max_length=32,
                        unique=True,
                        verbose_name="code",
                    ),
                ),
                ("name", models.CharField(max_length=100, verbose_name="name")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("street_light", "Street light"),
                            ("public_toilet", "Public toilet"),
                            ("billboard", "Billboard"),
                            ("bin", "Litter bin"),
                            ("manhole", "Manhole cover"),
                            ("other", "Other facility"),
                        ],
                        default="other",
                        max_length=16,
                        verbose_name="kind",
                    ),
                ),
                ("lat", models.FloatField(verbose_name="latitude")),
                ("lng", models.FloatField(verbose_name="longitude")),
                ("address", models.CharField(blank=True, max_length=200, verbose_name="address")),
                ("is_active", models.BooleanField(default=True, verbose_name="active")),
                (
                    "created_at",
                    models.DateTimeField(
                        default=chengguan.clock.now, editable=False, verbose_name="created at"
                    ),
                ),
                (
                    "community",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="facilities",
                        to="communities.community",
                        verbose_name="community",
                    ),
                ),
                (
                    "grid_cell",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="facilities",
                        to="communities.gridcell",
                        verbose_name="grid cell",
                    ),
                ),
            ],
            options={
                "verbose_name": "facility",
                "verbose_name_plural": "facilities",
                "ordering": ["community", "code"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("lat__gte", -90), ("lat__lte", 90), ("lng__gte", -180), ("lng__lte", 180)
                        ),
                        name="facility_coordinates_in_range",
                    )
                ],
            },
        ),
    ]
