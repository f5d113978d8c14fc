from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "kervan.orders"
    label = "orders"
