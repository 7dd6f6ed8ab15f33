"""Masking of personal data (PIPL) for people who may not see it in full.

Residents' names and phone numbers are shown masked to every role that does
not hold `cases.view_reporter_contact`; the helpers here are the one place the
masked form is defined, for templates (chengguan.templatetags.masking),
exports and the API alike.
"""

from typing import Any

MASK = "*"


def mask_phone(phone: str | None) -> str:
    """138****1234 for a mobile number; the last four digits otherwise.

    Long numbers keep their first three and last four characters, short
    ones (landlines without area code) only the last four, and anything
    shorter than six characters is hidden entirely.
    """
    value = (phone or "").strip()
    length = len(value)
    if length == 0:
        return ""
    if length >= 10:
        return value[:3] + MASK * (length - 7) + value[-4:]
    if length >= 6:
        return MASK * (length - 4) + value[-4:]
    return MASK * length


def mask_name(name: str | None) -> str:
    """张* / 欧*** / J***: the first character stays, the rest is hidden."""
    value = (name or "").strip()
    if not value:
        return ""
    if len(value) == 1:
        return MASK
    return value[0] + MASK * (len(value) - 1)


CONTACT_PERMISSION = "cases.view_reporter_contact"


def contact_revealed(*, actor: Any, case: Any, via: str) -> bool:
    """Record that `actor` was shown the reporter's unmasked name or phone (PIPL).

    Preconditions: `case` is in the actor's scope (the caller looked it up
    through the gate). Side effects: one `case.contact_viewed` audit entry
    when the actor may see contact details and the case has any; nothing
    otherwise. Returns whether the contact was revealed.
    """
    from chengguan.audit import audit

    if actor is None or not actor.has_perm(CONTACT_PERMISSION):
        return False
    if not (case.reporter_name or case.reporter_phone):
        return False
    audit(actor=actor, action="case.contact_viewed", target=case, via=via)
    return True
