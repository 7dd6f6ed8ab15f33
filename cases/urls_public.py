"""Resident pages (no login): the complaint form and the tracking page."""

from django.urls import path

from cases.views import public

app_name = "public"

urlpatterns = [
    path("report/", public.report, name="report"),
    path("report/done/<str:code>/", public.report_done, name="report_done"),
    path("report/areas.json", public.areas, name="areas"),
    path("report/nearby/", public.nearby, name="nearby"),
    path("report/nearby/join/", public.co_report, name="co_report"),
    path("track/", public.track, name="track"),
    path("track/<str:code>/", public.track_detail, name="track_detail"),
    path("track/<str:code>/rate/", public.rate, name="rate"),
]
