"""The operator's intake desk (受理台), mounted at /desk/intake/."""

from django.urls import path

from cases.views import intake

app_name = "intake"

urlpatterns = [
    path("", intake.desk, name="desk"),
    path("check/", intake.check, name="check"),
    path("inbox/", intake.inbox, name="inbox"),
    path("<str:number>/duplicates/", intake.duplicates, name="duplicates"),
    path("<str:number>/register/", intake.register, name="register"),
    path("<str:number>/register/form/", intake.register_form, name="register_form"),
    path("<str:number>/reject/", intake.reject, name="reject"),
    path("<str:number>/reject/form/", intake.reject_form, name="reject_form"),
    path("<str:number>/merge/", intake.merge, name="merge"),
]
