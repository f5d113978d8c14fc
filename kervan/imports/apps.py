from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImportsConfig(AppConfig):
    name = "kervan.imports"
    label = "imports"

    def ready(self) -> None:
        from kervan.accounts.permissions import WRITE, register_area

        register_area("imports", _("Imports"), marketing=WRITE, sales=WRITE)
