"""Forms of the field-work pages: patrol log with findings, return visit, meeting.

They check what was typed and turn it into the arguments of one service
call; the services check the rules again and have the last word (their
DomainError messages are shown as they are).
"""

from __future__ import annotations

import io
import re
import uuid
import warnings
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from cases.attachments import ALLOWED_FORMATS, MAX_PHOTOS_PER_UPLOAD
from cases.choices import Satisfaction, VisitChannel
from cases.models import Case, Category
from cases.selectors import cases_for
from cases.services import MAX_DESCRIPTION
from chengguan import clock
from chengguan.roles import Role
from communities.models import Community, GridCell
from liaisons.home import communities_overseen, communities_worked_in, grid_cells_of
from liaisons.services import FindingInput

User = get_user_model()

CLIENT_UUID_RE = re.compile(r"^[0-9a-fA-F-]{32,36}$")
MAX_FINDINGS = 20
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def new_client_uuid() -> str:
    return str(uuid.uuid4())


def local_minute(moment: Any) -> Any:
    return timezone.localtime(moment).replace(second=0, microsecond=0)


# --- widgets and fields shared by the field-work forms ---------------------------


class DateTimeLocalInput(forms.DateTimeInput):
    """A native date-and-time picker; the value is ISO (YYYY-MM-DDTHH:MM) in every language."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format=DATETIME_FORMAT)


class CommunityChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Community) -> str:  # type: ignore[override]
        return f"{obj.name}（{obj.street.name}）"


class GridCellCheckboxes(forms.CheckboxSelectMultiple):
    """Checkboxes that carry their community, so the page can show the chosen community's cells only."""

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(*args, **kwargs)
        instance = getattr(option["value"], "instance", None)
        if instance is not None:
            option["attrs"]["data-community"] = str(instance.community_id)
        return option


class GridCellsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: GridCell) -> str:  # type: ignore[override]
        return obj.name


def check_photo(upload: UploadedFile) -> None:
    """Refuse what is not a JPEG, PNG or WebP photo within the size cap.

    The service re-encodes each photo (cases.attachments.normalise_image);
    this is the same check early, so the error sits next to the right field.
    """
    max_bytes = settings.ATTACHMENT_MAX_BYTES
    if upload.size is not None and upload.size > max_bytes:
        raise forms.ValidationError(
            _("The photo %(name)s is larger than %(limit)d MB."),
            code="too_large",
            params={"name": upload.name, "limit": max_bytes // (1024 * 1024)},
        )
    not_an_image = forms.ValidationError(
        _("%(name)s is not a JPEG, PNG or WebP photo."), code="not_an_image", params={"name": upload.name}
    )
    try:
        upload.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(upload.read(max_bytes + 1))) as probe:
                if probe.format not in ALLOWED_FORMATS:
                    raise not_an_image
                probe.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise not_an_image from None
    finally:
        upload.seek(0)


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"accept": "image/jpeg,image/png,image/webp", **(attrs or {})})


class MultiplePhotoField(forms.FileField):
    """Up to six photos in one <input type=file multiple>."""

    widget = MultiplePhotoInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text", _("Up to %(max)d photos (JPEG, PNG or WebP).") % {"max": MAX_PHOTOS_PER_UPLOAD}
        )
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        files = [f for f in (super(MultiplePhotoField, self).clean(f, initial) for f in files) if f]
        if len(files) > MAX_PHOTOS_PER_UPLOAD:
            raise forms.ValidationError(
                _("At most %(max)d photos can be uploaded at once."),
                code="too_many",
                params={"max": MAX_PHOTOS_PER_UPLOAD},
            )
        errors = []
        for upload in files:
            try:
                check_photo(upload)
            except forms.ValidationError as error:
                errors.append(error)
        if errors:
            raise forms.ValidationError(errors)
        return files


class ClientUuidField(forms.CharField):
    """The draft's id, made when the form is first shown; a resubmitted draft keeps it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(widget=forms.HiddenInput, max_length=64, **kwargs)

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        if not CLIENT_UUID_RE.match(value):
            raise forms.ValidationError(_("The form has expired. Reload the page and try again."))
        return value.lower()


# --- patrol log (巡查台账) -------------------------------------------------------------


def finding_categories() -> list[Category]:
    """The subcategories (小类) a finding may be filed under, grouped by their parent."""
    return list(
        Category.objects.filter(is_active=True, parent__isnull=False, parent__is_active=True)
        .select_related("parent")
        .order_by("parent__sort_order", "parent__code", "sort_order", "code")
    )


def grouped_category_choices(categories: Iterable[Category]) -> list[tuple[Any, Any]]:
    groups: dict[int, tuple[str, list[tuple[str, str]]]] = {}
    for category in categories:
        assert category.parent is not None
        _label, options = groups.setdefault(category.parent.pk, (category.parent.local_name, []))
        options.append((str(category.pk), category.local_name))
    return [("", _("Not sure")), *groups.values()]


class PatrolForm(forms.Form):
    """The patrol itself; its findings come in FindingFormSet."""

    client_uuid = ClientUuidField()
    community = CommunityChoiceField(
        label=_("Community"), queryset=Community.objects.none(), empty_label=_("Choose a community")
    )
    started_at = forms.DateTimeField(label=_("Started at"), widget=DateTimeLocalInput)
    ended_at = forms.DateTimeField(label=_("Ended at"), widget=DateTimeLocalInput)
    grid_cells = GridCellsField(
        label=_("Grid cells covered"),
        queryset=GridCell.objects.none(),
        required=False,
        widget=GridCellCheckboxes,
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=MAX_DESCRIPTION,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("Route, weather, what was checked…")}),
    )
    photos = MultiplePhotoField(label=_("Photos of the patrol"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        communities = communities_worked_in(user)
        community_field: forms.ModelChoiceField = self.fields["community"]  # type: ignore[assignment]
        community_field.queryset = communities
        cells: forms.ModelMultipleChoiceField = self.fields["grid_cells"]  # type: ignore[assignment]
        cells.queryset = grid_cells_of(communities)
        if not self.is_bound:
            now = local_minute(clock.now())
            self.initial.setdefault("client_uuid", new_client_uuid())
            self.initial.setdefault("started_at", now - timedelta(hours=1))
            self.initial.setdefault("ended_at", now)
            only = list(communities[:2])
            if len(only) == 1:
                self.initial.setdefault("community", only[0].pk)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        started, ended = data.get("started_at"), data.get("ended_at")
        if started and ended:
            if ended <= started:
                self.add_error("ended_at", _("The patrol must end after it starts."))
            elif ended > clock.now() + timedelta(minutes=5):
                self.add_error("ended_at", _("A patrol cannot end in the future."))
        community = data.get("community")
        if community is not None and any(c.community_id != community.pk for c in data.get("grid_cells", [])):
            self.add_error("grid_cells", _("Choose grid cells of this community."))
        return data


class FindingForm(forms.Form):
    """One problem found on the patrol; with "fixed on the spot" it becomes a closed case at once."""

    description = forms.CharField(
        label=_("What was found"),
        max_length=MAX_DESCRIPTION,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    category = forms.ChoiceField(label=_("Category"), required=False)
    address = forms.CharField(label=_("Address"), required=False, max_length=200)
    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    lng = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)
    photos = MultiplePhotoField(label=_("Photos"))
    fixed_on_spot = forms.BooleanField(label=_("Fixed on the spot"), required=False)
    result = forms.CharField(
        label=_("What was done"),
        required=False,
        max_length=MAX_DESCRIPTION,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, categories: Sequence[Category] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.categories = {str(c.pk): c for c in categories}
        category: forms.ChoiceField = self.fields["category"]  # type: ignore[assignment]
        category.choices = grouped_category_choices(categories)

    def clean_category(self) -> Category | None:
        value = self.cleaned_data.get("category") or ""
        return self.categories.get(value)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if (data.get("lat") is None) != (data.get("lng") is None):
            self.add_error(None, _("A location needs both latitude and longitude."))
        if data.get("fixed_on_spot") and not (data.get("result") or "").strip():
            self.add_error("result", _("Say what was done on the spot."))
        return data

    def finding_input(self) -> FindingInput:
        data = self.cleaned_data
        return FindingInput(
            description=data["description"],
            category=data.get("category"),
            address=data.get("address") or "",
            lat=data.get("lat"),
            lng=data.get("lng"),
            photos=data.get("photos") or [],
        )


class BaseFindingFormSet(forms.BaseFormSet):
    def filled_forms(self) -> list[FindingForm]:
        """The findings the liaison actually entered; untouched blank ones are left out."""
        return [f for f in self.forms if f.has_changed() and f.is_valid()]  # type: ignore[misc]


FindingFormSet = forms.formset_factory(
    FindingForm,
    formset=BaseFindingFormSet,
    extra=1,
    max_num=MAX_FINDINGS,
    validate_max=True,
    absolute_max=MAX_FINDINGS,
)
FINDINGS_PREFIX = "findings"


def finding_formset(
    data: Any = None, files: Any = None, *, categories: Sequence[Category], extra_form: bool = False
) -> BaseFindingFormSet:
    """The findings part of the patrol form.

    `extra_form` (the "add a finding" button without JavaScript) shows what was
    typed again, unvalidated, with one more blank finding.
    """
    kwargs: dict[str, Any] = {"prefix": FINDINGS_PREFIX, "form_kwargs": {"categories": categories}}
    if extra_form and data is not None:
        total = _int(data.get(f"{FINDINGS_PREFIX}-TOTAL_FORMS"), 1)
        initial = [
            {
                name: data.get(f"{FINDINGS_PREFIX}-{index}-{name}", "")
                for name in ("description", "category", "address", "lat", "lng", "result")
            }
            | {"fixed_on_spot": bool(data.get(f"{FINDINGS_PREFIX}-{index}-fixed_on_spot"))}
            for index in range(min(total, MAX_FINDINGS - 1))
        ]
        return _DraftFindingFormSet(initial=initial, **kwargs)  # type: ignore[return-value]
    return FindingFormSet(data, files, **kwargs)  # type: ignore[return-value]


class _DraftFindings(BaseFindingFormSet):
    def initial_form_count(self) -> int:
        # Findings shown again are still extra forms: a blank one is skipped, not required.
        return 0

    def total_form_count(self) -> int:
        return min(len(self.initial or []) + 1, MAX_FINDINGS)


_DraftFindingFormSet = forms.formset_factory(
    FindingForm, formset=_DraftFindings, extra=0, max_num=MAX_FINDINGS, absolute_max=MAX_FINDINGS
)


def _int(value: Any, default: int) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return default


def patrol_draft_initial(data: Any) -> dict[str, Any]:
    """What the patrol form showed, as initial values (see finding_formset's `extra_form`)."""
    initial = {
        name: data.get(name, "") for name in ("client_uuid", "community", "started_at", "ended_at", "notes")
    }
    initial["grid_cells"] = data.getlist("grid_cells")
    return initial


# --- return visits (回访) ---------------------------------------------------------------

YES, NO = "yes", "no"


class ReturnVisitForm(forms.Form):
    reached = forms.TypedChoiceField(
        label=_("Did you reach the reporter?"),
        choices=[(YES, _("Yes, reached")), (NO, _("Could not reach them"))],
        coerce=lambda value: value == YES,
        widget=forms.RadioSelect,
    )
    channel = forms.ChoiceField(
        label=_("How"),
        choices=[(c.value, c.label) for c in (VisitChannel.PHONE, VisitChannel.VISIT)],
        initial=VisitChannel.PHONE,
        widget=forms.RadioSelect,
    )
    satisfaction = forms.ChoiceField(
        label=_("Satisfaction"), choices=Satisfaction.choices, required=False, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 3})
    )
    reopen = forms.BooleanField(
        label=_("Reopen the case"),
        required=False,
        help_text=_("Only when the reporter is unsatisfied; the case goes back to its handler."),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("reached") is False:
            data["satisfaction"], data["reopen"] = "", False
        elif data.get("reached") and not data.get("satisfaction"):
            self.add_error("satisfaction", _("Choose how satisfied the reporter is."))
        if data.get("reopen") and data.get("satisfaction") != Satisfaction.UNSATISFIED:
            self.add_error("reopen", _("Only an unsatisfied reporter's case is reopened."))
        return data


# --- coordination meetings (协调会) --------------------------------------------------------

CASE_NUMBER_SPLIT = re.compile(r"[\s,，、;；]+")


class MeetingForm(forms.Form):
    community = CommunityChoiceField(
        label=_("Community"), queryset=Community.objects.none(), empty_label=_("Choose a community")
    )
    held_at = forms.DateTimeField(label=_("Held at"), widget=DateTimeLocalInput)
    title = forms.CharField(label=_("Title"), max_length=100)
    location = forms.CharField(label=_("Place"), max_length=100, required=False)
    attendees = forms.CharField(
        label=_("Attendees"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Residents' committee, property company, units…"),
    )
    issues = forms.CharField(label=_("Issues discussed"), widget=forms.Textarea(attrs={"rows": 4}))
    resolutions = forms.CharField(
        label=_("Resolutions"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    case_numbers = forms.CharField(
        label=_("Linked cases"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "CG-20260101-000001"}),
        help_text=_("Case numbers, separated by spaces, commas or new lines."),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        community: forms.ModelChoiceField = self.fields["community"]  # type: ignore[assignment]
        community.queryset = communities_overseen(user)
        if not self.is_bound:
            self.initial.setdefault("held_at", local_minute(clock.now()))

    def clean_case_numbers(self) -> list[Case]:
        numbers = list(
            dict.fromkeys(n.upper() for n in CASE_NUMBER_SPLIT.split(self.cleaned_data["case_numbers"]) if n)
        )
        if not numbers:
            return []
        found = {case.number: case for case in cases_for(self.user).filter(number__in=numbers)}
        missing = [n for n in numbers if n not in found]
        if missing:
            raise forms.ValidationError(
                _("No case numbered %(numbers)s in your area of work."),
                code="unknown_case",
                params={"numbers": "、".join(missing)},
            )
        return [found[n] for n in numbers]


# --- cover periods (AB角) -------------------------------------------------------------


class CoverForm(forms.Form):
    """A supervisor names a backup liaison to cover a community for a period."""

    community = forms.ModelChoiceField(label=_("Community"), queryset=Community.objects.none())
    backup = forms.ModelChoiceField(label=_("Covering liaison"), queryset=User.objects.none())
    starts_at = forms.DateTimeField(label=_("From"), widget=DateTimeLocalInput())
    ends_at = forms.DateTimeField(label=_("Until"), widget=DateTimeLocalInput())
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        community_field = self.fields["community"]
        assert isinstance(community_field, forms.ModelChoiceField)
        community_field.queryset = (
            Community.objects.restrict(user, "view")
            .filter(is_active=True)
            .select_related("street")
            .order_by("code")
        )
        backup_field = self.fields["backup"]
        assert isinstance(backup_field, forms.ModelChoiceField)
        backup_field.queryset = User.objects.filter(is_active=True, groups__name=Role.LIAISON).order_by(
            "name"
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", _("The cover must end after it starts."))
        return data
