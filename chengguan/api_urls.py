"""REST API (/api/v1/), its OpenAPI schema (/api/schema/) and documentation (/api/docs/).

Each app declares its routes in `<app>/api/urls.py`; one DefaultRouter
gathers them so the API root lists every collection.
"""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from cases.api.urls import router as cases_router
from chengguan.api import ObtainTokenView
from chengguan.api_errors import not_found
from communities.api.urls import router as communities_router
from inspections.api.urls import router as inspections_router
from liaisons.api.urls import router as liaisons_router

router = DefaultRouter()
for app_router in (communities_router, cases_router, liaisons_router, inspections_router):
    router.registry.extend(app_router.registry)

app_name = "api"

urlpatterns = [
    path("v1/auth/token/", ObtainTokenView.as_view(), name="token"),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI from drf-spectacular-sidecar's static files. (Its Redoc page
    # is left out: the template fetches web fonts from another host.)
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    # Anything else under /api/ is a JSON 404, not the site's HTML page.
    re_path(r"^.*$", not_found),
]
