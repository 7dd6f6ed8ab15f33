"""Forms of the operator's intake desk (受理台).

They validate what the operator typed and turn it into the arguments of one
service call; the services check the rules of the workflow again and have
the last word (their DomainError messages are shown as they are).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from cases.attachments import MAX_PHOTOS_PER_UPLOAD
from cases.choices import OPEN_STATUSES, CaseSource, RejectReason, Urgency
from cases.models import Case, Category
from cases.services import MAX_DESCRIPTION, MAX_NOTE, OFFICER_ROLES, PHONE_RE
from chengguan.permissions import restrict
from communities.models import Community
from communities.selectors import locate_point

User = get_user_model()
# Staff intake channels, most frequent first (the first is the default).
INTAKE_SOURCES: list[CaseSource] = [
    CaseSource.HOTLINE_12345,
    CaseSource.HOTLINE_12319,
    CaseSource.WALK_IN,
    CaseSource.MEDIA,
    CaseSource.LEADERSHIP,
    CaseSource.VOLUNTEER,
]
IDEMPOTENCY_KEY_RE = re.compile(r"^[0-9a-fA-F-]{32,36}$")
THEN_REGISTER = "register"
# The entry of the category list that leaves the classification to later.
UNSURE = _("Unsure")


# --- choices shared by the forms and the templates ----------------------------


def intake_categories() -> QuerySet[Category]:
    """The subcategories (小类) an operator files cases under, by code."""
    return (
        Category.objects.filter(is_active=True, parent__isnull=False)
        .select_related("parent")
        .order_by("code")
    )


def category_label(category: Category) -> str:
    """What the category box shows and accepts back: code first, so typing the code finds it."""
    return f"{category.code} {category.local_name}"


def intake_communities(user: Any) -> QuerySet[Community]:
    """The communities the operator oversees, through the gate."""
    # Boundaries can be large and are not needed for a choice list.
    queryset = (
        Community.objects.filter(is_active=True)
        .select_related("street")
        .defer("boundary", "street__boundary")
    )
    return restrict(queryset, user).order_by("street__code", "code")


def conduct_subjects() -> QuerySet[Any]:
    """The officers a complaint about conduct may name (cases.services.OFFICER_ROLES)."""
    return (
        User.objects.filter(is_active=True, groups__name__in=OFFICER_ROLES)
        .distinct()
        .order_by("name", "username")
    )


class OfficerChoiceField(forms.ModelChoiceField):
    """The officer a report complains about; empty for a report about a problem in the street."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Officer complained about"))
        kwargs.setdefault("required", False)
        kwargs.setdefault("empty_label", _("None: not a complaint about an officer"))
        kwargs.setdefault(
            "help_text",
            _("A complaint about an officer's conduct goes to supervisors only; the officer never sees it."),
        )
        super().__init__(queryset=User.objects.none(), **kwargs)

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class CommunityChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Community) -> str:  # type: ignore[override]
        return f"{obj.name}（{obj.street.name}）"


class CategoryField(forms.Field):
    """A searchable category box (an <input> with a <datalist>, no script needed).

    Accepts a leaf category's code, "code name" as the list offers it, or its
    exact name; an empty box (or the "unsure" entry) means the operator
    leaves the classification for later.
    """

    widget = forms.TextInput

    def __init__(self, *, categories: Iterable[Category] = (), **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.categories = categories

    def to_python(self, value: Any) -> Category | None:  # type: ignore[override]
        text = " ".join(str(value or "").split())
        if not text or text in {str(UNSURE), "unsure", "不确定"}:
            return None
        leaves = list(self.categories)
        by_code = {c.code: c for c in leaves}
        code = text.split(" ", 1)[0]
        if code in by_code:
            return by_code[code]
        for category in leaves:
            if text in {category.name, category.name_en, category_label(category), str(category)}:
                return category
        # Part of a name is enough when it names one category only ("摊贩").
        needle = text.casefold()
        matches = [c for c in leaves if needle in c.name.casefold() or needle in c.name_en.casefold()]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise forms.ValidationError(
                _("“%(value)s” fits several categories: %(names)s. Pick one from the list."),
                code="ambiguous_category",
                params={"value": text, "names": "; ".join(category_label(c) for c in matches[:5])},
            )
        raise forms.ValidationError(
            _("“%(value)s” is not a category. Type a code or a name and pick one from the list."),
            code="invalid_category",
            params={"value": text},
        )

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Category):
            return category_label(value)
        return value


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Several photos in one <input type=file multiple>; the service checks their content."""

    widget = MultiplePhotoInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        files = [super(MultiplePhotoField, self).clean(f, initial) for f in files]
        if len(files) > MAX_PHOTOS_PER_UPLOAD:
            raise forms.ValidationError(
                _("At most %(max)d photos can be uploaded at once."),
                code="too_many",
                params={"max": MAX_PHOTOS_PER_UPLOAD},
            )
        return [f for f in files if f]


def _check_phone(value: str) -> str:
    value = (value or "").strip()
    if value and not PHONE_RE.match(value):
        raise forms.ValidationError(_("Please enter a valid phone number."), code="invalid_phone")
    return value


# --- the intake form ------------------------------------------------------------


class IntakeForm(forms.Form):
    """A report taken on the phone or at the counter.

    `then` says what to do right after filing: nothing (the report waits in
    the inbox) or register it at once; `merge_into` files it and merges it
    into an open case the duplicate hint offered.
    """

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    source = forms.ChoiceField(
        label=_("Source"),
        choices=[(s.value, s.label) for s in INTAKE_SOURCES],
        initial=INTAKE_SOURCES[0],
        widget=forms.Select(attrs={"autofocus": True, "accesskey": "n"}),
    )
    reporter_phone = forms.CharField(
        label=_("Caller phone"),
        required=False,
        max_length=32,
        widget=forms.TextInput(
            attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off", "accesskey": "p"}
        ),
    )
    reporter_name = forms.CharField(
        label=_("Caller name"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    category = CategoryField(
        label=_("Category"),
        widget=forms.TextInput(
            attrs={
                "list": "intake-categories",
                "accesskey": "c",
                "autocomplete": "off",
                "placeholder": _("Type a code or a name; leave empty if unsure"),
            }
        ),
    )
    urgency = forms.ChoiceField(
        label=_("Urgency"), required=False, choices=[("", _("As the category says")), *Urgency.choices]
    )
    community = CommunityChoiceField(
        label=_("Community"),
        queryset=Community.objects.none(),
        empty_label=_("Choose a community"),
        widget=forms.Select(attrs={"accesskey": "m"}),
    )
    address = forms.CharField(
        label=_("Address"),
        required=False,
        max_length=200,
        help_text=_("Needed unless you give the coordinates."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    lat = forms.FloatField(
        label=_("Latitude"),
        required=False,
        min_value=-90,
        max_value=90,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    lng = forms.FloatField(
        label=_("Longitude"),
        required=False,
        min_value=-180,
        max_value=180,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    subject_officer = OfficerChoiceField()
    photos = MultiplePhotoField(
        label=_("Photos"),
        help_text=_("JPEG, PNG or WebP, up to 6."),
        widget=MultiplePhotoInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=MAX_DESCRIPTION,
        help_text=_("Enter files the report; Shift+Enter starts a new line."),
        widget=forms.Textarea(attrs={"rows": 4, "accesskey": "d"}),
    )
    then = forms.ChoiceField(
        required=False, choices=[("", _("File only")), (THEN_REGISTER, _("File and register"))]
    )
    merge_into = forms.CharField(required=False, max_length=32)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.categories = list(intake_categories())
        self.fields["category"].categories = self.categories  # type: ignore[attr-defined]
        communities = intake_communities(user)
        self.fields["community"].queryset = communities  # type: ignore[attr-defined]
        self.fields["subject_officer"].queryset = conduct_subjects()  # type: ignore[attr-defined]
        self.master_case: Case | None = None

    def clean_idempotency_key(self) -> str:
        key = self.cleaned_data["idempotency_key"].strip()
        if not IDEMPOTENCY_KEY_RE.match(key):
            raise forms.ValidationError(_("The form has expired. Please reload the page."), code="bad_key")
        return key

    def clean_reporter_phone(self) -> str:
        return _check_phone(self.cleaned_data["reporter_phone"])

    def clean_merge_into(self) -> str:
        number = self.cleaned_data["merge_into"].strip()
        if number:
            self.master_case = _visible_open_case(self.user, number)
            if self.master_case is None:
                raise forms.ValidationError(
                    _("There is no open case numbered %(number)s in your area."),
                    code="no_master",
                    params={"number": number},
                )
        return number

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        lat, lng = data.get("lat"), data.get("lng")
        if (lat is None) != (lng is None) and "lat" not in self.errors and "lng" not in self.errors:
            self.add_error(
                "lng" if lat is not None else "lat", _("Give both latitude and longitude, or neither.")
            )
        has_point = lat is not None and lng is not None
        if not has_point and not (data.get("address") or "").strip() and "address" not in self.errors:
            self.add_error("address", _("Give an address (or the coordinates) so the place can be found."))
        community = data.get("community")
        if lat is not None and lng is not None and community is not None:
            located = locate_point(lat, lng).community
            if located is not None and located.pk != community.pk:
                self.add_error(
                    "lat",
                    _("These coordinates lie in %(community)s, not in the community chosen.")
                    % {"community": located.name},
                )
        if (
            data.get("then") == THEN_REGISTER
            and data.get("category") is None
            and "category" not in self.errors
        ):
            self.add_error("category", _("Choose a category to register the case at once."))
        return data

    def report_kwargs(self) -> dict[str, Any]:
        """The arguments of cases.services.case_report."""
        data = self.cleaned_data
        return {
            "source": data["source"],
            "reporter_phone": data["reporter_phone"],
            "reporter_name": data["reporter_name"].strip(),
            "category": data["category"],
            "urgency": data["urgency"] or None,
            "community": data["community"],
            "address": data["address"].strip(),
            "lat": data["lat"],
            "lng": data["lng"],
            "description": data["description"],
            "subject_officer": data["subject_officer"],
            "photos": data["photos"],
            "idempotency_key": data["idempotency_key"],
        }


def _visible_open_case(user: Any, number: str) -> Case | None:
    """An open case the user can see, by number: what a report may be merged into."""
    return restrict(Case.objects.all(), user, "view").filter(number=number, status__in=OPEN_STATUSES).first()


class DuplicateQueryForm(forms.Form):
    """What the duplicate hint needs from the half-filled intake form."""

    category = CategoryField()
    community = forms.ModelChoiceField(queryset=Community.objects.none(), required=False)
    lat = forms.FloatField(required=False, min_value=-90, max_value=90)
    lng = forms.FloatField(required=False, min_value=-180, max_value=180)
    reporter_phone = forms.CharField(required=False, max_length=32)
    # Compared with open cases' when the report has no point (cases.selectors.open_cases_alike).
    address = forms.CharField(required=False)
    description = forms.CharField(required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].categories = intake_categories()  # type: ignore[attr-defined]
        self.fields["community"].queryset = intake_communities(user)  # type: ignore[attr-defined]

    def clean_reporter_phone(self) -> str:
        value = (self.cleaned_data.get("reporter_phone") or "").strip()
        # A half-typed number simply finds nothing.
        return value if PHONE_RE.match(value) else ""

    def has_own_point(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return data.get("lat") is not None and data.get("lng") is not None

    def point(self) -> tuple[float, float] | None:
        """The reported point, or the community's centre when there is none."""
        data = getattr(self, "cleaned_data", {})
        lat, lng = data.get("lat"), data.get("lng")
        if lat is not None and lng is not None:
            return lat, lng
        community = data.get("community")
        if (
            community is not None
            and community.centroid_lat is not None
            and community.centroid_lng is not None
        ):
            return community.centroid_lat, community.centroid_lng
        return None


# --- inbox actions -----------------------------------------------------------


class CaseActionForm(forms.Form):
    """Every inbox action names the version of the case the operator saw."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class RegisterForm(CaseActionForm):
    category = CategoryField(label=_("Category"))
    urgency = forms.ChoiceField(label=_("Urgency"), required=False, choices=Urgency.choices)
    community = CommunityChoiceField(label=_("Community"), required=False, queryset=Community.objects.none())
    # Empty leaves the case as it is: a report is marked, never unmarked, here.
    subject_officer = OfficerChoiceField()
    note = forms.CharField(label=_("Note"), required=False, max_length=MAX_NOTE)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].categories = intake_categories()  # type: ignore[attr-defined]
        self.fields["community"].queryset = intake_communities(user)  # type: ignore[attr-defined]
        self.fields["subject_officer"].queryset = conduct_subjects()  # type: ignore[attr-defined]

    def corrections(self, case: Case) -> dict[str, Any]:
        """Only what differs from the case: an unchanged value is not a correction."""
        data = self.cleaned_data
        changes: dict[str, Any] = {}
        if data["category"] is not None and data["category"].pk != case.category_id:
            changes["category"] = data["category"]
        if data["urgency"] and data["urgency"] != case.urgency:
            changes["urgency"] = data["urgency"]
        if data["community"] is not None and data["community"].pk != case.community_id:
            changes["community"] = data["community"]
        officer = data["subject_officer"]
        if officer is not None and officer.pk != case.subject_officer_id:
            changes["subject_officer"] = officer
        return changes


class RejectForm(CaseActionForm):
    reason = forms.ChoiceField(label=_("Reason"), choices=RejectReason.choices)
    note = forms.CharField(label=_("Note to the reporter"), required=False, max_length=MAX_NOTE)


class MergeForm(CaseActionForm):
    master = forms.CharField(label=_("Merge into case number"), max_length=32)
    note = forms.CharField(label=_("Note"), required=False, max_length=MAX_NOTE)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.master_case: Case | None = None

    def clean_master(self) -> str:
        number = self.cleaned_data["master"].strip().upper()
        self.master_case = _visible_open_case(self.user, number)
        if self.master_case is None:
            raise forms.ValidationError(
                _("There is no open case numbered %(number)s in your area."),
                code="no_master",
                params={"number": number},
            )
        return number


def first_error(form: forms.Form) -> str:
    """One line saying what is wrong, for a message or an inline note."""
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else None
        return f"{label}: {errors[0]}" if label else str(errors[0])
    return ""
