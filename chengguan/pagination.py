"""A paginator that never counts a big list to the end (issue #9).

Django's Paginator asks `SELECT COUNT(*)` of the whole list before it shows
page 1; over a supervisor's million cases that is a scan of the table, a
second of work to print "共 1000326 条". `CappedPaginator` counts through a
LIMITed subquery instead (`SELECT COUNT(*) FROM (SELECT … LIMIT n)`), so it
reads at most `cap + 1` rows — or, on a deep page, the rows up to that page
and one more, no more than the page's OFFSET reads anyway. Below the cap the
count is exact; above it the list says "10000+" and the navigation offers
the next pages but not a last one.

Used by every case list and worklist (cases.views) and by the API's case list
(chengguan.api_pagination).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.utils.functional import cached_property


def count_cap() -> int:
    return int(getattr(settings, "PAGINATION_COUNT_CAP", 10_000))


class CappedPaginator(Paginator):
    """A Paginator whose `count` stops at `cap` + 1 rows (or one past the page asked for).

    `count_is_capped` says the list goes on beyond `count_floor` rows; the
    templates then show "count_floor+" and `get_elided_page_range` leaves out
    the last page, which is not known.
    """

    def __init__(self, object_list: Any, per_page: int | str, *, cap: int | None = None, **kwargs: Any):
        super().__init__(object_list, per_page, **kwargs)
        self.cap = count_cap() if cap is None else cap
        # Rows to count: one more than the cap, or than the page asked for (and never
        # fewer than a page, which would cut page 1 short).
        self._limit = max(self.cap, int(self.per_page)) + 1

    def reach(self, number: Any) -> None:
        """Count far enough that page `number` and whether there is a next one are known."""
        try:
            wanted = int(number)
        except (TypeError, ValueError):
            return
        if wanted >= 1:
            self._limit = max(self._limit, wanted * int(self.per_page) + 1)

    def page(self, number: Any) -> Page:
        # Before validate_number reads (and caches) the count.
        self.reach(number)
        return super().page(number)

    def get_page(self, number: Any) -> Page:
        self.reach(number)
        return super().get_page(number)

    @cached_property
    def count(self) -> int:
        """Rows in the list, counted up to the limit: exact unless `count_is_capped`."""
        object_list = self.object_list
        if isinstance(object_list, Sequence) and not hasattr(object_list, "query"):
            return min(len(object_list), self._limit)
        # A sliced QuerySet counts as SELECT COUNT(*) FROM (… LIMIT n) subquery; in it neither
        # the order nor the annotations of the page's columns (subqueries per row) are needed.
        rows = object_list.order_by().values("pk")  # type: ignore[attr-defined]
        return int(rows[: self._limit].count())

    @property
    def count_is_capped(self) -> bool:
        return self.count >= self._limit

    @property
    def count_floor(self) -> int:
        """The count to show: exact, or the rows known to exist before "+" when capped."""
        return self.count - 1 if self.count_is_capped else self.count

    def get_elided_page_range(
        self, number: int | float | str = 1, *, on_each_side: int = 3, on_ends: int = 2
    ) -> Iterator[Any]:
        pages = super().get_elided_page_range(number, on_each_side=on_each_side, on_ends=on_ends)
        if not self.count_is_capped:
            yield from pages
            return
        # The last page is not known: stop after the current page's neighbours, then "…".
        last_shown = min(self.num_pages, self.validate_number(number) + on_each_side)
        previous: Any = None
        for item in pages:
            if isinstance(item, int) and item > last_shown:
                break
            if item != self.ELLIPSIS or previous != self.ELLIPSIS:
                yield item
            previous = item
        if previous != self.ELLIPSIS:
            yield self.ELLIPSIS
