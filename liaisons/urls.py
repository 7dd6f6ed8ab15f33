from django.urls import path

from liaisons import views

app_name = "liaisons"

urlpatterns = [
    path("", views.home, name="home"),
    path("patrols/", views.patrol_list, name="patrol_list"),
    path("patrols/new/", views.patrol_new, name="patrol_new"),
    path("patrols/<int:pk>/", views.patrol_detail, name="patrol_detail"),
    path("findings/<int:pk>/case/", views.finding_to_case, name="finding_to_case"),
    path("visits/", views.visit_list, name="visit_list"),
    path("visits/<int:pk>/", views.visit_record, name="visit_record"),
    path("meetings/", views.meeting_list, name="meeting_list"),
    path("meetings/new/", views.meeting_new, name="meeting_new"),
    path("meetings/<int:pk>/", views.meeting_detail, name="meeting_detail"),
    path("covers/", views.cover_list, name="cover_list"),
    path("covers/<int:pk>/cancel/", views.cover_cancel_view, name="cover_cancel"),
]
