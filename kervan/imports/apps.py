from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "kervan.imports"
    label = "imports"
