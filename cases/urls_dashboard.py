"""Dashboards (mounted at /dashboard/): supervisors' dashboard, the monthly assessment, public statistics."""

from django.urls import path

from cases.views import dashboard

app_name = "dashboard"

urlpatterns = [
    path("", dashboard.index, name="index"),
    path("data/<slug:chart>.csv", dashboard.chart_csv, name="chart_csv"),
    path("data/<slug:chart>.json", dashboard.chart_data, name="chart_data"),
    path("assessment/", dashboard.assessment, name="assessment"),
    path("assessment/export.<str:fmt>", dashboard.assessment_export, name="assessment_export"),
    path("assessment/rate/", dashboard.rate, name="rate"),
    path("public/", dashboard.public, name="public"),
]
