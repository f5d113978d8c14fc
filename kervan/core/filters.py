"""Parsing the raw values of list filters (page query strings and API query parameters alike): each refusal names
its field, so a list page can show it next to that filter and keep the others applied."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from kervan.core.errors import KervanError
from kervan.core.money import MAX_AMOUNT, to_amount

FIRST_YEAR, LAST_YEAR = 1900, 2999  # what a shop's dates can be; year 9999 would have no "day after" to end a range


def _named(message: str, label: str | None) -> str:
    """`message` preceded by the field's readable name when the caller gave one ("Placed from: …"). Without a label
    the field is not named in the text (a list page shows the message beside its input; the API answers `field`)."""
    return _("%(field)s: %(message)s") % {"field": label, "message": message} if label else message


def parse_date(value: str, field: str, *, label: str | None = None) -> dt.date:
    """A calendar date written YYYY-MM-DD (what <input type=date> sends)."""
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:  # (year 9999 has no "day after" to end a range)
        raise KervanError(
            _named(_("'%(value)s' is not a date; use YYYY-MM-DD.") % {"value": value}, label),
            "invalid_date",
            field=field,
        )
    return day


def day_start(day: dt.date) -> dt.datetime:
    """The first instant of `day` in the shop's time zone: "from 1 March" starts at midnight in Istanbul."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


def date_range(
    start: str | None,
    end: str | None,
    *,
    start_field: str,
    end_field: str,
    start_label: str | None = None,
    end_label: str | None = None,
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start of `start`, start of the day after `end`) as aware datetimes: both days included, either open."""
    low = day_start(parse_date(start, start_field, label=start_label)) if start else None
    high = day_start(parse_date(end, end_field, label=end_label) + dt.timedelta(days=1)) if end else None
    if low and high and high <= low:
        if start_label and end_label:
            message = _("%(end)s must not be before %(start)s.") % {"end": end_label, "start": start_label}
        else:
            message = _("The end date must not be before the start date.")
        raise KervanError(message, "invalid_range", field=end_field)
    return low, high


def parse_yes_no(value: str, field: str, *, label: str | None = None) -> bool:
    """ "yes"/"no" (the drop-downs' values; the API also accepts true/false) as a bool."""
    folded = value.strip().lower()
    if folded in ("yes", "true", "1"):
        return True
    if folded in ("no", "false", "0"):
        return False
    raise KervanError(_named(_("Use yes or no."), label), "invalid_choice", field=field)


def parse_amount(value: str, field: str, *, label: str | None = None) -> Decimal:
    """An amount such as 1250 or 1250.50 (a dot before the kuruş)."""
    try:
        return to_amount(value, field)
    except KervanError as exc:
        if exc.code == "amount_too_large":
            message = _("Use an amount of at most %(max)s.") % {"max": f"{MAX_AMOUNT:,}"}
        else:
            message = _("'%(value)s' is not an amount; write it like 1250.50.") % {"value": value}
        raise KervanError(_named(message, label), exc.code, field=field) from None


def parse_count(value: str, field: str, *, low: int = 0, high: int = 1_000_000, label: str | None = None) -> int:
    """A whole number within [low, high]."""
    try:
        number = int(value.strip())
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise KervanError(
            _named(_("Use a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}, label),
            "invalid_number",
            field=field,
        )
    return number
