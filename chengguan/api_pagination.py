"""Page-number pagination of API lists (`?page=`, `?page_size=` up to 200).

Its own module: DRF imports the pagination class while its generic views
are being defined, so this must not import them.
"""

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200
