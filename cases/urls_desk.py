from django.urls import path

from cases.views import desk

app_name = "desk"

urlpatterns = [
    path("", desk.desk_home, name="home"),
    path("notifications/", desk.notifications, name="notifications"),
    path("notifications/read/", desk.notifications_read, name="notifications_read"),
    path("notifications/<int:pk>/", desk.notification_open, name="notification_open"),
    path("dispatch/bulk/", desk.bulk_dispatch, name="bulk_dispatch"),
    path("cases/<str:number>/<slug:action>/", desk.case_act, name="act"),
    path("<slug:slug>/", desk.worklist, name="worklist"),
]
