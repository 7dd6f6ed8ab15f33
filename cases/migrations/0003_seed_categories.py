"""Seed the categories of DESIGN §3 with their time limits (working hours).

Top-level categories carry the time limits; subcategories inherit them.
Limits per urgency: (register, dispatch, handle, verify).
"""

from django.db import migrations

FAST = {"normal": (2, 2, 8, 8), "urgent": (1, 1, 4, 4), "critical": (0.5, 0.5, 2, 2)}
STANDARD = {"normal": (2, 2, 40, 16), "urgent": (1, 1, 8, 4), "critical": (0.5, 0.5, 4, 2)}
SLOW = {"normal": (4, 4, 80, 16), "urgent": (2, 2, 24, 8), "critical": (1, 1, 8, 4)}

CATEGORIES = [
    # (code, name, English name, kind, limits, default urgency, children)
    ("01", "街面秩序", "Street order", "event", FAST, "normal", [
        ("0101", "占道经营", "Business occupying the road"),
        ("0102", "流动摊贩", "Street vendors"),
        ("0103", "店外经营/跨门经营", "Trading outside the shop"),
        ("0104", "乱停乱放", "Illegal parking"),
        ("0105", "无照经营", "Unlicensed business"),
    ]),
    ("02", "市容环境", "City appearance", "event", STANDARD, "normal", [
        ("0201", "乱贴乱画/非法小广告", "Illegal posters and graffiti"),
        ("0202", "乱堆乱放", "Things piled in public space"),
        ("0203", "乱倒垃圾", "Dumped rubbish"),
        ("0204", "垃圾分类", "Waste sorting"),
        ("0205", "户外广告", "Outdoor advertising"),
        ("0206", "渣土撒漏/扬尘", "Spilled muck and dust"),
        ("0207", "污水乱倒", "Dumped waste water"),
    ]),
    ("03", "违法建设", "Illegal construction", "event", SLOW, "normal", [
        ("0301", "私搭乱建/违法建设", "Illegal structures"),
    ]),
    ("04", "环境污染", "Pollution", "event", STANDARD, "normal", [
        ("0401", "餐饮油烟", "Restaurant fumes"),
        ("0402", "噪声扰民", "Noise"),
    ]),
    ("05", "园林绿化", "Greening", "event", STANDARD, "normal", [
        ("0501", "毁绿破绿", "Damaged greenery"),
    ]),
    ("06", "物业管理", "Property management", "event", SLOW, "normal", [
        ("0601", "物业管理", "Property management"),
    ]),
    ("90", "公共设施部件", "Facility components", "component", STANDARD, "normal", [
        ("9001", "井盖", "Manhole cover"),
        ("9002", "路灯", "Street light"),
        ("9003", "垃圾箱", "Litter bin"),
        ("9004", "公厕", "Public toilet"),
        ("9005", "广告牌", "Billboard"),
        ("9006", "道路破损", "Damaged road"),
    ]),
    ("99", "其他", "Other", "event", STANDARD, "normal", [
        ("9901", "其他问题", "Other problem"),
    ]),
]

STAGES = ("register_hours", "dispatch_hours", "handle_hours", "verify_hours")


def seed(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    TimeLimit = apps.get_model("cases", "TimeLimit")
    for order, (code, name, name_en, kind, limits, urgency, children) in enumerate(CATEGORIES):
        parent, _ = Category.objects.update_or_create(
            code=code,
            defaults={"name": name, "name_en": name_en, "kind": kind, "default_urgency": urgency, "sort_order": order * 10},
        )
        for level, hours in limits.items():
            TimeLimit.objects.update_or_create(
                category=parent, urgency=level, defaults=dict(zip(STAGES, hours))
            )
        for child_order, (child_code, child_name, child_en) in enumerate(children):
            Category.objects.update_or_create(
                code=child_code,
                defaults={
                    "parent": parent,
                    "name": child_name,
                    "name_en": child_en,
                    "kind": kind,
                    "default_urgency": urgency,
                    "sort_order": order * 10 + child_order,
                },
            )


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
