from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """Store and payment platforms: connections, webhook intake, backfill, sync health (ARCHITECTURE.md)."""

    name = "kervan.integrations"
    label = "integrations"

    def ready(self) -> None:
        from kervan.integrations import checks, registrations  # noqa: F401 - checks registers itself

        registrations.register()
