# Placeholder in the migration chain: filled in by the change named after it.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0001_initial"),
    ]

    operations: list[migrations.operations.base.Operation] = []
