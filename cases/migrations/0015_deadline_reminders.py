# The deadline a case's handler was last reminded of (one reminder per deadline).

from django.db import migrations, models


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
    ]
