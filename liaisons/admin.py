"""Liaison postings in the admin: history to read, not to edit.

Assignments start and end through liaisons.services, which keeps one open
posting per community and role and moves the liaison's scope with it.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from chengguan.admin import ReadOnlyAdminMixin
from liaisons.models import LiaisonAssignment


class CurrentFilter(admin.SimpleListFilter):
    title = _("current")
    parameter_name = "current"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Current")), ("no", _("Ended"))]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == "yes":
            return queryset.filter(ends_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(ends_at__isnull=False)
        return queryset


@admin.register(LiaisonAssignment)
class LiaisonAssignmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("community", "liaison", "role", "starts_at", "ends_at", "assigned_by")
    list_filter = (CurrentFilter, "role", "community__street__district")
    list_select_related = ("community", "liaison", "assigned_by")
    search_fields = ("community__name", "community__code", "liaison__name", "liaison__username")
    date_hierarchy = "starts_at"
    fields = ("community", "liaison", "role", "duties", "starts_at", "ends_at", "assigned_by")
    readonly_fields = fields
