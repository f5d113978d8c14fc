from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImportsConfig(AppConfig):
    name = "kervan.imports"
    label = "imports"

    def ready(self) -> None:
        from kervan.accounts.permissions import WRITE, register_area
        from kervan.workspace.nav import NavItem, register_nav

        register_area("imports", _("Imports"), marketing=WRITE, sales=WRITE)
        register_nav(NavItem("imports", _("Import"), "imports:list", area="imports", access="write", position=80))
        from kervan.imports import today  # its cards on the Today page

        today.register()
