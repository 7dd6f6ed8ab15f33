# Placeholder in the migration chain: filled in by the change named after it.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("inspections", "0002_seed_checklist"),
    ]

    operations: list[migrations.operations.base.Operation] = []
