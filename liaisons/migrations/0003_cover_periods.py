# Placeholder in the migration chain: filled in by the change named after it.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("liaisons", "0002_patrols_inspections_return_visits"),
    ]

    operations: list[migrations.operations.base.Operation] = []
