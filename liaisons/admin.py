"""Liaison postings in the admin: history to read, not to edit.

Assignments start and end through liaisons.services, which keeps one open
posting per community and role and moves the liaison's scope with it.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from chengguan.admin import ReadOnlyAdminMixin
from chengguan.errors import DomainError
from liaisons.models import CoverPeriod, LiaisonAssignment
from liaisons.services import cover_cancel, cover_change, cover_check, cover_create


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


class CoverPeriodForm(forms.ModelForm):
    actor: Any = None

    class Meta:
        model = CoverPeriod
        fields = ("community", "backup", "starts_at", "ends_at", "reason")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        community = data.get("community") or getattr(self.instance, "community", None)
        backup = data.get("backup") or getattr(self.instance, "backup", None)
        if community and backup and data.get("starts_at") and data.get("ends_at"):
            try:
                cover_check(
                    community=community,
                    backup=backup,
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                    reason=data.get("reason", ""),
                    actor=self.actor,
                )
            except DomainError as error:
                field = error.params.get("field") if error.params else None
                self.add_error(field if field in self.fields else None, str(error.message))
        return data


@admin.register(CoverPeriod)
class CoverPeriodAdmin(admin.ModelAdmin):
    """Cover periods go through liaisons.services, so access moves with them and every change is audited."""

    form = CoverPeriodForm
    list_display = (
        "community",
        "backup",
        "starts_at",
        "ends_at",
        "reason",
        "granted_at",
        "withdrawn_at",
        "cancelled_at",
    )
    list_filter = ("community__street__district",)
    list_select_related = ("community", "backup")
    search_fields = ("community__name", "backup__name", "backup__username")
    autocomplete_fields = ("community",)
    date_hierarchy = "starts_at"
    actions = ["cancel_covers"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Community and backup are fixed once saved; a different person is a new cover.
        return ("community", "backup") if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user  # type: ignore[attr-defined]
        return form

    def save_model(self, request: HttpRequest, obj: CoverPeriod, form: Any, change: bool) -> None:
        # The form ran the same checks (cover_check), so the service accepts it.
        if change:
            saved = cover_change(
                cover=obj, starts_at=obj.starts_at, ends_at=obj.ends_at, reason=obj.reason, actor=request.user
            )
        else:
            saved = cover_create(
                community=obj.community,
                backup=obj.backup,
                starts_at=obj.starts_at,
                ends_at=obj.ends_at,
                reason=obj.reason,
                actor=request.user,
            )
        obj.pk = saved.pk

    @admin.action(description=_("Cancel the selected cover periods"))
    def cancel_covers(self, request: HttpRequest, queryset: Any) -> None:
        done = 0
        for cover in queryset:
            try:
                cover_cancel(cover=cover, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{cover}: {error.message}", level=messages.ERROR)
            else:
                done += 1
        self.message_user(request, _("%(count)d cover period(s) cancelled.") % {"count": done})
