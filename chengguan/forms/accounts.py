"""Forms of the two-factor sign-in pages."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class OTPTokenForm(forms.Form):
    """A six-digit code from the authenticator app, or (when verifying) a recovery code."""

    token = forms.CharField(
        label=pgettext_lazy("one-time password", "Code"),
        max_length=16,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "size": 10}
        ),
        error_messages={"required": _("Enter the code.")},
    )

    def __init__(self, *args: object, allow_recovery: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.allow_recovery = allow_recovery
        if allow_recovery:
            self.fields["token"].help_text = _(
                "The 6-digit code from your authenticator app, or one of your recovery codes."
            )
            self.fields["token"].widget.attrs["inputmode"] = "text"

    def clean_token(self) -> str:
        token = self.cleaned_data["token"].replace(" ", "")
        if not self.allow_recovery and not (token.isdigit() and len(token) == 6):
            raise forms.ValidationError(_("Enter the 6-digit code your authenticator app shows."))
        return token
