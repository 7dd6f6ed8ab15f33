"""REST API (/api/v1/) and its OpenAPI schema (/api/schema/)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
