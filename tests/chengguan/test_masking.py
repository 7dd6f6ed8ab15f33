import pytest

from chengguan.masking import mask_name, mask_phone


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812341234", "138****1234"),
        ("+8613812341234", "+86*******1234"),
        ("0571-87654321", "057******4321"),
        ("87654321", "****4321"),
        ("12345", "*****"),
        ("", ""),
        (None, ""),
        ("  13812341234 ", "138****1234"),
    ],
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("欧阳娜娜", "欧***"), ("李", "*"), ("John", "J***"), ("", ""), (None, "")],
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked


def test_template_filters_mask(rf):
    from django.template import Context, Template

    rendered = Template("{% load masking %}{{ p|mask_phone }} {{ n|mask_name }}").render(
        Context({"p": "13812341234", "n": "王小明"})
    )
    assert rendered == "138****1234 王**"
