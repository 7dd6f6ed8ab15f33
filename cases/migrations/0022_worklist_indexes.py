# Placeholder in the migration chain: filled in by the change named after it.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0021_dashboard_denorm"),
    ]

    operations: list[migrations.operations.base.Operation] = []
