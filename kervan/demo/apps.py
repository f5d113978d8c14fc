from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "kervan.demo"
    label = "demo"
