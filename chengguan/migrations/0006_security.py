# Placeholder in the migration chain: filled in by the change named after it.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("chengguan", "0005_api_keys"),
    ]

    operations: list[migrations.operations.base.Operation] = []
