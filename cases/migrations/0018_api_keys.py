# API keys of machine clients (Open311Client): stored as a SHA-256 digest and
# a short prefix instead of in clear, with scopes, expiry and revocation; the
# log of the calls made with them (ApiCallLog).

import hashlib

import django.db.models.deletion
from django.db import migrations, models


def hash_existing_keys(apps, schema_editor):  # type: ignore[no-untyped-def]
    """The keys already handed out keep working: their digest replaces them."""
    if schema_editor is not None and schema_editor.connection.vendor == "postgresql":
        # Checked now rather than at commit: PostgreSQL refuses to alter a table
        # (the unique digest below) while row updates have deferred checks pending.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    Open311Client = apps.get_model("cases", "Open311Client")
    for client in Open311Client.objects.all():
        client.key_prefix = client.api_key[:8]
        client.key_digest = hashlib.sha256(client.api_key.encode()).hexdigest()
        client.save(update_fields=["key_prefix", "key_digest"])


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0017_hotline_outbox"),
        ("communities", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="open311client",
            name="key_prefix",
            field=models.CharField(
                default="",
                editable=False,
                help_text=(
                    "The first characters of the key, to tell keys apart; the key itself is not stored."
                ),
                max_length=8,
                verbose_name="key prefix",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="open311client",
            name="key_digest",
            field=models.CharField(
                editable=False, max_length=64, null=True, verbose_name="key digest (SHA-256)"
            ),
        ),
        migrations.RunPython(hash_existing_keys, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="open311client",
            name="key_digest",
            field=models.CharField(
                editable=False, max_length=64, unique=True, verbose_name="key digest (SHA-256)"
            ),
        ),
        migrations.RemoveField(model_name="open311client", name="api_key"),
        migrations.AddField(
            model_name="open311client",
            name="can_write",
            field=models.BooleanField(
                default=True,
                help_text="Off: the key only reads (GET) on the REST API and cannot post Open311 requests.",
                verbose_name="may write",
            ),
        ),
        migrations.AddField(
            model_name="open311client",
            name="communities",
            field=models.ManyToManyField(
                blank=True,
                related_name="+",
                to="communities.community",
                verbose_name="limited to communities",
            ),
        ),
        migrations.AddField(
            model_name="open311client",
            name="districts",
            field=models.ManyToManyField(
                blank=True,
                help_text=(
                    "On the REST API the key sees only these districts and communities; none: no limit."
                ),
                related_name="+",
                to="communities.district",
                verbose_name="limited to districts",
            ),
        ),
        migrations.AddField(
            model_name="open311client",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="expires at"),
        ),
        migrations.AddField(
            model_name="open311client",
            name="last_used_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="last used at"),
        ),
        migrations.AddField(
            model_name="open311client",
            name="revoked_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="revoked at"),
        ),
        migrations.CreateModel(
            name="ApiCallLog",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(verbose_name="time")),
                ("method", models.CharField(max_length=8, verbose_name="method")),
                ("path", models.CharField(max_length=300, verbose_name="path")),
                ("status", models.PositiveSmallIntegerField(verbose_name="status")),
                ("duration_ms", models.PositiveIntegerField(verbose_name="duration (ms)")),
                (
                    "remote_addr",
                    models.GenericIPAddressField(blank=True, null=True, verbose_name="remote address"),
                ),
                (
                    "client",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="calls",
                        to="cases.open311client",
                        verbose_name="API key",
                    ),
                ),
            ],
            options={
                "verbose_name": "API call",
                "verbose_name_plural": "API calls",
                "ordering": ["-at"],
                "indexes": [
                    models.Index(fields=["client", "-at"], name="cases_apica_client__eae47e_idx"),
                    models.Index(fields=["at"], name="cases_apica_at_c36e14_idx"),
                ],
            },
        ),
    ]
