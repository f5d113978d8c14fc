from django.apps import AppConfig


class SupportConfig(AppConfig):
    """Customer service. For now the knowledge base and the public help centre (issue 14); tickets and chat join
    this app later."""

    name = "kervan.support"
    label = "support"

    def ready(self) -> None:
        from kervan.support import registrations

        registrations.register()
