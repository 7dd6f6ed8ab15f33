"""Public community pages: who the liaison is and how the community's cases fare."""

from django.urls import path

from communities import views

app_name = "communities"

urlpatterns = [
    path("", views.community_list, name="list"),
    path("<str:code>/", views.community_detail, name="detail"),
]
