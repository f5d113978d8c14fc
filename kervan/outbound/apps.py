from django.apps import AppConfig


class OutboundConfig(AppConfig):
    """What Kervan sends out to other systems: signed webhooks for CRM events, scheduled exports (issue 15)."""

    name = "kervan.outbound"
    label = "outbound"

    def ready(self) -> None:
        from kervan.outbound import registrations

        registrations.register()
