from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils.formats import number_format

register = template.Library()

SYMBOLS = {"TRY": "₺", "USD": "$", "EUR": "€", "GBP": "£"}


@register.filter
def money(amount: Any, currency: str = "TRY") -> str:
    """`{{ order.total|money:order.currency }}` → "₺1.234,50" in Turkish, "₺1,234.50" in English."""
    if amount in (None, ""):
        return "—"
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    text = number_format(value, 2, use_l10n=True, force_grouping=True)
    symbol = SYMBOLS.get(currency or "TRY")
    return f"{symbol}{text}" if symbol else f"{text} {currency}"
