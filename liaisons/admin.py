"""Liaison postings, cover periods and patrol plans in the admin.

Assignments start and end through liaisons.services, which keeps one open
posting per community and role and moves the liaison's scope with it: here
they are history to read, not to edit. Patrol plans (巡查计划) are set up
here; the daily job turns the active ones into scheduled patrols.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from chengguan.admin import NoDeleteMixin, ReadOnlyAdminMixin
from chengguan.errors import DomainError
from chengguan.permissions import can, restrict
from communities.models import Community
from liaisons.choices import PatrolFrequency
from liaisons.models import CoverPeriod, LiaisonAssignment, PatrolPlan
from liaisons.services import cover_cancel, cover_change, cover_check, cover_create, patrol_plan_save


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
class CoverPeriodAdmin(NoDeleteMixin, admin.ModelAdmin):
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


# --- patrol plans (巡查计划) ---------------------------------------------------------

PLAN_FIELDS = ("community", "frequency", "times_per_month", "preferred_weekday", "notes", "is_active")


class PatrolPlanForm(forms.ModelForm):
    actor: Any = None

    class Meta:
        model = PatrolPlan
        fields = PLAN_FIELDS

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        community = data.get("community") or getattr(self.instance, "community", None)
        if community is None:
            return data
        # The same rule as every other page: the role's permission, in the actor's scope.
        if not can(self.actor, "change", PatrolPlan(community=community)):
            self.add_error("community", _("You cannot plan patrols in this community."))
        times = data.get("times_per_month")
        if data.get("frequency") == PatrolFrequency.MONTHLY and times is not None and not 1 <= times <= 31:
            self.add_error("times_per_month", _("A monthly plan needs between 1 and 31 patrols a month."))
        if data.get("is_active") and data.get("frequency"):
            # A second active plan of the same frequency would schedule every patrol twice.
            twins = PatrolPlan.objects.filter(
                community=community, frequency=data["frequency"], is_active=True
            ).exclude(pk=self.instance.pk)
            if twins.exists():
                self.add_error(
                    "frequency",
                    _("The community already has an active plan of this frequency; change that one."),
                )
        return data


@admin.register(PatrolPlan)
class PatrolPlanAdmin(NoDeleteMixin, admin.ModelAdmin):
    """Patrol plans: what the daily job schedules, reminds of and flags as missed (巡查完成率).

    Listed in the admin's scope (the gate); every save is audited in the
    admin's transaction. Plans are not deleted, as their scheduled patrols
    are the completion rate's history: a plan no longer wanted is made
    inactive.
    """

    form = PatrolPlanForm
    list_display = (
        "community",
        "district",
        "frequency",
        "times_per_month",
        "preferred_weekday",
        "is_active",
        "created_at",
    )
    list_filter = ("is_active", "frequency", "preferred_weekday", "community__street__district")
    list_select_related = ("community__street__district",)
    search_fields = ("community__name", "community__code", "notes")
    autocomplete_fields = ("community",)
    fields = (*PLAN_FIELDS, "created_at")
    readonly_fields = ("created_at",)
    ordering = ("community__name", "frequency")

    def get_queryset(self, request: HttpRequest) -> QuerySet[PatrolPlan]:
        # The admin applies the same gate as every other page.
        return restrict(super().get_queryset(request), request.user, "view")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "community":
            kwargs["queryset"] = restrict(Community.objects.all(), request.user, "view")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A plan for another community is a new plan: its scheduled patrols belong to this one.
        return ("community", "created_at") if obj is not None else ("created_at",)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user  # type: ignore[attr-defined]
        return form

    @admin.display(description=_("district"), ordering="community__street__district__name")
    def district(self, obj: PatrolPlan) -> Any:
        return obj.community.street.district

    def save_model(self, request: HttpRequest, obj: PatrolPlan, form: Any, change: bool) -> None:
        # The service saves, withdraws the patrols a deactivated or rescheduled plan no
        # longer expects, and audits, in the admin's transaction.
        patrol_plan_save(plan=obj, actor=request.user, changed=form.changed_data)
