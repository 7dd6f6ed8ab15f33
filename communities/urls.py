"""Public community pages: who the liaison is and how the community's cases fare."""

from django.urls import path

from communities import views

app_name = "communities"

urlpatterns = [
    path("", views.community_list, name="list"),
    path("facilities/", views.facility_list, name="facility_list"),
    path("facilities/<str:code>/", views.facility_detail, name="facility_detail"),
    path("facilities/<str:code>/qr/", views.facility_qr_sheet, name="facility_qr_sheet"),
    path("facilities/<str:code>/qr.<str:fmt>", views.facility_qr_image, name="facility_qr_image"),
    path("disclosure/<str:code>/", views.disclosure, name="disclosure"),
    path("<str:code>/", views.community_detail, name="detail"),
    path("<str:code>/qr/", views.qr_sheet, name="qr_sheet"),
    path("<str:code>/qr.<str:fmt>", views.qr_image, name="qr_image"),
]
