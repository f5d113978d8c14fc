from django.urls import path

from kervan.messaging import views

app_name = "messaging_staff"

urlpatterns = [
    path("templates/", views.template_list, name="templates"),
    path("templates/new/", views.template_edit, name="template_new"),
    path("templates/<int:template_id>/", views.template_edit, name="template"),
    path("templates/<int:template_id>/preview/", views.template_preview, name="template_preview"),
    path("templates/<int:template_id>/test/", views.template_test_send, name="template_test"),
    path("settings/", views.settings_page, name="settings"),
]
