"""Reading exchange rates and converting amounts into the shop's reporting currency."""

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.db.models import QuerySet

from kervan.accounts.actors import Actor
from kervan.core.money import CENT
from kervan.currency.models import ExchangeRate

# The TCMB publishes no bulletin on weekends and holidays: the last one before holds, looking back at most this far.
LOOKBACK = dt.timedelta(days=10)


def reporting_currency() -> str:
    return settings.KERVAN_REPORTING_CURRENCY


def try_per_unit(currency: str, day: dt.date) -> Decimal | None:
    """TRY for one unit of `currency` on `day`: the latest rate published on or before it (within LOOKBACK)."""
    if currency == "TRY":
        return Decimal(1)
    return (
        ExchangeRate.objects.filter(currency=currency, on__lte=day, on__gt=day - LOOKBACK)
        .order_by("-on")
        .values_list("try_per_unit", flat=True)
        .first()
    )


def rate_to_reporting(currency: str, day: dt.date) -> Decimal | None:
    """How many units of the reporting currency one unit of `currency` was worth on `day`; None when a rate is
    missing (the caller leaves the amount out of totals until it arrives)."""
    target = reporting_currency()
    if currency == target:
        return Decimal(1)
    source_rate, target_rate = try_per_unit(currency, day), try_per_unit(target, day)
    if source_rate is None or target_rate is None:
        return None
    return source_rate / target_rate


def convert(amount: Decimal, rate: Decimal) -> Decimal:
    """`amount` times `rate`, in cents (half-even, like every other rounding of money here)."""
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_EVEN)


def rates_list(*, actor: Actor, currency: str = "") -> QuerySet[ExchangeRate]:
    rows = actor.scope("settings", ExchangeRate.objects.all())
    return rows.filter(currency=currency.upper()) if currency else rows
