"""Open311 GeoReport v2 routes (/open311/v2/); each answers with `.json` or `.xml`."""

from django.urls import re_path
from rest_framework.urlpatterns import format_suffix_patterns

from cases.open311 import views

app_name = "open311"

urlpatterns = [
    *format_suffix_patterns(
        [
            re_path(r"^discovery$", views.DiscoveryView.as_view(), name="discovery"),
            re_path(r"^services$", views.ServiceListView.as_view(), name="services"),
            re_path(
                r"^services/(?P<service_code>[^/.]+)$", views.ServiceDefinitionView.as_view(), name="service"
            ),
            re_path(r"^requests$", views.RequestListView.as_view(), name="requests"),
            re_path(
                r"^requests/(?P<service_request_id>[^/.]+)$",
                views.RequestDetailView.as_view(),
                name="request",
            ),
            re_path(r"^tokens/(?P<token>[^/.]+)$", views.TokenView.as_view(), name="token"),
        ],
        allowed=["json", "xml"],
    ),
    re_path(r"^.*$", views.NotFoundView.as_view()),
]
