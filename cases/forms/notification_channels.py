"""The staff member's choice of which notifications also reach them by email or SMS."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from chengguan.models import NotificationKind


class NotificationChannelsForm(forms.Form):
    """Two checkboxes per notification kind: `<kind>__email` and `<kind>__sms`.

    A channel the account has no address for is shown disabled (its value
    cannot be posted on); the service refuses it too.
    """

    def __init__(
        self,
        *args: Any,
        current: dict[str, tuple[bool, bool]],
        has_email: bool,
        has_phone: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rows: list[dict[str, Any]] = []
        for kind in NotificationKind:
            email, sms = current.get(kind.value, (False, False))
            self.fields[f"{kind.value}__email"] = forms.BooleanField(
                label=_("Email"), required=False, initial=email and has_email, disabled=not has_email
            )
            self.fields[f"{kind.value}__sms"] = forms.BooleanField(
                label=_("SMS"), required=False, initial=sms and has_phone, disabled=not has_phone
            )
            self.rows.append(
                {
                    "label": kind.label,
                    "email": self[f"{kind.value}__email"],
                    "sms": self[f"{kind.value}__sms"],
                }
            )

    def choices(self) -> dict[str, tuple[bool, bool]]:
        """(email, SMS) per kind from the cleaned data."""
        return {
            kind: (bool(self.cleaned_data.get(f"{kind}__email")), bool(self.cleaned_data.get(f"{kind}__sms")))
            for kind in NotificationKind.values
        }
