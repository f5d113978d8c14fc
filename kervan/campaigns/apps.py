from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    """One-off sends to segments: audience, schedule, throttle, A/B tests, reports and attribution (ARCHITECTURE.md)."""

    name = "kervan.campaigns"
    label = "campaigns"

    def ready(self) -> None:
        from kervan.campaigns import registrations

        registrations.register()
