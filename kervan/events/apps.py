from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "kervan.events"
    label = "events"

    def ready(self) -> None:
        from kervan.accounts.permissions import READ, WRITE, register_area
        from kervan.events import timeline

        register_area("events", _("Events"), marketing=WRITE, sales=READ, support=READ, analyst=READ, readonly=READ)

        timeline.register()

        from kervan.events.lists import EVENT_LIST
        from kervan.workspace.lists import register_list
        from kervan.workspace.nav import NavItem, register_nav

        register_list(EVENT_LIST)
        register_nav(NavItem("events", _("Events"), "events:list", area="events", position=40))
        from kervan.events import today  # its cards on the Today page

        today.register()
