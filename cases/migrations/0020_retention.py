# Personal data retention (cases.retention): when a case's reporters were
# anonymised, a reporter's pending request to be forgotten, and the permission
# to honour such requests.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0019_facilities"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="case",
            options={
                "ordering": ["-reported_at", "-id"],
                "permissions": [
                    ("register_case", "Register, reject and merge reports"),
                    ("dispatch_case", "Dispatch cases"),
                    ("handle_case", "Handle dispatched cases"),
                    ("verify_case", "Verify handled cases"),
                    ("supervise_case", "Approve extensions and parking, escalate"),
                    ("reopen_case", "Reopen closed cases"),
                    ("view_conduct_complaint", "See complaints about officers' conduct"),
                    ("view_reporter_contact", "See reporters' names and phone numbers"),
                    (
                        "verify_community_case",
                        "Verify resolved cases of one's community where its liaison verifies",
                    ),
                    ("forget_reporter", "Remove a reporter's personal data on request"),
                ],
                "verbose_name": "case",
                "verbose_name_plural": "cases",
            },
        ),
        migrations.AddField(
            model_name="case",
            name="anonymised_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="personal data removed at"
            ),
        ),
        migrations.AddField(
            model_name="case",
            name="forget_requested_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="reporter asked to be forgotten at"
            ),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("anonymised_at__isnull", True)), fields=["id"], name="case_not_anonymised"
            ),
        ),
    ]
