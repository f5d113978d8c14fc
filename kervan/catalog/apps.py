from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "kervan.catalog"
    label = "catalog"

    def ready(self) -> None:
        from kervan.accounts.permissions import READ, WRITE, register_area

        register_area("catalog", _("Catalog"), marketing=READ, sales=WRITE, support=READ, analyst=READ, readonly=READ)
