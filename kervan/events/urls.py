from django.urls import path

from kervan.events import segment_pages, views

app_name = "events"
urlpatterns = [
    path("tracker.js", views.tracker_js, name="tracker_js"),
    path("collect", views.collect, name="collect"),
    path("tracker/", views.tracker_settings, name="tracker"),
    path("tracker/demo/", views.tracker_demo, name="tracker_demo"),
    path("segment/", segment_pages.segment_settings, name="segment"),
    path("segment/recent/<str:kind>/<int:pk>/", segment_pages.segment_recent, name="segment_recent"),
    path("", views.event_list, name="list"),
    path("live/", views.event_list_live, name="live"),
]
