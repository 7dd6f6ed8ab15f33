# Placeholder in the migration chain: filled in by the change named after it.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0012_returnvisit_done_index"),
    ]

    operations: list[migrations.operations.base.Operation] = []
