"""Admin for case reference data (categories, time limits) and a read-only case viewer.

Cases change only through the workflow services (cases.services), which
check permissions and write the history; the admin may look at a case and
its history but never add, change or delete one.
"""

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from cases.models import (
    ApiCallLog,
    AssessmentWeights,
    Case,
    CaseAttachment,
    CaseEvent,
    CaseFeedback,
    Category,
    CommunityCaseSettings,
    CoReporter,
    ExtensionRequest,
    HotlinePush,
    Open311Client,
    ReplyTemplate,
    TimeLimit,
    TwoWayRating,
)
from chengguan import clock
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
    fields = ("thumbnail", "kind", "event", "uploaded_by", "created_at", "size", "is_hidden", "hidden_reason")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[CaseAttachment]:
        return super().get_queryset(request).select_related("uploaded_by", "event")

    @admin.display(description=_("photo"))
    def thumbnail(self, obj: CaseAttachment) -> str:
        if not obj.file:
            return "—"
        from django.urls import reverse

        # A hidden photo has no public URL; staff reach it through the gate.
        url = reverse("cases:photo", args=[obj.case.number, obj.pk]) if obj.is_hidden else obj.file.url
        return format_html(
            '<a href="{0}" target="_blank" rel="noopener"><img class="admin-thumb" src="{0}" alt=""></a>',
            url,
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

    # --- requests to be forgotten (cases.retention) ---------------------------------

    actions = ["forget_reporters"]

    def has_forget_permission(self, request: HttpRequest) -> bool:
        from cases.retention import can_forget

        return can_forget(request.user)

    def get_urls(self) -> list[Any]:
        from django.urls import path

        return [
            path(
                "forget-by-phone/",
                self.admin_site.admin_view(self.forget_by_phone_view),
                name="cases_case_forget_by_phone",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        extra_context = {**(extra_context or {}), "can_forget": self.has_forget_permission(request)}
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Forget the reporters of the selected cases"), permissions=["forget"])
    def forget_reporters(self, request: HttpRequest, queryset: QuerySet[Case]) -> Any:
        """By each selected case's reporter phone: all their cases and co-reports, after a confirmation."""
        from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
        from django.template.response import TemplateResponse

        from cases.forms.retention import ForgetConfirmForm
        from cases.retention import forget_preview

        phones = sorted(set(queryset.exclude(reporter_phone="").values_list("reporter_phone", flat=True)))
        if not phones:
            self.message_user(
                request, _("None of the selected cases has a reporter phone number."), messages.WARNING
            )
            return None
        form = ForgetConfirmForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._forget(request, phones, include_open=form.cleaned_data["include_open"], source="action")
            return None
        return TemplateResponse(
            request,
            "admin/cases/case/forget_reporter.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Forget reporters"),
                "form": form,
                "previews": [forget_preview(actor=request.user, phone=phone) for phone in phones],
                "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
                "action": "forget_reporters",
            },
        )

    def forget_by_phone_view(self, request: HttpRequest) -> Any:
        """The "forget by phone number" form: the number, a preview of what goes, then a confirmation."""
        from django.core.exceptions import PermissionDenied
        from django.shortcuts import redirect
        from django.template.response import TemplateResponse

        from cases.forms.retention import ForgetByPhoneForm
        from cases.retention import forget_preview

        if not self.has_forget_permission(request):
            raise PermissionDenied
        form = ForgetByPhoneForm(request.POST or None)
        previews = []
        if request.method == "POST" and form.is_valid():
            phone = form.cleaned_data["phone"]
            if form.cleaned_data["confirm"]:
                self._forget(request, [phone], include_open=form.cleaned_data["include_open"], source="form")
                return redirect("admin:cases_case_changelist")
            previews = [forget_preview(actor=request.user, phone=phone)]
        return TemplateResponse(
            request,
            "admin/cases/case/forget_reporter.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Forget by phone number"),
                "form": form,
                "previews": previews,
                "by_phone": True,
            },
        )

    def _forget(self, request: HttpRequest, phones: list[str], *, include_open: bool, source: str) -> None:
        from cases.retention import reporter_forget

        for phone in phones:
            outcome = reporter_forget(
                actor=request.user, phone=phone, include_open=include_open, source=source
            )
            self.message_user(
                request,
                _(
                    "%(phone)s: personal data removed from %(cases)d case(s), %(co_reports)d co-report(s) "
                    "and %(messages)d message(s); %(open)d open case(s) keep it until they are closed."
                )
                % {
                    "phone": mask_phone(phone),
                    "cases": outcome.anonymised_cases,
                    "co_reports": outcome.co_reports,
                    "messages": outcome.messages,
                    "open": outcome.kept_open,
                },
                messages.SUCCESS,
            )


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
    """API keys of the machine clients (Open311 and the REST API); revoke to stop a key at once.

    The key is shown once, in the message after the client is added or a new
    key issued; only its digest and first characters are stored.
    """

    list_display = [
        "name",
        "key_prefix",
        "source",
        "account",
        "can_write",
        "is_active",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["source", "is_active", "can_write", "push_kind"]
    search_fields = ["name", "jurisdiction_id", "key_prefix"]
    raw_id_fields = ["account"]
    filter_horizontal = ["districts", "communities"]
    readonly_fields = ["key_prefix", "last_used_at", "revoked_at", "created_at"]
    actions = ["revoke_keys", "issue_new_keys"]
    # A push URL typed without a scheme is taken as https (Django 6's default).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request: HttpRequest, obj: Open311Client, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            self._show_key_once(request, obj)

    def _show_key_once(self, request: HttpRequest, client: Open311Client) -> None:
        self.message_user(
            request,
            format_html(
                str(_("API key of {}: <code>{}</code> — copy it now, it will not be shown again.")),
                client.name,
                client.api_key or "",
            ),
            messages.WARNING,
        )

    @admin.action(description=_("Revoke the keys of the selected clients"))
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[Open311Client]) -> None:
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=clock.now())
        self.message_user(request, _("%(count)d key(s) revoked.") % {"count": revoked}, messages.SUCCESS)

    @admin.action(description=_("Issue new keys to the selected clients (the old ones stop working)"))
    def issue_new_keys(self, request: HttpRequest, queryset: QuerySet[Open311Client]) -> None:
        for client in queryset:
            client.issue_key()
            client.revoked_at = None
            client.save(update_fields=["key_prefix", "key_digest", "revoked_at"])
            self._show_key_once(request, client)


@admin.register(ApiCallLog)
class ApiCallLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Calls made with API keys; written by chengguan.api_keys, pruned by a beat job."""

    list_display = ["at", "client", "method", "path", "status", "duration_ms", "remote_addr"]
    list_filter = ["method", "status", "client"]
    search_fields = ["path", "remote_addr"]
    list_select_related = ["client"]
    date_hierarchy = "at"
    show_full_result_count = False


@admin.register(HotlinePush)
class HotlinePushAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The outbox of pushes to the 12345 platform (cases.hotline); operators retry on /desk/hotline/."""

    list_display = [
        "created_at",
        "case",
        "client",
        "action",
        "case_status",
        "status",
        "attempts",
        "response_code",
    ]
    list_filter = ["status", "client", "case_status"]
    search_fields = ["case__number"]
    list_select_related = ["case", "client"]
    date_hierarchy = "created_at"


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(admin.ModelAdmin):
    """Ready phrases (常用语) offered on the case desk's note and reply fields."""

    list_display = ("title", "purpose", "category", "is_active", "sort_order")
    list_editable = ("is_active", "sort_order")
    list_filter = ("purpose", "is_active", ("category", admin.RelatedOnlyFieldListFilter))
    search_fields = ("title", "body")
    autocomplete_fields = ("category",)
    list_select_related = ("category", "category__parent")


@admin.register(CommunityCaseSettings)
class CommunityCaseSettingsAdmin(admin.ModelAdmin):
    list_display = ("community", "liaison_verifies")
    list_editable = ("liaison_verifies",)
    list_filter = ("liaison_verifies",)
    search_fields = ("community__name", "community__code")
    autocomplete_fields = ("community",)
    list_select_related = ("community",)
