"""The default 门前三包 checklist (editable in the admin)."""

from django.db import migrations

ITEMS = [
    # code, group, name, requirement, working days to rectify, category code if not rectified
    ("SR01", "appearance", "门前无乱贴乱画、无违规广告", "清除小广告，招牌规范设置", 3, "0201"),
    ("SR02", "appearance", "门前无乱搭乱建", "拆除违规搭建的雨棚、围挡", 5, "0301"),
    ("HW01", "sanitation", "门前地面整洁，无垃圾杂物", "每日清扫，垃圾入桶", 1, "0203"),
    ("HW02", "sanitation", "垃圾分类投放", "按要求分类投放，不混投", 2, "0204"),
    ("ZX01", "order", "无店外经营、跨门经营", "商品退店经营", 1, "0103"),
    ("ZX02", "order", "门前无乱堆乱放", "清理门前堆放物", 1, "0202"),
    ("ZX03", "order", "门前车辆有序停放", "规范停放非机动车", 1, "0104"),
    ("YY01", "fumes", "油烟净化设施正常使用", "安装并正常使用油烟净化器，定期清洗", 10, "0401"),
]


def seed(apps, schema_editor):
    ChecklistItem = apps.get_model("inspections", "ChecklistItem")
    Category = apps.get_model("cases", "Category")
    for order, (code, group, name, requirement, days, category_code) in enumerate(ITEMS):
        ChecklistItem.objects.update_or_create(
            code=code,
            defaults={
                "group": group,
                "name": name,
                "requirement": requirement,
                "rectify_days": days,
                "category": Category.objects.filter(code=category_code).first(),
                "sort_order": order,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("inspections", "0001_initial"), ("cases", "0006_category_form_rules")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
