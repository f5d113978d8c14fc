from django.urls import path

from kervan.outbound import views

app_name = "outbound"

urlpatterns = [
    path("webhooks/", views.endpoint_list, name="webhooks"),
    path("webhooks/new/", views.endpoint_new, name="webhook_new"),
    path("webhooks/<int:endpoint_id>/", views.endpoint_detail, name="webhook"),
    path("webhooks/<int:endpoint_id>/edit/", views.endpoint_edit, name="webhook_edit"),
    path("webhooks/<int:endpoint_id>/rotate/", views.endpoint_rotate, name="webhook_rotate"),
    path("webhooks/<int:endpoint_id>/test/", views.endpoint_test, name="webhook_test"),
    path("webhooks/<int:endpoint_id>/delete/", views.endpoint_delete, name="webhook_delete"),
    path("deliveries/<int:delivery_id>/", views.delivery_detail, name="delivery"),
    path("deliveries/<int:delivery_id>/replay/", views.delivery_replay, name="delivery_replay"),
    path("exports/", views.export_list, name="exports"),
    path("exports/new/", views.export_new, name="export_new"),
    path("exports/<int:schedule_id>/", views.export_edit, name="export"),
    path("exports/<int:schedule_id>/download/", views.export_download, name="export_download"),
    path("exports/<int:schedule_id>/delete/", views.export_delete, name="export_delete"),
]
