"""Forms of the case lists' tools: saving a filter, renaming it, exporting the list."""

from django import forms
from django.utils.translation import gettext_lazy as _

from cases.lists import QUERYSTRING_MAX_LENGTH, list_keys
from cases.models import ExportJob


def _list_choices() -> list[tuple[str, str]]:
    return [(key, key) for key in list_keys()]


class SavedFilterNameForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=60,
        widget=forms.TextInput(
            attrs={"placeholder": _("e.g. Overdue street vending"), "autocomplete": "off"}
        ),
    )

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()


class SavedFilterForm(SavedFilterNameForm):
    list = forms.ChoiceField(choices=_list_choices, widget=forms.HiddenInput)
    querystring = forms.CharField(max_length=QUERYSTRING_MAX_LENGTH, required=False, widget=forms.HiddenInput)


class ExportForm(forms.Form):
    list = forms.ChoiceField(choices=_list_choices, widget=forms.HiddenInput)
    querystring = forms.CharField(max_length=QUERYSTRING_MAX_LENGTH, required=False, widget=forms.HiddenInput)
    format = forms.ChoiceField(label=_("Format"), choices=ExportJob.Format.choices)
