"""Money is a Decimal amount with an ISO 4217 currency; never a float."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext

from kervan.core.errors import KervanError

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")  # what AmountField (max_digits=14, decimal_places=2) holds
CURRENCIES = ("TRY", "USD", "EUR", "GBP")


def to_amount(value: object, field: str = "amount") -> Decimal:
    """Parse a user-supplied amount ("1.234,50" is not accepted; use a dot) into a 2-place Decimal."""
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise KervanError(
            gettext("%(field)s: '%(value)s' is not a number.") % {"field": field, "value": value},
            "invalid_amount",
            field=field,
        ) from None
    if not amount.is_finite():
        raise KervanError(
            gettext("%(field)s: '%(value)s' is not a number.") % {"field": field, "value": value},
            "invalid_amount",
            field=field,
        )
    if abs(amount) <= MAX_AMOUNT + 1:  # quantizing a huge number would overflow Decimal's 28 digits
        amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return check_amount(amount, field)


def check_amount(amount: Decimal, field: str = "amount") -> Decimal:
    """Refuse an amount an AmountField cannot hold (14 digits, 2 after the point), e.g. a line total of
    quantity x price, before the database does it with an error."""
    if abs(amount) > MAX_AMOUNT:
        raise KervanError(
            gettext("%(field)s is too large (at most %(max)s).") % {"field": field, "max": f"{MAX_AMOUNT:,}"},
            "amount_too_large",
            field=field,
        )
    return amount


def to_currency(value: str | None) -> str:
    code = (value or settings.KERVAN_DEFAULT_CURRENCY).strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise KervanError(
            gettext("'%(value)s' is not a currency code.") % {"value": value}, "invalid_currency", field="currency"
        )
    return code


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __str__(self) -> str:
        sign = {"TRY": "₺", "USD": "$", "EUR": "€", "GBP": "£"}.get(self.currency)
        text = f"{self.amount:,.2f}"
        return f"{sign}{text}" if sign else f"{text} {self.currency}"


def AmountField(**kwargs: Any) -> models.DecimalField[Any, Any]:  # noqa: N802 - reads like a field class
    kwargs.setdefault("max_digits", 14)
    kwargs.setdefault("decimal_places", 2)
    kwargs.setdefault("default", Decimal("0"))
    return models.DecimalField(**kwargs)


def CurrencyField(**kwargs: Any) -> models.CharField[Any, Any]:  # noqa: N802
    kwargs.setdefault("max_length", 3)
    kwargs.setdefault("default", "TRY")
    return models.CharField(**kwargs)
