"""django-filter pieces shared by the API FilterSets of every app."""

from datetime import UTC
from typing import Any

import django_filters
from django import forms
from django.forms.utils import pretty_name
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """An object's id. The queryset filtered is the gate's, so an id outside
    the caller's scope matches nothing, and no choice list is ever loaded."""

    field_class = forms.IntegerField


class LazyOrderingLabels:
    """Sort-order labels translated when shown, not when the FilterSet is defined.

    django-filter formats "… (descending)" at import time, freezing it in
    the language active then; the OpenAPI schema and forms would depend on it.
    """

    def build_choices(self, fields: dict[str, str], labels: dict[str, Any]) -> list[tuple[str, Any]]:
        choices = []
        for field, param in fields.items():
            label = labels.get(field, _(pretty_name(param)))
            choices.append((param, label))
            choices.append((f"-{param}", labels.get(f"-{param}", format_lazy(_("{} (descending)"), label))))
        return choices


class OrderingFilter(LazyOrderingLabels, django_filters.OrderingFilter):
    pass


class MomentRangeFilter(django_filters.IsoDateTimeFromToRangeFilter):
    """`<name>_after` / `<name>_before` as ISO 8601 moments, compared in UTC.

    ISO 8601 allows offsets PostgreSQL refuses (beyond ±15:59); the moment
    is the same in UTC, so it is sent that way.
    """

    def filter(self, qs: Any, value: Any) -> Any:
        if value:
            value = slice(_utc(value.start), _utc(value.stop))
        return super().filter(qs, value)


def _utc(moment: Any) -> Any:
    return moment.astimezone(UTC) if moment is not None and moment.tzinfo else moment
