"""Saved filters of the case lists: a user's named querystrings (services and reads).

Private to their owner: every read and write here is the owner's; another
user's saved filter does not exist for them (the views answer 404).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from cases.lists import case_list, normalise_querystring
from cases.models import SavedFilter
from chengguan.audit import audit
from chengguan.errors import ActionNotPermitted, InvalidInput

MAX_PER_LIST = 30


def saved_filters_of(owner: Any, list_key: str | None = None) -> QuerySet[SavedFilter]:
    """The owner's saved filters, of one list or of all."""
    if not owner.is_authenticated:
        return SavedFilter.objects.none()
    rows = SavedFilter.objects.filter(owner_id=owner.pk)
    return rows if list_key is None else rows.filter(list_key=list_key)


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("Give the filter a name."), code="saved_filter.name_required")
    return name


def _require_unique(*, owner: Any, list_key: str, name: str, exclude_pk: int | None = None) -> None:
    same = saved_filters_of(owner, list_key).filter(name=name)
    if exclude_pk is not None:
        same = same.exclude(pk=exclude_pk)
    if same.exists():
        raise InvalidInput(
            _("You already have a saved filter called “%(name)s” for this list.") % {"name": name},
            code="saved_filter.name_taken",
        )


def _require_owner(saved_filter: SavedFilter, actor: Any) -> None:
    if not actor.is_authenticated or saved_filter.owner_id != actor.pk:
        raise ActionNotPermitted()


@transaction.atomic
def saved_filter_create(*, owner: Any, list_key: str, name: str, querystring: str) -> SavedFilter:
    """Save the filters of one case list under a name, for the owner only.

    Preconditions: the owner may open the list (ActionNotPermitted otherwise,
    LookupError for an unknown list); the name is not empty and not yet used
    for that list by the owner; the filters are not empty and fit
    (InvalidInput); the owner has fewer than MAX_PER_LIST filters there.
    Side effects: one SavedFilter row and an audit entry.
    """
    case_list(list_key, owner)
    name = _clean_name(name)
    querystring = normalise_querystring(querystring)
    if not querystring:
        raise InvalidInput(_("Choose some filters before saving them."), code="saved_filter.empty")
    _require_unique(owner=owner, list_key=list_key, name=name)
    if saved_filters_of(owner, list_key).count() >= MAX_PER_LIST:
        raise InvalidInput(
            _("You can keep at most %(count)d saved filters per list; delete one first.")
            % {"count": MAX_PER_LIST},
            code="saved_filter.too_many",
        )
    saved_filter = SavedFilter(owner=owner, list_key=list_key, name=name, querystring=querystring)
    saved_filter.full_clean()
    saved_filter.save()
    audit(actor=owner, action="saved_filter.created", target=saved_filter, list=list_key, filters=querystring)
    return saved_filter


@transaction.atomic
def saved_filter_rename(*, saved_filter: SavedFilter, actor: Any, name: str) -> SavedFilter:
    """Give a saved filter a new name.

    Preconditions: the actor owns it (ActionNotPermitted); the name is not
    empty and not used by another of the owner's filters of that list.
    Side effects: updates the row and writes an audit entry.
    """
    _require_owner(saved_filter, actor)
    name = _clean_name(name)
    _require_unique(owner=actor, list_key=saved_filter.list_key, name=name, exclude_pk=saved_filter.pk)
    old = saved_filter.name
    saved_filter.name = name
    saved_filter.full_clean()
    saved_filter.save(update_fields=["name"])
    audit(actor=actor, action="saved_filter.renamed", target=saved_filter, old=old, new=name)
    return saved_filter


@transaction.atomic
def saved_filter_delete(*, saved_filter: SavedFilter, actor: Any) -> None:
    """Delete a saved filter.

    Preconditions: the actor owns it (ActionNotPermitted).
    Side effects: deletes the row and writes an audit entry.
    """
    _require_owner(saved_filter, actor)
    audit(
        actor=actor,
        action="saved_filter.deleted",
        target=saved_filter,
        list=saved_filter.list_key,
        name=saved_filter.name,
    )
    saved_filter.delete()
