# The deadline a case's handler was last reminded of (one reminder per deadline),
# and room on the case table's pages for the jobs' updates (PostgreSQL only).

from django.db import migrations, models

# Each page of cases_case keeps 20 % free, so that an update that changes no
# indexed column (escalation, reminders: level, version, updated_at…) can put
# the new row version on the same page: a HOT update, which writes none of
# the table's ~40 indexes. cases.jobs spreads a batch over pages to match
# (CASE_STRIDE). Pages written before this keep their layout until the table
# is rewritten (VACUUM FULL or pg_repack); new pages get the room at once.
CASE_FILLFACTOR = 80


def set_case_fillfactor(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE cases_case SET (fillfactor = {CASE_FILLFACTOR})")


def reset_case_fillfactor(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE cases_case RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0014_replies_moderation_parking"),
    ]

    operations = [
        migrations.AddField(
            model_name="case",
            name="reminded_deadline",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(set_case_fillfactor, reset_case_fillfactor, elidable=False),
    ]
