from django.urls import path

from kervan.events import views

app_name = "events"
urlpatterns = [
    path("tracker.js", views.tracker_js, name="tracker_js"),
    path("collect", views.collect, name="collect"),
    path("tracker/", views.tracker_settings, name="tracker"),
    path("tracker/demo/", views.tracker_demo, name="tracker_demo"),
    path("", views.event_list, name="list"),
    path("live/", views.event_list_live, name="live"),
]
