from django.apps import AppConfig


class FlowsConfig(AppConfig):
    """Journeys: triggers, steps, the engine, the ready-made library, holdout uplift (ARCHITECTURE.md)."""

    name = "kervan.flows"
    label = "flows"

    def ready(self) -> None:
        from kervan.flows import registrations

        registrations.register()
