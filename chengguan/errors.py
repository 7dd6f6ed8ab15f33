"""Domain errors: a stable machine code plus a translated message.

Services raise these; HTML views show `message`, the API returns `code` and
`message` (a forbidden transition is HTTP 409, a permission error 403).
"""

from typing import Any

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code = "domain_error"
    default_message: Any = _("The request could not be completed.")
    http_status = 400

    def __init__(self, message: Any = None, *, code: str | None = None, **params: Any) -> None:
        self.message = message if message is not None else self.default_message
        if code:
            self.code = code
        self.params = params
        super().__init__(str(self.message))

    def __str__(self) -> str:
        return str(self.message)


class ActionNotPermitted(DomainError):
    code = "permission_denied"
    default_message = _("You are not allowed to do this.")
    http_status = 403


class TransitionNotAllowed(DomainError):
    code = "case.transition_not_allowed"
    default_message = _("This action is not possible in the case's current status.")
    http_status = 409


class StaleObject(DomainError):
    code = "stale_object"
    default_message = _(
        "Someone else changed this record while you were working on it. Reload and try again."
    )
    http_status = 409


class InvalidInput(DomainError):
    code = "invalid"
    default_message = _("The data you entered is not valid.")
    http_status = 400
