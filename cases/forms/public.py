"""Forms of the resident pages: the complaint form, the co-report, tracking look-up and rating.

They check the shape of the input and the per-category form rules; the
services (cases.services) check everything again and write. Messages are
English msgids, shown in Chinese by default.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from captcha.fields import CaptchaField
from django import forms
from django.conf import settings
from django.core import signing
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.functional import cached_property
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from cases.attachments import MAX_PHOTOS_PER_UPLOAD
from cases.choices import CaseSource, Satisfaction
from cases.models import Case, Category
from cases.services import MAX_DESCRIPTION, PHONE_RE, normalise_phone
from chengguan import refdata
from chengguan.errors import DomainError
from communities.models import Community, Facility
from communities.public import StreetGroup, communities_by_street, public_communities, public_facility

UNSURE = "unsure"
QR_SOURCE = "qr"
NEARBY_TOKEN_SALT = "cases.public.nearby"
# A nearby case offered while filing can be joined for this long.
NEARBY_TOKEN_MAX_AGE = 2 * 3600


def _clean_phone(value: str | None) -> str:
    phone = normalise_phone(value)
    if phone and not PHONE_RE.match(phone):
        raise ValidationError(_("Please enter a valid phone number."), code="invalid_phone")
    return phone


def _load_public_categories() -> list[Category]:
    return list(
        Category.objects.filter(is_active=True, parent__isnull=False, parent__is_active=True)
        .select_related("parent")
        .order_by("parent__sort_order", "parent__code", "sort_order", "code")
    )


# Read by every complaint form, shown or filed; kept per process (chengguan.refdata).
PUBLIC_CATEGORIES = refdata.Snapshot("public categories", _load_public_categories)


def public_categories() -> list[Category]:
    """Leaf categories a resident can choose, in the admin's order under their parent's."""
    return PUBLIC_CATEGORIES.get()


def public_category_rules() -> list[CategoryRules]:
    """The form rules of `public_categories()`, in the active language."""
    return PUBLIC_CATEGORIES.derive(
        ("rules", get_language()), lambda categories: [CategoryRules.of(c) for c in categories]
    )


@dataclass(frozen=True)
class CategoryRules:
    """What the complaint form does when a category is chosen.

    A subcategory without its own notice, hint or closed message shows its
    parent's; the flags are its own.
    """

    pk: int
    icon: str
    name: str
    group: str
    search_text: str
    hint: str
    notice: str
    photo_required: bool
    contact_required: bool
    anonymous_allowed: bool
    closed: bool
    closed_message: str

    @classmethod
    def of(cls, category: Category) -> CategoryRules:
        parent = category.parent if category.parent_id else None
        closed_message = category.closed_message or (parent.closed_message if parent else "")
        return cls(
            pk=category.pk,
            icon=category.icon or (parent.icon if parent else "") or "•",
            name=category.local_name,
            group=parent.local_name if parent else "",
            search_text=" ".join(
                part
                for part in (
                    category.name,
                    category.name_en,
                    category.description,
                    parent.name if parent else "",
                    parent.name_en if parent else "",
                )
                if part
            ).lower(),
            hint=category.description_hint or (parent.description_hint if parent else ""),
            notice=category.notice or (parent.notice if parent else ""),
            photo_required=category.photo_required,
            contact_required=category.contact_required,
            anonymous_allowed=category.anonymous_allowed,
            closed=category.public_reporting_closed,
            closed_message=closed_message
            or str(_("This kind of problem cannot be reported online. Please call 12345.")),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "hint": self.hint,
            "notice": self.notice,
            "photoRequired": self.photo_required,
            "contactRequired": self.contact_required,
            "anonymousAllowed": self.anonymous_allowed,
            "closed": self.closed,
            "closedMessage": self.closed_message,
        }


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Up to MAX_PHOTOS_PER_UPLOAD files; their content is checked by the service."""

    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        uploads = [item for item in (data if isinstance(data, list | tuple) else [data]) if item]
        if len(uploads) > MAX_PHOTOS_PER_UPLOAD:
            raise ValidationError(
                _("At most %(max)d photos can be uploaded at once.") % {"max": MAX_PHOTOS_PER_UPLOAD},
                code="too_many",
            )
        if self.required and not uploads:
            raise ValidationError(self.error_messages["required"], code="required")
        return [super(PhotosField, self).clean(upload) for upload in uploads]


def _phone_widget() -> forms.TextInput:
    return forms.TextInput(
        attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel", "maxlength": "20"}
    )


class ReportForm(forms.Form):
    """The public complaint form (网上投诉)."""

    # The page lists the kinds itself (category_groups); the value is checked in
    # clean_category against the same rules, without a choices list to build per form.
    category = forms.CharField(
        label=_("What kind of problem is it?"),
        error_messages={
            "required": _("Choose what kind of problem it is, or “Not sure”."),
            "invalid_choice": _("Choose what kind of problem it is, or “Not sure”."),
        },
    )
    description = forms.CharField(
        label=_("Describe the problem"),
        max_length=MAX_DESCRIPTION,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    lng = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)
    address = forms.CharField(
        label=_("Address or landmark"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    community = forms.ModelChoiceField(
        label=_("Community"),
        queryset=Community.objects.none(),
        required=False,
        empty_label=_("I don't know"),
    )
    photos = PhotosField(
        label=_("Photos"),
        required=False,
        widget=MultipleFileInput(attrs={"accept": "image/*"}),
    )
    reporter_name = forms.CharField(
        label=_("Your name"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    reporter_phone = forms.CharField(
        label=_("Mobile phone"), required=False, max_length=32, widget=_phone_widget()
    )
    is_anonymous = forms.BooleanField(label=_("Stay anonymous to the public"), required=False)
    consent = forms.BooleanField(
        label=_("I have read the privacy notice and agree that my report is processed as described."),
        error_messages={
            "required": _("Please agree to the privacy notice so that we can handle your report.")
        },
    )
    idempotency_key = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    via = forms.CharField(required=False, max_length=16, widget=forms.HiddenInput)
    # The code of the facility whose QR service code was scanned (城市服务码).
    facility = forms.CharField(required=False, max_length=32, widget=forms.HiddenInput)

    def __init__(self, *args: Any, captcha: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The same words as the service's own check (cases.services._clean_text).
        self.fields["description"].error_messages["required"] = gettext("Please fill in the %(field)s.") % {
            "field": gettext("description")
        }
        self.category_rules = public_category_rules()
        self._categories = {str(rules.pk): rules for rules in self.category_rules}
        # clean_category picks the chosen one from these: no second query.
        self._category_objects = PUBLIC_CATEGORIES.derive(
            "by pk", lambda categories: {str(category.pk): category for category in categories}
        )
        communities = public_communities()
        community_field = self.fields["community"]
        assert isinstance(community_field, forms.ModelChoiceField)
        community_field.queryset = communities
        if captcha:
            self.fields["captcha"] = CaptchaField(
                label=_("Type the characters in the picture"),
                error_messages={"invalid": _("The characters do not match the picture. Please try again.")},
            )
        if not self.is_bound and not self.initial.get("idempotency_key"):
            self.initial["idempotency_key"] = str(uuid.uuid4())

    @cached_property
    def community_groups(self) -> list[StreetGroup]:
        """The community select's groups, read only when the form is shown (not when filing)."""
        field = self.fields["community"]
        assert isinstance(field, forms.ModelChoiceField)
        return communities_by_street(field.queryset)

    # --- field cleaning ---------------------------------------------------------

    def clean_category(self) -> Category | None:
        value = self.cleaned_data["category"]
        if value == UNSURE:
            return None
        if value not in self._categories:
            message = self.fields["category"].error_messages["invalid_choice"]
            raise ValidationError(message, code="invalid_choice")
        return self._category_objects[value]

    def clean_reporter_phone(self) -> str:
        return _clean_phone(self.cleaned_data.get("reporter_phone"))

    def clean_facility(self) -> Facility | None:
        code = (self.cleaned_data.get("facility") or "").strip()
        if not code:
            return None
        facility = public_facility(code)
        if facility is None:
            raise ValidationError(
                _("The facility of this QR code is no longer in service. Please describe the place instead."),
                code="invalid_facility",
            )
        return facility

    @property
    def chosen_facility(self) -> Facility | None:
        """The facility the form is about (cleaned, or from the pre-filled code)."""
        if hasattr(self, "cleaned_data") and isinstance(self.cleaned_data.get("facility"), Facility):
            return self.cleaned_data["facility"]
        code = self["facility"].value()
        return public_facility(str(code)) if code else None

    def clean_idempotency_key(self) -> str:
        # A form without a usable key (an old page, a hand-made POST) still
        # files its report, just without protection against a repeat.
        value = self.cleaned_data.get("idempotency_key") or ""
        try:
            return str(uuid.UUID(value))
        except ValueError:
            return str(uuid.uuid4())

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        category: Category | None = data.get("category")
        rules = self.rules_for(category)
        if rules is not None and rules.closed:
            self.add_error("category", rules.closed_message)
        if rules is not None and rules.photo_required and "photos" in data and not data["photos"]:
            self.add_error("photos", _("For this kind of problem please add at least one photo."))
        if (
            rules is not None
            and rules.contact_required
            and "reporter_phone" in data
            and not data["reporter_phone"]
        ):
            self.add_error(
                "reporter_phone",
                _("For this kind of problem please leave a phone number so that we can reach you."),
            )
        if rules is not None and not rules.anonymous_allowed:
            data["is_anonymous"] = False
        has_lat, has_lng = data.get("lat") is not None, data.get("lng") is not None
        if has_lat != has_lng:
            data["lat"] = data["lng"] = None
            has_lat = has_lng = False
        # A scanned facility is a place in itself.
        has_place = has_lat or data.get("community") or data.get("address") or data.get("facility")
        if not has_place and not self.has_error("address"):
            self.add_error(
                None,
                ValidationError(
                    _(
                        "Tell us where the problem is: put a pin on the map, "
                        "type an address or choose a community."
                    ),
                    code="no_location",
                ),
            )
        return data

    # --- helpers for the view and the template ---------------------------------

    def rules_for(self, category: Category | None) -> CategoryRules | None:
        return self._categories.get(str(category.pk)) if category is not None else None

    @property
    def photo_limit_mb(self) -> int:
        return int(settings.ATTACHMENT_MAX_BYTES) // (1024 * 1024)

    @property
    def category_groups(self) -> list[tuple[str, list[CategoryRules]]]:
        return [(group, list(items)) for group, items in groupby(self.category_rules, key=lambda r: r.group)]

    @property
    def chosen_rules(self) -> CategoryRules | None:
        """The rules of the category the form shows as chosen (bound value or initial)."""
        value = self["category"].value()
        return self._categories.get(str(value)) if value else None

    @property
    def chosen_value(self) -> str:
        value = self["category"].value()
        return str(value) if value else ""

    @property
    def location_errors(self) -> list[str]:
        errors = self.errors.get(NON_FIELD_ERRORS)
        if not errors:
            return []
        return [
            str(message) for error in errors.as_data() if error.code == "no_location" for message in error
        ]

    @property
    def other_errors(self) -> list[str]:
        errors = self.errors.get(NON_FIELD_ERRORS)
        if not errors:
            return []
        return [
            str(message) for error in errors.as_data() if error.code != "no_location" for message in error
        ]

    def add_service_error(self, error: DomainError) -> None:
        """Show a service's refusal next to the field it is about, keeping the rest of the input."""
        code = getattr(error, "code", "")
        field = error.params.get("field") if getattr(error, "params", None) else None
        if code.startswith("attachment."):
            field = "photos"
        elif code == "invalid.location":
            field = None
        elif code == "invalid.category":
            field = "category"
        if field not in self.fields:
            field = None
        self.add_error(field, str(error.message))

    @property
    def photos_dropped(self) -> bool:
        """True when photos were sent with a form that is shown again (browsers cannot refill them)."""
        return bool(self.files and self.files.getlist("photos"))

    @property
    def source(self) -> CaseSource:
        return CaseSource.QR_CODE if self.cleaned_data.get("via") == QR_SOURCE else CaseSource.WEB

    def report_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of services.case_report for this report."""
        data = self.cleaned_data
        return {
            "source": self.source,
            "category": data["category"],
            "description": data["description"],
            "lat": data.get("lat"),
            "lng": data.get("lng"),
            "address": data.get("address", ""),
            "community": data.get("community"),
            "reporter_name": data.get("reporter_name", ""),
            "reporter_phone": data.get("reporter_phone", ""),
            "is_anonymous": bool(data.get("is_anonymous")),
            "photos": data.get("photos") or [],
            "idempotency_key": data["idempotency_key"],
            "facility": data.get("facility"),
        }

    @property
    def error_summary(self) -> list[tuple[str, str]]:
        """(anchor id, message) for every error, in the order of the page."""
        anchors = {
            "category": "category-picker",
            "description": "id_description",
            "photos": "id_photos",
            "reporter_phone": "id_reporter_phone",
            "reporter_name": "id_reporter_name",
            "address": "id_address",
            "community": "id_community",
            "consent": "id_consent",
            "captcha": "id_captcha_1",
        }
        summary = [("report-form", message) for message in self.other_errors]
        for name in self.fields:
            if name == "address":  # the place comes after the description on the page
                summary += [("location", message) for message in self.location_errors]
            for message in self.errors.get(name, []):
                summary.append((anchors.get(name, "report-form"), str(message)))
        return summary


def read_prefill(params: Any) -> dict[str, Any]:
    """Initial values from a QR code or a link.

    ?community=<code>&category=<code>&lat=&lng=&source=qr, or
    ?facility=<code>&source=qr for a facility's code: its place, community
    and the category its kind suggests, each overridable by the other parameters.
    """
    initial: dict[str, Any] = {}
    facility = public_facility((params.get("facility") or "").strip()) if params.get("facility") else None
    if facility is not None:
        initial["facility"] = facility.code
        initial["community"] = facility.community_id
        initial["lat"], initial["lng"] = facility.lat, facility.lng
        initial["address"] = facility.address or facility.name
        suggested = Category.objects.filter(
            code=facility.category_code, is_active=True, parent__isnull=False
        ).first()
        if suggested is not None:
            initial["category"] = str(suggested.pk)
    code = (params.get("category") or "").strip()
    if code:
        category = Category.objects.filter(code=code, is_active=True, parent__isnull=False).first()
        if category is not None:
            initial["category"] = str(category.pk)
    code = (params.get("community") or "").strip()
    if code:
        community = public_communities().filter(code=code).first()
        if community is not None:
            initial["community"] = community.pk
    try:
        lat, lng = float(params.get("lat", "")), float(params.get("lng", ""))
    except ValueError:
        pass
    else:
        if -90 <= lat <= 90 and -180 <= lng <= 180:
            initial["lat"], initial["lng"] = lat, lng
    if params.get("source") == QR_SOURCE:
        initial["via"] = QR_SOURCE
    return initial


# --- nearby cases and co-reporting -----------------------------------------------------------


class NearbyQueryForm(forms.Form):
    category = forms.ModelChoiceField(queryset=Category.objects.filter(is_active=True, parent__isnull=False))
    lat = forms.FloatField(min_value=-90, max_value=90)
    lng = forms.FloatField(min_value=-180, max_value=180)


def nearby_token(case: Case) -> str:
    """An opaque, expiring id for a case offered as "nearby": it can be joined, nothing else."""
    return signing.dumps(case.pk, salt=NEARBY_TOKEN_SALT, compress=True)


class CoReportForm(forms.Form):
    """我也遇到了: join a nearby open case instead of filing a duplicate."""

    case = forms.CharField(max_length=200)
    reporter_name = forms.CharField(label=_("Your name"), required=False, max_length=64)
    reporter_phone = forms.CharField(label=_("Mobile phone"), required=False, max_length=32)
    idempotency_key = forms.CharField(required=False, max_length=64)

    def clean_case(self) -> Case:
        try:
            pk = signing.loads(
                self.cleaned_data["case"], salt=NEARBY_TOKEN_SALT, max_age=NEARBY_TOKEN_MAX_AGE
            )
        except signing.BadSignature:
            raise ValidationError(
                _("This list is out of date. Please look for nearby reports again."), code="expired"
            ) from None
        # The service locks and re-reads the row; only its key is needed here.
        return Case(pk=int(pk))

    def clean_reporter_phone(self) -> str:
        return _clean_phone(self.cleaned_data.get("reporter_phone"))

    def clean_idempotency_key(self) -> str | None:
        value = self.cleaned_data.get("idempotency_key") or ""
        try:
            return str(uuid.UUID(value))
        except ValueError:
            return None

    def first_error(self) -> str:
        for errors in self.errors.values():
            for message in errors:
                return str(message)
        return str(_("The data you entered is not valid."))


# --- tracking ------------------------------------------------------------------------------------

_TRACKING_CODE_RE = re.compile(r"^[A-Z0-9]{4,12}$")


class TrackForm(forms.Form):
    code = forms.CharField(
        label=_("Tracking code"),
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
        error_messages={"required": _("Please enter the tracking code from your confirmation or SMS.")},
    )
    phone = forms.CharField(
        label=_("Phone number used when reporting (optional)"),
        required=False,
        max_length=32,
        widget=_phone_widget(),
    )

    def clean_code(self) -> str:
        code = re.sub(r"[\s\-]", "", self.cleaned_data["code"]).upper()
        if not _TRACKING_CODE_RE.match(code):
            raise ValidationError(_("A tracking code has 8 letters and digits."), code="invalid_code")
        return code

    def clean_phone(self) -> str:
        return _clean_phone(self.cleaned_data.get("phone"))


class RatingForm(forms.Form):
    satisfaction = forms.ChoiceField(
        label=_("How satisfied are you with the result?"),
        choices=Satisfaction.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose how satisfied you are.")},
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    phone = forms.CharField(
        label=_("Phone number used when reporting"),
        required=False,
        max_length=32,
        widget=_phone_widget(),
    )

    def __init__(self, *args: Any, needs_phone: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.needs_phone = needs_phone
        if needs_phone:
            self.fields["phone"].required = True
            self.fields["phone"].error_messages["required"] = _(
                "Please enter the phone number you gave when reporting, so that we know the rating is yours."
            )
        else:
            del self.fields["phone"]

    def clean_phone(self) -> str:
        return _clean_phone(self.cleaned_data.get("phone"))
