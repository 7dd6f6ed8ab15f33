"""Template filters for personal data: `{{ case.reporter_phone|mask_phone }}`."""

from django import template

from chengguan import masking

register = template.Library()


@register.filter
def mask_phone(value: str | None) -> str:
    return masking.mask_phone(value)


@register.filter
def mask_name(value: str | None) -> str:
    return masking.mask_name(value)
