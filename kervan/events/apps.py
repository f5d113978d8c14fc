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
