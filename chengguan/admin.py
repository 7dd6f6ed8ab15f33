"""Admin for accounts, the working-day calendar and the audit log."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from chengguan.masking import mask_phone
from chengguan.models import AuditEntry, CalendarOverride, OutboundMessage, User
from chengguan.roles import Role


class NoDeleteMixin:
    """Kept, never deleted: rows that history or counts refer to (make them inactive instead)."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdminMixin(NoDeleteMixin):
    """Viewing only: no add, change or delete, whoever asks (superusers too).

    For history (case events, audit entries, liaison postings), which only
    services write.
    """

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.site_header = _("City management in communities: administration")
admin.site.site_title = _("City management in communities")
admin.site.index_title = _("Reference data and accounts")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("name", "title", "phone", "email", "photo", "photo_preview")}),
        (
            _("Roles and permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "name", "phone", "usable_password", "password1", "password2"),
            },
        ),
    )
    list_display = ("username", "name", "title", "phone", "role_list", "is_staff", "is_active")
    list_filter = ("groups", "is_staff", "is_superuser", "is_active")
    search_fields = ("username", "name", "phone", "email")
    readonly_fields = ("photo_preview", "last_login", "date_joined")

    class Media:
        css = {"all": ["css/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Only a superuser can hand out superuser status or single permissions;
            # everyone else grants roles (groups) and scope.
            readonly += ["is_superuser", "user_permissions"]
        return readonly

    @admin.display(description=_("roles"))
    def role_list(self, obj: User) -> str:
        labels = dict(Role.choices)
        return "、".join(str(labels.get(g.name, g.name)) for g in obj.groups.all())

    @admin.display(description=_("photo"))
    def photo_preview(self, obj: User) -> str:
        if not obj.photo:
            return "—"
        return format_html('<img class="admin-thumb" src="{}" alt="">', obj.photo.url)


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(admin.ModelAdmin):
    list_display = ("date", "is_workday", "note")
    list_filter = ("is_workday",)
    search_fields = ("note",)
    date_hierarchy = "date"


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit log is append-only: nobody edits or deletes it, not even a superuser."""

    list_display = ("created_at", "actor", "action", "target_type", "target_repr")
    list_filter = ("action", "target_type")
    list_select_related = ("actor",)
    search_fields = ("action", "target_repr", "target_id", "actor__username", "actor__name")
    date_hierarchy = "created_at"
    fields = ("created_at", "actor", "action", "target_type", "target_id", "target_repr", "data")
    readonly_fields = fields


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """SMS and email to reporters; failed ones stay listed with their error."""

    list_display = ("created_at", "channel", "masked_recipient", "status", "attempts", "sent_at")
    list_filter = ("status", "channel")
    date_hierarchy = "created_at"
    fields = (
        "created_at",
        "channel",
        "masked_recipient",
        "subject",
        "body",
        "status",
        "attempts",
        "error",
        "sent_at",
    )
    readonly_fields = fields

    @admin.display(description=_("recipient"))
    def masked_recipient(self, obj: OutboundMessage) -> str:
        return obj.recipient if "@" in obj.recipient else mask_phone(obj.recipient)
