"""Page-number pagination of API lists (`?page=`, `?page_size=` up to 200).

Its own module: DRF imports the pagination class while its generic views
are being defined, so this must not import them.
"""

from typing import Any

from rest_framework import pagination
from rest_framework.response import Response

from chengguan.pagination import CappedPaginator, count_cap


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


class CappedPageNumberPagination(PageNumberPagination):
    """Page numbers over lists that may hold a million rows (the cases): no full COUNT(*).

    `count` is exact up to the cap (`PAGINATION_COUNT_CAP`, 10,000); beyond
    it `count_is_capped` is true and `count` is a lower bound (the cap, or the
    rows up to the page asked for): there are more. `next` is there as long
    as a next page is, however deep.
    """

    django_paginator_class = CappedPaginator

    def get_paginated_response(self, data: Any) -> Response:
        paginator: CappedPaginator = self.page.paginator  # type: ignore[assignment]
        return Response(
            {
                "count": paginator.count_floor,
                "count_is_capped": paginator.count_is_capped,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        described = super().get_paginated_response_schema(schema)
        described["properties"]["count"]["description"] = (
            f"Exact up to {count_cap()}; beyond it a lower bound, with `count_is_capped` true."
        )
        described["properties"] = {
            "count": described["properties"]["count"],
            "count_is_capped": {
                "type": "boolean",
                "description": "True when there are more results than `count` (counting stopped at the cap).",
            },
            **{k: v for k, v in described["properties"].items() if k != "count"},
        }
        described["required"] = ["count", "count_is_capped", "results"]
        return described
