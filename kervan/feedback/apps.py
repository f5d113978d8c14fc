from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    """What customers tell the shop: reviews now; surveys, social mentions and sentiment later (ARCHITECTURE.md)."""

    name = "kervan.feedback"
    label = "feedback"

    def ready(self) -> None:
        from kervan.feedback import timeline

        timeline.register()
