from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kervan.core"
    label = "core"
