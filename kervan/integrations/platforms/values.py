"""Reading a platform's JSON values the same way in every mapping: a missing value, an amount, an id or a time that
cannot be read is an UnexpectedPayload naming it (the delivery is dead, nothing written), never a guess."""

import datetime as dt
from decimal import Decimal, InvalidOperation

from kervan.integrations.platforms.base import UnexpectedPayload

ZERO = Decimal(0)


def need(data, key: str, what: str = ""):
    """data[key], or UnexpectedPayload naming what is missing."""
    if not isinstance(data, dict):
        raise UnexpectedPayload(f"{what or 'the payload'} is not a JSON object")
    value = data.get(key)
    if value is None or value == "":
        raise UnexpectedPayload(f"{what or 'the payload'} has no '{key}'")
    return value


def ident(value) -> str:
    """An id exactly as the platform wrote it (an integer or a string); "" for none (null, "", 0: a guest, no
    parent). A float has already lost digits somewhere (Shopify's ids exceed 2^53): refused."""
    if value is None or value == "" or value == 0 or value == "0":
        return ""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise UnexpectedPayload(f"not an id: {value!r}")
    return str(value).strip()


def money(value, key: str = "amount", default: Decimal = ZERO) -> Decimal:
    """An amount as the platform wrote it ("19.99", 19.99 or 20) as a Decimal; `default` when empty."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UnexpectedPayload(f"'{key}' is not an amount: {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise UnexpectedPayload(f"'{key}' is not an amount: {value!r}") from None
    if not amount.is_finite():
        raise UnexpectedPayload(f"'{key}' is not an amount: {value!r}")
    return amount


def moment(value, key: str = "date") -> dt.datetime | None:
    """An ISO 8601 time ("2026-07-10T16:15:47Z", "2017-08-21 22:22:19") as an aware datetime — UTC when it carries
    no offset, as WooCommerce's *_gmt and Magento's times are; None when empty."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise UnexpectedPayload(f"'{key}' is not a date and time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def text(value) -> str:
    return "" if value is None else str(value).strip()
