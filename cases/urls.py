from django.urls import path

from cases.views import staff

app_name = "cases"

urlpatterns = [
    path("", staff.case_list, name="list"),
    path("<str:number>/", staff.case_detail, name="detail"),
]
