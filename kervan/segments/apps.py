from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "kervan.segments"
    label = "segments"

    def ready(self) -> None:
        from kervan.segments import registrations

        registrations.register()
