from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "kervan.catalog"
    label = "catalog"
