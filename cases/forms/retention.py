"""Admin forms of requests to be forgotten (cases.retention)."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cases.services import PHONE_RE, normalise_phone

INCLUDE_OPEN_HELP = _(
    "Open cases otherwise keep the reporter's contact until they are closed, for the handler and "
    "the return visit, and are anonymised then. Tick only when the resident insists."
)


class ForgetConfirmForm(forms.Form):
    """The confirmation step shared by the "forget" action and the phone number form."""

    include_open = forms.BooleanField(
        label=_("Also remove it from open cases now"), required=False, help_text=INCLUDE_OPEN_HELP
    )
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)


class ForgetByPhoneForm(ForgetConfirmForm):
    """ "Forget by phone number": a resident's request to be forgotten (PIPL)."""

    phone = forms.CharField(
        label=_("Phone number"),
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
        help_text=_("The number the resident reported with; all their cases and co-reports are found by it."),
    )

    field_order = ["phone", "include_open", "confirm"]

    def clean_phone(self) -> Any:
        phone = normalise_phone(self.cleaned_data["phone"])
        if not PHONE_RE.match(phone):
            raise forms.ValidationError(_("Please enter a valid phone number."), code="invalid_phone")
        return phone
