from django.apps import AppConfig


class CurrencyConfig(AppConfig):
    name = "kervan.currency"
    label = "currency"
