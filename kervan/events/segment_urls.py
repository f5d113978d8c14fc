"""The Segment tracking API at /v1/ (the paths the libraries call on a custom host): kervan.events.segment_views."""

from django.urls import path

from kervan.events import segment_views as views

app_name = "segment"
urlpatterns = [
    path("track", views.track, name="track"),
    path("identify", views.identify, name="identify"),
    path("page", views.page, name="page"),
    path("screen", views.screen, name="screen"),
    path("group", views.group, name="group"),
    path("alias", views.alias, name="alias"),
    path("batch", views.batch, name="batch"),
    path("import", views.batch, name="import"),
    # analytics-next's short paths: one call to /v1/<first letter of its type>, a batch to /v1/b.
    path("t", views.track),
    path("i", views.identify),
    path("p", views.page),
    path("s", views.screen),
    path("g", views.group),
    path("a", views.alias),
    path("b", views.batch),
    path("projects/<str:write_key>/settings", views.project_settings, name="project_settings"),
]
