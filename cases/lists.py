"""The filterable case lists that filters can be saved for and exported from.

A list is the staff case list (key "cases", cases.views.staff.case_list) or
one of the desk's worklists (key = its slug, cases.worklists). Both the
pages and the exports build the list here, so an export holds exactly the
cases the page lists: the same gate queryset, the same FilterSet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import QueryDict
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from cases.filtersets import CaseFilterSet
from cases.models import Case
from cases.selectors import cases_for
from cases.worklists import WORKLISTS
from chengguan.errors import ActionNotPermitted, InvalidInput

STAFF_LIST = "cases"
# Parameters of a list page that are not filters.
NOT_FILTERS = frozenset({"page", "csrfmiddlewaretoken"})
QUERYSTRING_MAX_LENGTH = 2000


@dataclass(frozen=True)
class CaseList:
    key: str
    title: Promise
    filterset_class: type[django_filters.FilterSet]

    @property
    def url(self) -> str:
        return list_url(self.key)

    def queryset(self, user: Any) -> QuerySet[Case]:
        if self.key == STAFF_LIST:
            return cases_for(user)
        return WORKLISTS[self.key].queryset(user)

    def filterset(self, user: Any, data: QueryDict) -> django_filters.FilterSet:
        # The filters' choice querysets read the user from the request.
        return self.filterset_class(data, queryset=self.queryset(user), request=_UserRequest(user))


@dataclass(frozen=True)
class _UserRequest:
    """What a FilterSet reads from a request, for building a list outside one (a Celery task)."""

    user: Any


def list_url(key: str) -> str:
    if key == STAFF_LIST:
        return reverse("cases:list")
    return reverse("desk:worklist", args=[key])


def list_keys() -> list[str]:
    return [STAFF_LIST, *WORKLISTS]


def case_list(key: str, user: Any) -> CaseList:
    """The list `key` as `user` may see it.

    Raises LookupError for an unknown list and ActionNotPermitted when the
    user's role has no such worklist (the page answers 403 alike).
    """
    if key == STAFF_LIST:
        return CaseList(key=key, title=_("Cases"), filterset_class=CaseFilterSet)
    worklist = WORKLISTS.get(key)
    if worklist is None:
        raise LookupError(key)
    if not worklist.is_for(user):
        raise ActionNotPermitted()
    return CaseList(key=key, title=worklist.title, filterset_class=worklist.filterset_class)


def list_title(key: str) -> Promise:
    if key == STAFF_LIST:
        return _("Cases")
    worklist = WORKLISTS.get(key)
    return worklist.title if worklist else _("Cases")


def normalise_querystring(querystring: str | QueryDict) -> str:
    """The list's filters as a querystring: without the page number and empty values.

    Raises InvalidInput when it is too long to keep.
    """
    data = querystring if isinstance(querystring, QueryDict) else QueryDict(querystring.lstrip("?"))
    kept = QueryDict(mutable=True)
    for key in data:
        if key in NOT_FILTERS:
            continue
        values = [value for value in data.getlist(key) if value.strip()]
        if values:
            kept.setlist(key, values)
    result = kept.urlencode()
    if len(result) > QUERYSTRING_MAX_LENGTH:
        raise InvalidInput(_("These filters are too long to keep."), code="case_list.filters_too_long")
    return result


def filtered_cases(key: str, user: Any, querystring: str) -> tuple[CaseList, django_filters.FilterSet]:
    """The list and its bound FilterSet; raises InvalidInput when the filters are not valid."""
    case_list_ = case_list(key, user)
    filterset = case_list_.filterset(user, QueryDict(querystring))
    if not filterset.is_valid():
        raise InvalidInput(
            _("Some filters are not valid; correct them on the list first."), code="case_list.invalid_filters"
        )
    return case_list_, filterset
