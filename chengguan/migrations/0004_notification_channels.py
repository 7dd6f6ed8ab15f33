# Placeholder in the migration chain: filled in by the change named after it.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("chengguan", "0003_intake"),
    ]

    operations: list[migrations.operations.base.Operation] = []
