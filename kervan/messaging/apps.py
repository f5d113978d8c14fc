from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Email, SMS and push to customers: transports, templates, the sending policy (consent, suppression, caps, quiet
    hours), the outbox and its workers, tracking (ARCHITECTURE.md)."""

    name = "kervan.messaging"
    label = "messaging"

    def ready(self) -> None:
        from kervan.messaging import registrations

        registrations.register()
