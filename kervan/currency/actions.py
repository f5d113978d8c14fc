"""Every write of exchange rates: by hand, or fetched from the TCMB."""

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.audit import audit
from kervan.core.errors import KervanError
from kervan.currency import tcmb
from kervan.currency.models import ExchangeRate

logger = logging.getLogger("kervan.currency")

# Called with ({currency: [days]} of the rates just stored) by apps that wait for rates (orders counted once their
# rate arrives). Registered from their AppConfig.ready(); the currency app imports none of them.
_rate_listeners: list[Callable[[dict[str, list[dt.date]]], None]] = []


def on_rates_stored(listener: Callable[[dict[str, list[dt.date]]], None]) -> None:
    if listener not in _rate_listeners:
        _rate_listeners.append(listener)


def _store(rates: dict[str, dict[dt.date, Decimal]], source: str) -> int:
    stored: dict[str, list[dt.date]] = {}
    for currency, by_day in rates.items():
        for day, value in by_day.items():
            ExchangeRate.objects.update_or_create(
                currency=currency, on=day, defaults={"try_per_unit": value, "source": source}
            )
            stored.setdefault(currency, []).append(day)
    for listener in _rate_listeners:
        listener(stored)
    return sum(len(days) for days in stored.values())


@transaction.atomic
def rate_set(*, actor: Actor, currency: str, on: dt.date, try_per_unit: object) -> ExchangeRate:
    """Enter a rate by hand (a currency the TCMB does not publish, or a correction): TRY for one unit."""
    actor.require("settings", "write")
    currency = str(currency or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise KervanError(
            _("currency must be a three-letter ISO code such as EUR."), "invalid_currency", field="currency"
        )
    try:
        value = Decimal(str(try_per_unit))
    except (InvalidOperation, ValueError):
        value = Decimal(0)
    if not value.is_finite() or value <= 0 or value >= Decimal("1e10"):
        raise KervanError(_("The rate must be a positive number."), "invalid_rate", field="try_per_unit")
    _store({currency: {on: value}}, ExchangeRate.Source.MANUAL)
    rate = ExchangeRate.objects.get(currency=currency, on=on)
    audit(actor=actor, action="update", obj=rate, changes={"rate": [None, f"{currency} {on} {value}"]})
    return rate


def rates_fetch(*, days: list[dt.date] | None = None) -> int:
    """Fetch the TCMB bulletins of `days` (default: today) and store their rates; returns how many were stored. Days
    without a bulletin store nothing; a bulletin already stored is written again (the bank may correct it)."""
    stored = 0
    for day in days or [clock.localdate()]:
        bulletin = tcmb.fetch_bulletin(day)
        if bulletin is None:
            logger.info("currency.no_bulletin", extra={"day": day.isoformat()})
            continue
        published, rates = bulletin
        with transaction.atomic():
            stored += _store({c: {published: v} for c, v in rates.items()}, ExchangeRate.Source.TCMB)
    return stored
