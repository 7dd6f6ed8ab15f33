"""Forms for 门前三包: a new shop, an inspection against the checklist, a re-inspection.

They validate what was typed; inspections.services writes and checks the
rules again (its DomainError messages are shown as they are).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cases.services import PHONE_RE
from communities.models import GridCell
from inspections.choices import ChecklistGroup
from inspections.models import ChecklistItem, ResponsibilityUnit
from inspections.services import ItemOutcome
from liaisons.forms import ClientUuidField, CommunityChoiceField, new_client_uuid
from liaisons.home import communities_worked_in, grid_cells_of

PASS, FAIL = "pass", "fail"


class GridCellSelect(forms.Select):
    """Options that carry their community, so the page can offer the chosen community's cells only."""

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(*args, **kwargs)
        instance = getattr(option["value"], "instance", None)
        if instance is not None:
            option["attrs"]["data-community"] = str(instance.community_id)
        return option


class GridCellChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: GridCell) -> str:  # type: ignore[override]
        return obj.name


class ShopForm(forms.ModelForm):
    """A new responsibility unit; saved by inspections.services.responsibility_unit_create."""

    community = CommunityChoiceField(
        label=_("Community"),
        queryset=None,
        empty_label=_("Choose a community"),  # type: ignore[arg-type]
    )
    grid_cell = GridCellChoiceField(
        label=_("Grid cell"),
        queryset=None,  # type: ignore[arg-type]
        required=False,
        empty_label=_("Not sure"),
        widget=GridCellSelect,
    )

    class Meta:
        model = ResponsibilityUnit
        fields = [
            "name",
            "kind",
            "community",
            "grid_cell",
            "address",
            "lat",
            "lng",
            "contact_name",
            "contact_phone",
            "licence_number",
        ]
        widgets = {
            "lat": forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
            "lng": forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
            "contact_phone": forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}),
        }

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        communities = communities_worked_in(user)
        community: forms.ModelChoiceField = self.fields["community"]  # type: ignore[assignment]
        community.queryset = communities
        cells: forms.ModelChoiceField = self.fields["grid_cell"]  # type: ignore[assignment]
        cells.queryset = grid_cells_of(communities)
        if not self.is_bound:
            only = list(communities[:2])
            if len(only) == 1:
                self.initial.setdefault("community", only[0].pk)

    def clean_contact_phone(self) -> str:
        value = (self.cleaned_data.get("contact_phone") or "").strip()
        if value and not PHONE_RE.match(value):
            raise forms.ValidationError(_("Please enter a valid phone number."), code="invalid_phone")
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        community, cell = data.get("community"), data.get("grid_cell")
        if community is not None and cell is not None and cell.community_id != community.pk:
            self.add_error("grid_cell", _("Choose grid cells of this community."))
        if (data.get("lat") is None) != (data.get("lng") is None):
            self.add_error("lng", _("A location needs both latitude and longitude."))
        return data

    def service_kwargs(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in self.Meta.fields} | {
            name: self.cleaned_data.get(name) or ""
            for name in ("contact_name", "contact_phone", "licence_number")
        }


def active_checklist() -> list[ChecklistItem]:
    """The active checklist items, in group order then their own order."""
    order = {group.value: index for index, group in enumerate(ChecklistGroup)}
    items = list(ChecklistItem.objects.filter(is_active=True).order_by("sort_order", "code"))
    return sorted(items, key=lambda item: order.get(item.group, len(order)))


class InspectionForm(forms.Form):
    """Every active checklist item as pass/fail (pass unless ticked otherwise) with a note."""

    client_uuid = ClientUuidField()
    notes = forms.CharField(
        label=_("Notes"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    requirements = forms.CharField(
        label=_("What must be done"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Leave empty to use the standard requirement of each failed item."),
    )

    def __init__(self, *args: Any, items: Sequence[ChecklistItem], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.items = list(items)
        for item in self.items:
            self.fields[f"item_{item.pk}"] = forms.ChoiceField(
                label=item.name,
                choices=[(PASS, _("Pass")), (FAIL, _("Fail"))],
                initial=PASS,
                widget=forms.RadioSelect,
            )
            self.fields[f"note_{item.pk}"] = forms.CharField(
                label=_("Note"),
                required=False,
                max_length=200,
                widget=forms.TextInput(attrs={"placeholder": _("What is wrong (optional)")}),
            )
        if not self.is_bound:
            self.initial.setdefault("client_uuid", new_client_uuid())

    def groups(self) -> list[tuple[str, list[tuple[ChecklistItem, forms.BoundField, forms.BoundField]]]]:
        grouped: dict[str, list[tuple[ChecklistItem, forms.BoundField, forms.BoundField]]] = {}
        for item in self.items:
            grouped.setdefault(item.get_group_display(), []).append(
                (item, self[f"item_{item.pk}"], self[f"note_{item.pk}"])
            )
        return list(grouped.items())

    def outcomes(self) -> list[ItemOutcome]:
        data = self.cleaned_data
        return [
            ItemOutcome(
                item=item, passed=data[f"item_{item.pk}"] == PASS, note=data.get(f"note_{item.pk}", "")
            )
            for item in self.items
        ]


class ReinspectForm(forms.Form):
    client_uuid = ClientUuidField()
    rectified = forms.TypedChoiceField(
        label=_("Has the unit rectified?"),
        choices=[("yes", _("Rectified")), ("no", _("Not rectified: file a case"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("client_uuid", new_client_uuid())
