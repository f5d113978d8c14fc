from django.apps import AppConfig


class CurrencyConfig(AppConfig):
    name = "kervan.currency"
    label = "currency"

    def ready(self) -> None:
        import datetime as dt

        from kervan.core.schedule import register_schedule
        from kervan.currency.tasks import exchange_rates_fetch

        # The TCMB publishes its bulletin around 15:30 Istanbul time on business days.
        register_schedule("exchange_rates_fetch", exchange_rates_fetch, every=dt.timedelta(days=1), at=dt.time(15, 45))
