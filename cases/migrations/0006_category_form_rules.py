"""Public form rules for the seeded categories (editable in the admin)."""

from django.db import migrations

RULES = {
    "01": {"icon": "🛒"},
    "0101": {"icon": "🏪", "description_hint": "请说明摊点位置、占用的道路范围和经营时段。"},
    "0102": {"icon": "🛒", "description_hint": "请说明摊贩出现的时间段和大致数量。"},
    "0103": {"icon": "🏬"},
    "0104": {"icon": "🚗", "notice": "机动车违法停车由公安交管部门处理，请拨打 122；非机动车乱停放由城管处理。"},
    "0105": {
        "icon": "📄",
        "notice": "无照经营主要由市场监督管理部门查处，城管将协同处理；也可拨打 12315 反映。",
    },
    "02": {"icon": "🧹"},
    "0201": {"icon": "📌", "photo_required": True, "description_hint": "请拍下小广告内容及张贴位置。"},
    "0202": {"icon": "📦"},
    "0203": {"icon": "🗑️", "photo_required": True},
    "0204": {"icon": "♻️"},
    "0205": {"icon": "🪧"},
    "0206": {"icon": "🚚", "description_hint": "如能看到车牌，请注明车牌号和行驶方向。"},
    "0207": {"icon": "💧"},
    "03": {"icon": "🏗️"},
    "0301": {
        "icon": "🏗️",
        "photo_required": True,
        "contact_required": True,
        "description_hint": "请说明搭建位置（楼栋、楼层）、开始时间和规模，便于现场核实。",
    },
    "04": {"icon": "🌫️"},
    "0401": {"icon": "🍳", "description_hint": "请说明店铺名称和油烟排放的时段。"},
    "0402": {
        "icon": "🔊",
        "contact_required": True,
        "notice": "社会生活噪声（如邻里装修、广场舞）城管可协调处理；工业噪声请联系生态环境部门，夜间施工噪声可拨打 12345。",
    },
    "05": {"icon": "🌳"},
    "0501": {"icon": "🌳"},
    "06": {"icon": "🏘️"},
    "0601": {
        "icon": "🏘️",
        "contact_required": True,
        "anonymous_allowed": False,
        "notice": "物业服务纠纷将转交街道和物业主管部门处理，需要留下联系方式以便回访。",
    },
    "90": {"icon": "🔧"},
    "9001": {"icon": "⚠️", "description_hint": "井盖缺失或破损有安全隐患，请说明具体位置。"},
    "9002": {"icon": "💡"},
    "9003": {"icon": "🗑️"},
    "9004": {"icon": "🚻"},
    "9005": {"icon": "🪧"},
    "9006": {"icon": "🛣️"},
    "99": {"icon": "❓"},
    "9901": {"icon": "❓"},
}


def apply(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    for code, rules in RULES.items():
        Category.objects.filter(code=code).update(**rules)


class Migration(migrations.Migration):
    dependencies = [("cases", "0005_intake")]

    operations = [migrations.RunPython(apply, migrations.RunPython.noop)]
