"""Background work for exchange rates: thin and idempotent."""

from django_tasks import task


@task()
def exchange_rates_fetch() -> int:
    """Today's TCMB rates (run it on a schedule after the bank publishes, ~15:30 Istanbul time on business days)."""
    from kervan.currency.actions import rates_fetch

    return rates_fetch()
