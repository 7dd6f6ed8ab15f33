# Worklists at a million cases (issue #9): indexes in each queue's order, so a
# page reads its 25 rows instead of every case of the status (or every case in
# reported_at order until enough match). On PostgreSQL they are built
# CONCURRENTLY so that migrating a live database does not block the case
# table's writes, hence a non-atomic migration; elsewhere plainly.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

# The open statuses (cases.choices.OPEN_STATUSES), sorted as the model's index has them.
OPEN_STATUSES = ["dispatched", "in_progress", "parked", "registered", "reported", "resolved"]


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """AddIndexConcurrently on PostgreSQL, AddIndex on other databases (SQLite)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("cases", "0021_dashboard_denorm"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="case",
            index=models.Index(fields=["status", "reported_at", "id"], name="case_status_reported_at"),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="case",
            index=models.Index(
                condition=models.Q(("status__in", OPEN_STATUSES)),
                fields=["deadline", "id"],
                name="case_open_deadline",
            ),
        ),
    ]
