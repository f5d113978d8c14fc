from django.urls import path

from kervan.customers import views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("export.csv", views.customer_export, name="export"),
    path("custom-fields/", views.custom_field_list, name="custom_fields"),
    path("<int:customer_id>/edit/", views.customer_edit, name="edit"),
    path("<int:customer_id>/notes/", views.note_add, name="note_add"),
    path("<int:customer_id>/consent/", views.consent_add, name="consent_add"),
    path("<int:customer_id>/merge/", views.customer_merge, name="merge"),
    path("<int:customer_id>/merge/search/", views.customer_merge_search, name="merge_search"),
    path("<int:customer_id>/duplicates/badge/", views.duplicate_badge, name="duplicate_badge"),
]
