from django.urls import path

from kervan.workspace import today, views

app_name = "workspace"
urlpatterns = [
    path("", today.today, name="today"),
    path("search/", views.global_search, name="search"),
    path("views/<slug:list_key>/save/", views.view_save, name="view_save"),
    path("views/<int:view_id>/delete/", views.view_delete, name="view_delete"),
    path("lists/<slug:list_key>/bulk/", views.bulk_action, name="bulk"),
]
