"""Reply templates (常用语), photo moderation, parking requests, liaison verification.

Seeds a few reply templates in Chinese: general ones and some per category
(a template on a top-level category is offered for its subcategories too).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (category code or None, purpose, title, body)
REPLY_TEMPLATES = [
    (None, "public", "已受理", "您好，您反映的问题已受理，我们将尽快安排处理，感谢您对城市管理工作的支持。"),
    (
        None,
        "public",
        "已处理完毕",
        "您好，您反映的问题已处理完毕，现场已恢复正常。如有疑问，请通过查询码继续关注或拨打12319。",
    ),
    (
        None,
        "public",
        "不属于职责范围",
        "您好，经核实，您反映的问题不属于城市管理职责范围，建议您向相关主管部门反映。",
    ),
    (None, "internal", "请尽快现场核实", "请于今日内到现场核实情况，拍照留存并反馈处置结果。"),
    (None, "internal", "照片不清晰", "处置后照片不清晰或不能反映整改效果，请重新拍摄同角度对比照片后提交。"),
    (
        None,
        "internal",
        "暂缓处置（挂账）",
        "该问题涉及其他部门职责或需等待条件成熟，建议挂账，待条件具备后恢复处置。",
    ),
    (
        "01",
        "internal",
        "劝离并加强巡查",
        "请对占道经营、流动摊贩进行劝离，拒不整改的依法处置，并在早晚高峰加强巡查。",
    ),
    (
        "01",
        "public",
        "摊贩已劝离",
        "您好，执法队员已到场对占道经营行为进行劝离并清理现场，后续将加强该路段巡查。",
    ),
    (
        "0203",
        "public",
        "垃圾已清运",
        "您好，您反映的乱倒垃圾问题已通知环卫部门清运完毕，我们将加强对该区域的巡查。",
    ),
    (
        "0401",
        "internal",
        "检查油烟净化设施",
        "请检查该餐饮单位油烟净化设施安装及运行、清洗记录，不达标的下达整改通知书。",
    ),
    ("0402", "public", "噪声已劝止", "您好，执法队员已到场对噪声扰民行为进行劝止，相关方已承诺整改。"),
    (
        "03",
        "internal",
        "违建需联合认定",
        "该违法建设需会同规划、街道等部门联合认定，请先固定证据并上报联合执法。",
    ),
]


def seed(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    ReplyTemplate = apps.get_model("cases", "ReplyTemplate")
    for order, (code, purpose, title, body) in enumerate(REPLY_TEMPLATES):
        category = Category.objects.filter(code=code).first() if code else None
        if code and category is None:
            continue
        ReplyTemplate.objects.update_or_create(
            category=category,
            title=title,
            defaults={"purpose": purpose, "body": body, "sort_order": order * 10, "is_active": True},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0013_saved_filters_exports"),
        ("communities", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
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
                ],
                "verbose_name": "case",
                "verbose_name_plural": "cases",
            },
        ),
        migrations.AddField(
            model_name="caseattachment",
            name="hidden_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="hidden at"),
        ),
        migrations.AddField(
            model_name="caseattachment",
            name="hidden_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="hidden by",
            ),
        ),
        migrations.AddField(
            model_name="caseattachment",
            name="hidden_reason",
            field=models.TextField(blank=True, verbose_name="why it is hidden"),
        ),
        migrations.AlterField(
            model_name="caseevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("report", "Reported"),
                    ("register", "Registered"),
                    ("reject", "Rejected"),
                    ("merge", "Merged as a duplicate"),
                    ("dispatch", "Dispatched"),
                    ("return", "Returned"),
                    ("sign_for", "Signed for"),
                    ("submit_result", "Result submitted"),
                    ("close", "Verified and closed"),
                    ("close_on_spot", "Fixed on the spot and closed"),
                    ("rework", "Sent back for rework"),
                    ("park", "Parked"),
                    ("unpark", "Unparked"),
                    ("reopen", "Reopened"),
                    ("duplicate_added", "Duplicate report merged in"),
                    ("extension_requested", "Extension requested"),
                    ("extension_approved", "Extension approved"),
                    ("extension_refused", "Extension refused"),
                    ("escalate", "Escalated"),
                    ("co_reporter_added", "Another resident reported it too"),
                    ("rated", "Rated by the reporter"),
                    ("return_visited", "Return visit recorded"),
                    ("marked_false", "Marked as a false or malicious report"),
                    ("attachment_added", "Photo added"),
                    ("note", "Note"),
                    ("parking_requested", "Parking requested"),
                    ("parking_refused", "Parking refused"),
                    ("text_moderated", "Wording corrected by staff"),
                    ("attachment_hidden", "Photo hidden from the public"),
                    ("recategorised", "Category or place corrected"),
                ],
                max_length=24,
                verbose_name="action",
            ),
        ),
        migrations.CreateModel(
            name="CommunityCaseSettings",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "liaison_verifies",
                    models.BooleanField(
                        default=False,
                        help_text=(
                            "The community's responsible liaison may verify resolved cases (pass or rework), "
                            "besides the supervisors; not the cases they handled themselves."
                        ),
                        verbose_name="its liaison verifies results",
                    ),
                ),
                (
                    "community",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="case_settings",
                        to="communities.community",
                        verbose_name="community",
                    ),
                ),
            ],
            options={
                "verbose_name": "community casework settings",
                "verbose_name_plural": "community casework settings",
            },
        ),
        migrations.CreateModel(
            name="ReplyTemplate",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("title", models.CharField(max_length=50, verbose_name="title")),
                ("body", models.TextField(max_length=1000, verbose_name="text")),
                (
                    "purpose",
                    models.CharField(
                        choices=[("internal", "Internal note"), ("public", "Reply to the resident")],
                        max_length=16,
                        verbose_name="used for",
                    ),
                ),
                ("is_active", models.BooleanField(default=True, verbose_name="active")),
                ("sort_order", models.PositiveSmallIntegerField(default=0, verbose_name="order")),
                (
                    "category",
                    models.ForeignKey(
                        blank=True,
                        help_text="Empty: offered for every category.",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reply_templates",
                        to="cases.category",
                        verbose_name="category",
                    ),
                ),
            ],
            options={
                "verbose_name": "reply template",
                "verbose_name_plural": "reply templates",
                "ordering": ["sort_order", "id"],
            },
        ),
        migrations.CreateModel(
            name="ParkingRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("reason", models.TextField(verbose_name="reason")),
                ("resume_on", models.DateField(blank=True, null=True, verbose_name="expected to resume on")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("approved", "Approved"),
                            ("refused", "Refused"),
                            ("cancelled", "Cancelled"),
                        ],
                        default="pending",
                        max_length=16,
                        verbose_name="status",
                    ),
                ),
                ("decided_at", models.DateTimeField(blank=True, null=True, verbose_name="decided at")),
                ("decision_note", models.TextField(blank=True, verbose_name="decision note")),
                ("created_at", models.DateTimeField(verbose_name="requested at")),
                (
                    "case",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="parking_requests",
                        to="cases.case",
                        verbose_name="case",
                    ),
                ),
                (
                    "decided_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="decided by",
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="requested by",
                    ),
                ),
            ],
            options={
                "verbose_name": "parking request",
                "verbose_name_plural": "parking requests",
                "ordering": ["-created_at", "-id"],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("status", "pending")),
                        fields=("case",),
                        name="one_pending_parking_per_case",
                    )
                ],
            },
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
