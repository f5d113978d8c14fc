from django.apps import AppConfig


class Customer360Config(AppConfig):
    name = "kervan.customer360"
    label = "customer360"
