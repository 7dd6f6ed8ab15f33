from django.urls import path

from cases.views import desk, hotline, nav, notification_channels

app_name = "desk"

urlpatterns = [
    path("", desk.desk_home, name="home"),
    path("nav-counts/", nav.nav_counts, name="nav_counts"),
    path("notifications/", desk.notifications, name="notifications"),
    path("notifications/read/", desk.notifications_read, name="notifications_read"),
    path("notifications/<int:pk>/", desk.notification_open, name="notification_open"),
    path(
        "notifications/channels/", notification_channels.notification_channels, name="notification_channels"
    ),
    path("dispatch/bulk/", desk.bulk_dispatch, name="bulk_dispatch"),
    path("cases/<str:number>/<slug:action>/", desk.case_act, name="act"),
    path("hotline/", hotline.hotline_pushes, name="hotline_pushes"),
    path("hotline/<int:pk>/retry/", hotline.hotline_push_retry_view, name="hotline_push_retry"),
    path("<slug:slug>/", desk.worklist, name="worklist"),
]
