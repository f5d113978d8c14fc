from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "kervan.events"
    label = "events"
