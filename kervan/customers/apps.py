from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "kervan.customers"
    label = "customers"
