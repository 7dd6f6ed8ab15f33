from django.urls import path

from cases.views import lists, staff

app_name = "cases"

urlpatterns = [
    path("", staff.case_list, name="list"),
    # Before the case detail: these paths would read as case numbers.
    path("saved-filters/", lists.saved_filter_list, name="saved_filters"),
    path("saved-filters/add/", lists.saved_filter_add, name="saved_filter_add"),
    path("saved-filters/<int:pk>/", lists.saved_filter_edit, name="saved_filter_edit"),
    path("saved-filters/<int:pk>/delete/", lists.saved_filter_remove, name="saved_filter_delete"),
    path("exports/", lists.export_jobs, name="export_jobs"),
    path("exports/new/", lists.export, name="export"),
    path("exports/<int:pk>/", lists.export_job, name="export_job"),
    path("exports/<int:pk>/status/", lists.export_job_status, name="export_job_status"),
    path("exports/<int:pk>/download/", lists.export_job_download, name="export_job_download"),
    path("<str:number>/", staff.case_detail, name="detail"),
    path("<str:number>/photos/<int:pk>/", staff.photo, name="photo"),
]
