from django.urls import path

from inspections import views

app_name = "inspections"

urlpatterns = [
    path("", views.shop_list, name="shop_list"),
    path("new/", views.shop_new, name="shop_new"),
    path("<int:pk>/", views.shop_detail, name="shop_detail"),
    path("<int:pk>/inspect/", views.shop_inspect, name="shop_inspect"),
    path("notices/<int:pk>/", views.notice_detail, name="notice_detail"),
    path("notices/<int:pk>/reinspect/", views.notice_reinspect, name="notice_reinspect"),
]
