from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The shell a shop's team works in: the menu, the lists (filters, saved views, bulk actions, counts), the global
    search and the Today page. Each domain app plugs its pages, lists, search results and Today cards in through the
    registries here; this app imports only core and accounts, so every domain (the customer core included) may."""

    name = "kervan.workspace"
    label = "workspace"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from kervan.workspace.nav import NavItem, register_nav

        register_nav(NavItem("today", _("Today"), "workspace:today", area="customers", position=0))  # all roles have it
        # Settings belongs to accounts, which sits below the shell and cannot register itself here.
        register_nav(
            NavItem(
                "settings",
                _("Settings"),
                "accounts:settings",
                area="settings",
                position=90,
                active_for=("accounts", "currency"),
            )
        )
