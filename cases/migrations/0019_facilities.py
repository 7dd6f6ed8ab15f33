# The facility a QR-code report came through.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0018_api_keys"),
        ("communities", "0002_facilities_disclosure"),
    ]

    operations = [
        migrations.AddField(
            model_name="case",
            name="facility",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="cases",
                to="communities.facility",
                verbose_name="facility",
            ),
        ),
    ]
