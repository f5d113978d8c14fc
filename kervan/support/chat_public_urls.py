"""/chat/…: the storefront chat widget's HTTP side (kervan.support.chat_public_views)."""

from django.urls import path

from kervan.support import chat_public_views as views

app_name = "chat"

urlpatterns = [
    path("start/", views.start, name="start"),
    path("status/", views.status, name="status"),
    path("offline/", views.offline, name="offline"),
    path("widget.js", views.widget_js, name="widget_js"),
    path("widget.css", views.widget_css, name="widget_css"),
]
