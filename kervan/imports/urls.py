from django.urls import path

from kervan.imports import views

app_name = "imports"
urlpatterns = [
    path("", views.import_list, name="list"),
    path("<int:job_id>/", views.import_detail, name="detail"),
    path("<int:job_id>/mapping/", views.import_mapping, name="mapping"),
    path("<int:job_id>/progress/", views.import_progress, name="progress"),
    path("<int:job_id>/report.csv", views.import_report, name="report"),
]
