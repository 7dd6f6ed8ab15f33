"""Admin for case reference data (categories, time limits) and a read-only case viewer.

Cases change only through the workflow services (cases.services), which
check permissions and write the history; the admin may look at a case and
its history but never add, change or delete one.
"""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from cases.models import (
    AssessmentWeights,
    Case,
    CaseAttachment,
    CaseEvent,
    CaseFeedback,
    Category,
    CoReporter,
    ExtensionRequest,
    Open311Client,
    TimeLimit,
    TwoWayRating,
)
from chengguan.admin import ReadOnlyAdminMixin
from chengguan.masking import mask_name, mask_phone
from chengguan.permissions import restrict


class TimeLimitInline(admin.TabularInline):
    model = TimeLimit
    extra = 0
    fields = ["urgency", "register_hours", "dispatch_hours", "handle_hours", "verify_hours"]


class ParentCategoryFilter(admin.SimpleListFilter):
    title = _("parent category")
    parameter_name = "parent"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        top = [
            (str(c.pk), c.local_name) for c in Category.objects.filter(parent__isnull=True).order_by("code")
        ]
        return [("none", _("Top-level categories")), *top]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Category]) -> QuerySet[Category]:
        value = self.value()
        if value == "none":
            return queryset.filter(parent__isnull=True)
        if value and value.isdigit():
            return queryset.filter(parent_id=int(value))
        return queryset


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "parent", "kind", "default_urgency", "sort_order", "is_active"]
    list_filter = [ParentCategoryFilter, "kind", "default_urgency", "is_active"]
    list_select_related = ["parent"]
    search_fields = ["code", "name", "name_en"]
    ordering = ["code"]
    filter_horizontal = ["handling_units"]
    inlines = [TimeLimitInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "parent",
                    "code",
                    "name",
                    "name_en",
                    "icon",
                    "kind",
                    "default_urgency",
                    "description",
                    "handling_units",
                    "sort_order",
                    "is_active",
                ]
            },
        ),
        (
            _("Public complaint form"),
            {
                "fields": [
                    "photo_required",
                    "contact_required",
                    "anonymous_allowed",
                    "description_hint",
                    "notice",
                    "public_reporting_closed",
                    "closed_message",
                ]
            },
        ),
    ]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "parent":
            # Two levels only: a parent is always a top-level category.
            kwargs["queryset"] = Category.objects.filter(parent__isnull=True).order_by("code")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class CaseHistoryInline(ReadOnlyAdminMixin, admin.TabularInline):
    """A case's own history: visible to whoever may see the case (as in cases.scopes)."""

    extra = 0
    can_delete = False
    classes = ["case-history"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("cases.view_case")


class CaseEventInline(CaseHistoryInline):
    model = CaseEvent
    fields = ("created_at", "action", "actor", "from_status", "to_status", "note", "is_public")
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CaseEvent]:
        return super().get_queryset(request).select_related("actor")


class CaseAttachmentInline(CaseHistoryInline):
    model = CaseAttachment
    fields = ("thumbnail", "kind", "event", "uploaded_by", "created_at", "size", "is_hidden")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[CaseAttachment]:
        return super().get_queryset(request).select_related("uploaded_by", "event")

    @admin.display(description=_("photo"))
    def thumbnail(self, obj: CaseAttachment) -> str:
        if not obj.file:
            return "—"
        return format_html(
            '<a href="{0}" target="_blank" rel="noopener"><img class="admin-thumb" src="{0}" alt=""></a>',
            obj.file.url,
        )


class ExtensionRequestInline(CaseHistoryInline):
    model = ExtensionRequest
    fields = (
        "created_at",
        "requested_by",
        "requested_due_at",
        "reason",
        "status",
        "decided_by",
        "decided_at",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExtensionRequest]:
        return super().get_queryset(request).select_related("requested_by", "decided_by")


class CoReporterInline(CaseHistoryInline):
    model = CoReporter
    fields = ("created_at", "masked_name", "masked_phone")
    readonly_fields = fields

    @admin.display(description=_("name"))
    def masked_name(self, obj: CoReporter) -> str:
        return obj.name if self._sees_contact else mask_name(obj.name)

    @admin.display(description=_("phone"))
    def masked_phone(self, obj: CoReporter) -> str:
        return obj.phone if self._sees_contact else mask_phone(obj.phone)

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        self._sees_contact = request.user.has_perm("cases.view_reporter_contact")
        return super().get_formset(request, obj, **kwargs)


class CaseFeedbackInline(CaseHistoryInline):
    model = CaseFeedback
    fields = ("created_at", "satisfaction", "comment")
    readonly_fields = fields


@admin.register(Case)
class CaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "status",
        "category",
        "district",
        "community",
        "handling_unit",
        "urgency",
        "reported_at",
        "deadline",
    ]
    list_filter = ["status", "source", "urgency", "district", "category__parent"]
    list_select_related = ["category__parent", "district", "community", "handling_unit"]
    search_fields = ["number", "tracking_code", "title", "description", "address"]
    date_hierarchy = "reported_at"
    readonly_fields = ["masked_reporter_name", "masked_reporter_phone"]
    inlines = [
        CaseEventInline,
        CaseAttachmentInline,
        ExtensionRequestInline,
        CoReporterInline,
        CaseFeedbackInline,
    ]

    class Media:
        css = {"all": ["css/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Case]:
        # The admin applies the same gate as every other page.
        return restrict(super().get_queryset(request), request.user, "view")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if request.user.has_perm("cases.view_reporter_contact"):
            reporter = ["reporter", "reporter_name", "reporter_phone", "is_anonymous", "report_count"]
        else:
            reporter = ["masked_reporter_name", "masked_reporter_phone", "is_anonymous", "report_count"]
        return [
            (
                None,
                {"fields": ["number", "tracking_code", "status", "source", "category", "urgency", "version"]},
            ),
            (_("Problem"), {"fields": ["title", "description", "address", "lat", "lng"]}),
            (_("Place"), {"fields": ["district", "community", "grid_cell"]}),
            (_("Reporter"), {"fields": [*reporter, "subject_officer"]}),
            (
                _("Handling"),
                {"fields": ["handling_unit", "assignee", "merged_into", "reject_reason", "result"]},
            ),
            (
                _("Time"),
                {
                    "classes": ["collapse"],
                    "fields": [
                        "deadline",
                        "due_at",
                        "reported_at",
                        "registered_at",
                        "dispatched_at",
                        "signed_at",
                        "resolved_at",
                        "closed_at",
                        "rejected_at",
                        "parked_at",
                        "parked_hours",
                        "updated_at",
                    ],
                },
            ),
            (
                _("Counters"),
                {
                    "classes": ["collapse"],
                    "fields": [
                        "return_count",
                        "rework_count",
                        "extension_count",
                        "reopen_count",
                        "escalation_level",
                        "escalated_at",
                    ],
                },
            ),
        ]

    @admin.display(description=_("reporter name"))
    def masked_reporter_name(self, obj: Case) -> str:
        return mask_name(obj.reporter_name)

    @admin.display(description=_("reporter phone"))
    def masked_reporter_phone(self, obj: Case) -> str:
        return mask_phone(obj.reporter_phone)


# --- monthly assessment (cases.dashboard) ------------------------------------


@admin.register(AssessmentWeights)
class AssessmentWeightsAdmin(admin.ModelAdmin):
    """The composite score's weights: one row, audited on every change."""

    list_display = ["__str__", "updated_at", "updated_by"]
    fields = [*AssessmentWeights.KEYS, "updated_at", "updated_by"]
    readonly_fields = ["updated_at", "updated_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not AssessmentWeights.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: AssessmentWeights, form: Any, change: bool) -> None:
        from chengguan import clock
        from chengguan.audit import audit

        obj.updated_by = request.user  # type: ignore[assignment]
        obj.updated_at = clock.now()
        super().save_model(request, obj, form, change)
        audit(actor=request.user, action="assessment_weights.set", target=obj, **obj.as_dict())  # type: ignore[arg-type]


@admin.register(TwoWayRating)
class TwoWayRatingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Ratings are given on the assessment pages (cases.assessment); here they are only looked at."""

    list_display = ["month", "community", "direction", "liaison", "score", "rater", "created_at"]
    list_filter = ["direction", "month", "score"]
    search_fields = ["community__name", "liaison__name", "rater__name"]
    list_select_related = ["community", "liaison", "rater"]


@admin.register(Open311Client)
class Open311ClientAdmin(admin.ModelAdmin):
    """API keys of the Open311 endpoint's machine clients; deactivate to revoke."""

    list_display = ["name", "source", "jurisdiction_id", "account", "is_active", "created_at"]
    list_filter = ["source", "is_active"]
    search_fields = ["name", "jurisdiction_id"]
    raw_id_fields = ["account"]
    readonly_fields = ["created_at"]
