"""Forms of the casework desk: one small form per case action, plus bulk dispatch.

The forms only shape input (types, required fields, choices offered); every
rule about the case itself is the service's. `verb_input()` turns the
cleaned data into the input of the action's verb (cases.verbs), named as the
service and the API name it. Each action form carries the case's `version`
so that a form filled in on a page that has since gone stale is refused
(StaleObject).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import UploadedFile
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermission

from cases.attachments import MAX_PHOTOS_PER_UPLOAD
from cases.choices import ReplyPurpose, Urgency
from cases.filtersets import DateInput
from cases.models import Case, CaseAttachment, Category, ReplyTemplate
from cases.selectors import reply_templates_for
from cases.verbs import pending_extension_of, pending_parking_of
from chengguan import clock
from chengguan.permissions import restrict, scope_for
from chengguan.roles import Role
from chengguan.worktime import get_calendar
from communities.models import Community, HandlingUnit
from liaisons.choices import AssignmentRole
from liaisons.selectors import current_liaison

User = get_user_model()

NOTE_MAX = 1000
RESULT_MAX = 2000


def _text(label: Any, *, required: bool, max_length: int = NOTE_MAX, rows: int = 2) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=max_length,
        widget=forms.Textarea(attrs={"rows": rows}),
    )


# --- handler choices ----------------------------------------------------------


def _liaisons() -> QuerySet[Any]:
    return (
        User.objects.filter(is_active=True, groups__name=Role.LIAISON).distinct().order_by("name", "username")
    )


def _working_in(communities: QuerySet[Community]) -> QuerySet[Any]:
    """Users granted `work_in_community` on any of these communities (guardian user permissions)."""
    grants = UserObjectPermission.objects.filter(
        content_type=ContentType.objects.get_for_model(Community),
        permission__codename="work_in_community",
        object_pk__in=communities.annotate(pk_text=Cast("pk", CharField())).values("pk_text"),
    )
    return grants.values("user_id")


def liaisons_for_case(case: Case) -> QuerySet[Any]:
    if case.community_id is None:
        return User.objects.none()
    return _liaisons().filter(pk__in=_working_in(Community.objects.filter(pk=case.community_id)))


def liaisons_in_scope(user: Any) -> QuerySet[Any]:
    """Liaisons of the communities the user may see (all of them for city-wide staff)."""
    if scope_for(user).city_wide:
        return _liaisons()
    return _liaisons().filter(pk__in=_working_in(restrict(Community.objects.all(), user)))


def units_in_scope(user: Any, case: Case | None = None) -> QuerySet[HandlingUnit]:
    units = restrict(HandlingUnit.objects.filter(is_active=True), user).order_by("name", "code")
    if case is not None:
        # A district's units work in their district; city-level units everywhere.
        units = units.filter(Q(district__isnull=True) | Q(district_id=case.district_id))
    return units


def _grouped(suggested: list[tuple[Any, str]], others: list[tuple[Any, str]]) -> list[Any]:
    choices: list[Any] = [("", "---------")]
    if suggested:
        choices.append((_("Suggested"), suggested))
        if others:
            choices.append((_("Others"), others))
    else:
        choices.extend(others)
    return choices


# --- fields -------------------------------------------------------------------


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Several photos in one input; the service checks that each is really an image."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        attrs = {"accept": "image/jpeg,image/png,image/webp", "multiple": True}
        kwargs.setdefault("widget", MultiplePhotoInput(attrs=attrs))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        if isinstance(data, list | tuple):
            files = [single(item, initial) for item in data if item]
        else:
            files = [single(data, initial)] if data else []
        if len(files) > MAX_PHOTOS_PER_UPLOAD:
            raise forms.ValidationError(
                _("At most %(max)d photos can be uploaded at once.") % {"max": MAX_PHOTOS_PER_UPLOAD}
            )
        return files


# --- per-case action forms ------------------------------------------------------


class ReplyTemplateSelect(forms.Select):
    """A <select> of reply templates whose options carry their text (data-body)
    for static/js/reply-templates.js; the form names its textarea (data-target)."""

    def __init__(self, *args: Any, bodies: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bodies = bodies or {}

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        body = self.bodies.get(str(value))
        if body:
            option["attrs"]["data-body"] = body
        return option


def case_reply_templates(case: Case) -> list[ReplyTemplate]:
    """The case's reply templates, read once per case object (one query for all its forms)."""
    cached = getattr(case, "_reply_templates", None)
    if cached is None:
        cached = list(reply_templates_for(case))
        case._reply_templates = cached  # type: ignore[attr-defined]
    return cached


class CaseActionForm(forms.Form):
    """Base of the action forms: the case's version, and ids unique to the action.

    A form whose `reply_field` names one of its text fields offers the reply
    templates (常用语) of `reply_purpose` for it: a `reply_template` select;
    the page's script inserts the chosen text, and without the script the
    "Insert" button posts the form back with the text inserted (cases.views.desk).
    """

    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    reply_field: str | None = None
    reply_purpose: str = ReplyPurpose.INTERNAL

    def __init__(self, *args: Any, case: Case, user: Any, action: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{action or 'action'}_%s")
        kwargs.setdefault("initial", {}).setdefault("expected_version", case.version)
        super().__init__(*args, **kwargs)
        self.case, self.user = case, user
        self.keep_open = False
        if self.reply_field and self.reply_field in self.fields:
            self._add_reply_templates(action)

    def _add_reply_templates(self, action: str) -> None:
        templates = [t for t in case_reply_templates(self.case) if t.purpose == self.reply_purpose]
        if not templates:
            return
        bodies = {str(t.pk): t.body for t in templates}
        target = self.auto_id % self.reply_field if isinstance(self.auto_id, str) else ""
        self.fields["reply_template"] = forms.ChoiceField(
            label=_("Reply template") if self.reply_purpose == ReplyPurpose.PUBLIC else _("Note template"),
            required=False,
            choices=[("", _("— choose a ready phrase —")), *((str(t.pk), t.title) for t in templates)],
            widget=ReplyTemplateSelect(
                bodies=bodies, attrs={"data-reply-templates": "", "data-target": target}
            ),
        )
        self.template_bodies = bodies

    def insert_template(self, template_id: str) -> bool:
        """Without JavaScript: append the chosen template's text to what the
        (unbound) form shows in its reply field."""
        body = getattr(self, "template_bodies", {}).get(template_id)
        if not body or not self.reply_field:
            return False
        typed = str(self.initial.get(self.reply_field) or "").strip()
        self.initial[self.reply_field] = f"{typed}\n{body}" if typed else body
        return True

    @property
    def offers_templates(self) -> bool:
        return "reply_template" in self.fields

    def verb_input(self) -> dict[str, Any]:
        """The cleaned data as the verb's input: by default every field but the
        version and the template picker, under its own name."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in ("expected_version", "reply_template")
        }


class DispatchForm(CaseActionForm):
    handling_unit = forms.ModelChoiceField(
        label=_("Handling unit"), queryset=HandlingUnit.objects.none(), required=False
    )
    assignee = forms.ModelChoiceField(label=_("Liaison"), queryset=User.objects.none(), required=False)
    note = _text(_("Note"), required=False)
    reply_field = "note"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.suggest_handlers()

    def suggest_handlers(self) -> None:
        """Units of the case's category first, then the community's own liaisons."""
        case = self.case
        units = units_in_scope(self.user, case)
        unit_field = cast(forms.ModelChoiceField, self.fields["handling_unit"])
        unit_field.queryset = units
        category_ids = [pk for pk in (case.category_id, case.category and case.category.parent_id) if pk]
        units_list = list(units)
        usual = set(
            HandlingUnit.objects.filter(categories__in=category_ids).values_list("pk", flat=True)
            if category_ids
            else []
        )
        unit_field.widget.choices = _grouped(
            [(u.pk, str(u)) for u in units_list if u.pk in usual],
            [(u.pk, str(u)) for u in units_list if u.pk not in usual],
        )

        roles: dict[int, str] = {}
        if case.community is not None:
            for role in (AssignmentRole.RESPONSIBLE, AssignmentRole.BACKUP):
                assignment = current_liaison(case.community, role)
                if assignment is not None:
                    roles.setdefault(assignment.liaison_id, str(role.label))
        # The backup liaison (AB角) is offered even without access to the
        # community of their own: being dispatched the case gives them that.
        liaisons = liaisons_for_case(case) | _liaisons().filter(pk__in=list(roles))
        if case.subject_officer_id is not None:
            # A conduct complaint never goes to the officer it is about (cases.services.case_dispatch).
            liaisons = liaisons.exclude(pk=case.subject_officer_id)
        assignee_field = cast(forms.ModelChoiceField, self.fields["assignee"])
        assignee_field.queryset = liaisons
        people = list(liaisons)
        assignee_field.widget.choices = _grouped(
            [(p.pk, f"{p.display_name} · {roles[p.pk]}") for p in people if p.pk in roles],
            [(p.pk, p.display_name) for p in people if p.pk not in roles],
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get("handling_unit") and not data.get("assignee"):
            raise forms.ValidationError(_("Choose a handling unit or a liaison."))
        return data


class ReasonForm(CaseActionForm):
    reason = _text(_("Reason"), required=True)
    reply_field = "reason"


class OptionalNoteForm(CaseActionForm):
    note = _text(_("Note"), required=False)
    reply_field = "note"


class PassForm(OptionalNoteForm):
    """Verification passed: the case closes, with a note the reporter reads."""

    reply_purpose = ReplyPurpose.PUBLIC

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["note"].help_text = _("Shown to the reporter on the tracking page.")

    def verb_input(self) -> dict[str, Any]:
        return {"passed": True, "note": self.cleaned_data["note"]}


class ReworkForm(ReasonForm):
    """Verification failed: the case goes back to its handler; the reason is the note."""

    def verb_input(self) -> dict[str, Any]:
        return {"passed": False, "note": self.cleaned_data["reason"]}


class RequiredNoteForm(CaseActionForm):
    note = _text(_("Note"), required=True)
    reply_field = "note"


class SubmitResultForm(CaseActionForm):
    result = _text(_("What was done"), required=True, max_length=RESULT_MAX, rows=4)
    reply_field = "result"
    reply_purpose = ReplyPurpose.PUBLIC
    photos = MultiplePhotoField(
        label=_("Photos after handling"),
        required=False,
        help_text=_("Up to %(max)d photos (JPEG, PNG or WebP).") % {"max": MAX_PHOTOS_PER_UPLOAD},
    )


def end_of_working_day(day: date) -> datetime:
    """The close of office hours on `day`, as an aware local time: an extension's new deadline."""
    closing = get_calendar().periods[-1][1]
    return timezone.make_aware(datetime.combine(day, closing))


class RequestExtensionForm(CaseActionForm):
    due_date = forms.DateField(
        label=_("New deadline"),
        widget=DateInput(),
        help_text=_("The case will be due at the end of office hours on that day."),
    )
    reason = _text(_("Reason"), required=True)
    reply_field = "reason"

    def clean_due_date(self) -> date:
        day: date = self.cleaned_data["due_date"]
        if day <= timezone.localdate(clock.now()):
            raise forms.ValidationError(_("Choose a day after today."))
        return day

    def verb_input(self) -> dict[str, Any]:
        return {
            "requested_due_at": end_of_working_day(self.cleaned_data["due_date"]),
            "reason": self.cleaned_data["reason"],
        }


class DecideExtensionForm(CaseActionForm):
    APPROVE, REFUSE = "approve", "refuse"

    request = forms.IntegerField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[(APPROVE, _("Approve")), (REFUSE, _("Refuse"))],
        widget=forms.HiddenInput,
    )
    note = _text(_("Note"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["note"].help_text = _("Required when refusing: the handler reads it.")
        self.pending = pending_extension_of(self.case)
        if self.pending is not None:
            self.fields["request"].initial = self.pending.pk

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.pending is None or data.get("request") != self.pending.pk:
            raise forms.ValidationError(
                _("This extension request has already been decided. Reload the page to see the case now.")
            )
        if data.get("decision") == self.REFUSE and not data.get("note"):
            self.add_error("note", _("Say why the extension is refused."))
        return data

    def verb_input(self) -> dict[str, Any]:
        # The request decided is the pending one, the one this form was shown for.
        return {"approve": self.cleaned_data["decision"] == self.APPROVE, "note": self.cleaned_data["note"]}


# --- parking (挂账) requests ------------------------------------------------------


class RequestParkingForm(CaseActionForm):
    reason = _text(_("Reason"), required=True)
    resume_on = forms.DateField(
        label=_("Expected to resume on"),
        required=False,
        widget=DateInput(),
        help_text=_("Optional: when the case can probably be handled again."),
    )
    reply_field = "reason"

    def clean_resume_on(self) -> date | None:
        day: date | None = self.cleaned_data.get("resume_on")
        if day is not None and day <= timezone.localdate(clock.now()):
            raise forms.ValidationError(_("Choose a day after today."))
        return day


class DecideParkingForm(CaseActionForm):
    APPROVE, REFUSE = "approve", "refuse"

    request = forms.IntegerField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[(APPROVE, _("Approve")), (REFUSE, _("Refuse"))],
        widget=forms.HiddenInput,
    )
    note = _text(_("Note"), required=False)
    reply_field = "note"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["note"].help_text = _("Required when refusing: the requester reads it.")
        self.parking = pending_parking_of(self.case)
        if self.parking is not None:
            self.fields["request"].initial = self.parking.pk

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.parking is None or data.get("request") != self.parking.pk:
            raise forms.ValidationError(
                _("This parking request has already been decided. Reload the page to see the case now.")
            )
        if data.get("decision") == self.REFUSE and not data.get("note"):
            self.add_error("note", _("Say why parking is refused."))
        return data

    def verb_input(self) -> dict[str, Any]:
        # The request decided is the pending one, the one this form was shown for.
        return {"approve": self.cleaned_data["decision"] == self.APPROVE, "note": self.cleaned_data["note"]}


# --- moderation -----------------------------------------------------------------

REASON_HELP = _("Required. Staff see it with the original in the case history; the public does not.")


class ModerateTextForm(CaseActionForm):
    title = forms.CharField(label=_("Title"), required=False, max_length=100)
    description = _text(_("Description"), required=True, max_length=RESULT_MAX, rows=4)
    reason = _text(_("Reason for the correction"), required=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["description"].initial = self.case.description
        self.fields["title"].initial = self.case.title
        self.fields["reason"].help_text = REASON_HELP


class RecategoriseForm(CaseActionForm):
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.none(), required=False)
    urgency = forms.ChoiceField(
        label=_("Urgency"),
        choices=Urgency.choices,
        required=False,
        help_text=_("A new category or urgency recounts the deadlines with its time limits."),
    )
    community = forms.ModelChoiceField(
        label=_("Community"), queryset=Community.objects.none(), required=False
    )
    address = forms.CharField(label=_("Address"), required=False, max_length=200)
    reason = _text(_("Reason for the correction"), required=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        category = cast(forms.ModelChoiceField, self.fields["category"])
        category.queryset = Category.objects.filter(is_active=True, parent__isnull=False).select_related(
            "parent"
        )
        category.initial = self.case.category_id
        self.fields["urgency"].initial = self.case.urgency
        community = cast(forms.ModelChoiceField, self.fields["community"])
        # The boundaries are large and a <select> needs none.
        community.queryset = restrict(Community.objects.defer("boundary"), self.user).order_by("name")
        community.initial = self.case.community_id
        self.fields["address"].initial = self.case.address
        self.fields["reason"].help_text = REASON_HELP

    def verb_input(self) -> dict[str, Any]:
        # "No choice" leaves the urgency as it is.
        return {**super().verb_input(), "urgency": self.cleaned_data["urgency"] or None}


class HidePhotoForm(CaseActionForm):
    attachment = forms.ModelChoiceField(
        label=_("Photo"), queryset=CaseAttachment.objects.none(), widget=forms.RadioSelect, empty_label=None
    )
    reason = _text(_("Why hide it"), required=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        photos = cast(forms.ModelChoiceField, self.fields["attachment"])
        photos.queryset = visible_photos(self.case)
        photos.label_from_instance = lambda obj: f"#{obj.pk} · {obj.get_kind_display()}"  # type: ignore[method-assign]
        self.fields["reason"].help_text = _("E.g. faces or number plates can be recognised. Required.")


def visible_photos(case: Case) -> QuerySet[CaseAttachment]:
    return case.attachments.filter(is_hidden=False).order_by("created_at", "id")


class UnhidePhotoForm(CaseActionForm):
    attachment = forms.ModelChoiceField(
        label=_("Photo"), queryset=CaseAttachment.objects.none(), widget=forms.RadioSelect, empty_label=None
    )
    reason = _text(_("Why show it again"), required=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        photos = cast(forms.ModelChoiceField, self.fields["attachment"])
        photos.queryset = hidden_photos(self.case)
        photos.label_from_instance = lambda obj: f"#{obj.pk} · {obj.get_kind_display()}"  # type: ignore[method-assign]
        self.fields["reason"].help_text = _("E.g. hidden by mistake, or nobody can be recognised. Required.")


def hidden_photos(case: Case) -> QuerySet[CaseAttachment]:
    return case.attachments.filter(is_hidden=True).order_by("created_at", "id")


# --- bulk dispatch ------------------------------------------------------------------


class BulkDispatchForm(forms.Form):
    """Dispatch several registered cases to one unit or liaison.

    Each selected case is posted as "<id>:<version>", so a case changed since
    the queue was loaded is refused on its own without holding up the rest.
    """

    cases = forms.MultipleChoiceField(widget=forms.MultipleHiddenInput)
    handling_unit = forms.ModelChoiceField(
        label=_("Handling unit"), queryset=HandlingUnit.objects.none(), required=False
    )
    assignee = forms.ModelChoiceField(label=_("Liaison"), queryset=User.objects.none(), required=False)
    note = forms.CharField(label=_("Note"), required=False, max_length=NOTE_MAX)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_bulk_%s")
        super().__init__(*args, **kwargs)
        self.user = user
        cast(forms.ModelChoiceField, self.fields["handling_unit"]).queryset = units_in_scope(user)
        cast(forms.ModelChoiceField, self.fields["assignee"]).queryset = liaisons_in_scope(user)
        # Any "<id>:<version>" pair is acceptable input; which cases exist and
        # may be dispatched is the gate's question, answered in the view.
        self.fields["cases"].valid_value = lambda value: True  # type: ignore[attr-defined]
        self.fields["cases"].error_messages["required"] = _("Select the cases to dispatch.")

    def clean_cases(self) -> dict[int, int]:
        versions: dict[int, int] = {}
        for value in self.cleaned_data["cases"]:
            pk, _sep, version = str(value).partition(":")
            if not (pk.isdigit() and version.isdigit()):
                raise forms.ValidationError(_("The selection is not valid. Reload the page and try again."))
            versions[int(pk)] = int(version)
        return versions

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get("handling_unit") and not data.get("assignee"):
            raise forms.ValidationError(_("Choose a handling unit or a liaison."))
        return data
