"""Parsers for the cells of an import file. Each takes the cell's text and returns a value or raises KervanError.

They accept what Turkish and English spreadsheets write: dates as YYYY-MM-DD or DD.MM.YYYY, amounts as "1234.50" or
"1.234,50" (with or without "TL"/"₺"), yes/no as "evet"/"hayır" or "yes"/"no".
"""

import datetime as dt
import re
import zoneinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from kervan.core.errors import KervanError
from kervan.core.money import CENT
from kervan.customers.profile import clean_birth_date

_DATE_DOTTED = re.compile(r"^(\d{1,2})[./](\d{1,2})[./](\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$")
_AMOUNT_JUNK = re.compile(r"[\s\u00a0₺$€£]|TL$|TRY$|USD$|EUR$|GBP$", re.IGNORECASE)

_YES = {
    "evet",
    "e",
    "yes",
    "y",
    "true",
    "1",
    "x",
    "onay",
    "onayli",
    "izinli",
    "izin var",
    "var",
    "granted",
    "accepted",
    "subscribed",
    "opt-in",
    "optin",
}
_NO = {
    "hayir",
    "h",
    "no",
    "n",
    "false",
    "0",
    "ret",
    "red",
    "izinsiz",
    "izin yok",
    "yok",
    "refused",
    "declined",
    "unsubscribed",
    "opt-out",
    "optout",
}
_GENDER = {
    "female": "female",
    "f": "female",
    "kadin": "female",
    "k": "female",
    "woman": "female",
    "bayan": "female",
    "male": "male",
    "m": "male",
    "erkek": "male",
    "e": "male",
    "man": "male",
    "bay": "male",
    "other": "other",
    "diger": "other",
    "o": "other",
    "unknown": "",
    "belirtilmemis": "",
    "-": "",
}
_FOLD = str.maketrans(
    {
        "ı": "i",
        "İ": "i",
        "I": "i",
        "ş": "s",
        "Ş": "s",
        "ğ": "g",
        "Ğ": "g",
        "ç": "c",
        "Ç": "c",
        "ö": "o",
        "Ö": "o",
        "ü": "u",
        "Ü": "u",
    }
)


def fold_choice(text: str) -> str:
    """A cell as compared with a list of choices: trimmed, lower-case, Turkish letters as ASCII."""
    return text.strip().translate(_FOLD).lower()


def parse_date(text: str) -> dt.date:
    """YYYY-MM-DD or DD.MM.YYYY (also DD/MM/YYYY); a time after the date is ignored."""
    value = text.strip().split(" ")[0].split("T")[0]
    try:
        if m := _DATE_ISO.match(value):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if m := _DATE_DOTTED.match(value):
            return dt.date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:
        pass
    raise KervanError(_("'%(value)s' is not a date (use YYYY-MM-DD or DD.MM.YYYY).") % {"value": text}, "invalid_date")


def parse_birth_date(text: str) -> dt.date:
    return clean_birth_date(parse_date(text))


def parse_datetime(text: str, tz: str | None = None) -> dt.datetime:
    """A date, or a date and a time, in the store's time zone unless the text carries its own offset."""
    value = text.strip()
    zone = zoneinfo.ZoneInfo(tz or settings.TIME_ZONE)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None:
        date_part, _sep, time_part = value.replace("T", " ").partition(" ")
        date = parse_date(date_part)
        hour = minute = second = 0
        if time_part.strip():
            m = _TIME.match(time_part.strip())
            if not m:
                raise KervanError(_("'%(value)s' is not a date and time.") % {"value": text}, "invalid_datetime")
            hour, minute, second = int(m[1]), int(m[2]), int(m[3] or 0)
        try:
            parsed = dt.datetime(date.year, date.month, date.day, hour, minute, second)
        except ValueError:
            raise KervanError(_("'%(value)s' is not a date and time.") % {"value": text}, "invalid_datetime")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=zone)
    return parsed


def parse_amount(text: str) -> Decimal:
    """ "1234.50", "1234,50", "1.234,50", "1,234.50", "₺1.234,50", "1.234,50 TL" → Decimal('1234.50')."""
    value = _AMOUNT_JUNK.sub("", text.strip())
    if "," in value and "." in value:
        if value.rfind(",") > value.rfind("."):  # 1.234,50
            value = value.replace(".", "").replace(",", ".")
        else:  # 1,234.50
            value = value.replace(",", "")
    elif "," in value:
        value = value.replace(",", "") if value.count(",") > 1 else value.replace(",", ".")
    elif value.count(".") > 1:  # 1.234.567
        value = value.replace(".", "")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise KervanError(_("'%(value)s' is not an amount.") % {"value": text}, "invalid_amount")
    if not amount.is_finite():
        raise KervanError(_("'%(value)s' is not an amount.") % {"value": text}, "invalid_amount")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_non_negative_amount(text: str) -> Decimal:
    amount = parse_amount(text)
    if amount < 0:
        raise KervanError(_("'%(value)s' cannot be negative.") % {"value": text}, "invalid_amount")
    return amount


def parse_int(text: str) -> int:
    """A whole number: "12", "12.0", "1.234" (Turkish thousands) or "-3"."""
    value = text.strip().replace(" ", "")
    if re.fullmatch(r"-?\d{1,3}(\.\d{3})+", value):
        value = value.replace(".", "")
    try:
        number = Decimal(value.replace(",", "."))
    except InvalidOperation:
        raise KervanError(_("'%(value)s' is not a whole number.") % {"value": text}, "invalid_number")
    if not number.is_finite() or number != number.to_integral_value():
        raise KervanError(_("'%(value)s' is not a whole number.") % {"value": text}, "invalid_number")
    return int(number)


def parse_quantity(text: str) -> int:
    number = parse_int(text)
    if number < 1:
        raise KervanError(_("'%(value)s': the quantity must be 1 or more.") % {"value": text}, "invalid_quantity")
    return number


def parse_yes_no(text: str) -> bool:
    value = fold_choice(text)
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise KervanError(_("'%(value)s' is not yes/no (evet/hayır).") % {"value": text}, "invalid_boolean")


def parse_consent(text: str) -> str:
    return "granted" if parse_yes_no(text) else "refused"


def parse_gender(text: str) -> str:
    value = _GENDER.get(fold_choice(text))
    if value is None:
        raise KervanError(
            _("'%(value)s' is not a gender (kadın/erkek/diğer, female/male/other).") % {"value": text}, "invalid_choice"
        )
    return value


def parse_currency(text: str) -> str:
    value = text.strip().upper()
    value = {"TL": "TRY", "₺": "TRY", "$": "USD", "€": "EUR", "£": "GBP"}.get(value, value)
    if len(value) != 3 or not value.isalpha():
        raise KervanError(_("'%(value)s' is not a currency code such as TRY.") % {"value": text}, "invalid_currency")
    return value


def parse_tags(text: str) -> list[str]:
    """ "vip, istanbul; yeni" → ["vip", "istanbul", "yeni"] (at most 64 characters each)."""
    return [t.strip()[:64] for t in re.split(r"[,;|]", text) if t.strip()]


def split_full_name(text: str) -> tuple[str, str]:
    """ "Ayşe Nur Yılmaz" → ("Ayşe Nur", "Yılmaz"): the last word is the surname."""
    parts = text.split()
    if len(parts) < 2:
        return text.strip(), ""
    return " ".join(parts[:-1]), parts[-1]


# -- per-file readings (kervan.imports.file_settings): the date order, time zone and decimal separator of one file --

DATE_ORDERS = ("dmy", "mdy")  # a date whose first number has four digits is always year-month-day
DECIMAL_SEPARATORS = ("auto", ".", ",")
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january", "oca", "ocak"),
            ("feb", "february", "sub", "subat"),
            ("mar", "march", "mart"),
            ("apr", "april", "nis", "nisan"),
            ("may", "mayis"),
            ("jun", "june", "haz", "haziran"),
            ("jul", "july", "tem", "temmuz"),
            ("aug", "august", "agu", "agustos"),
            ("sep", "sept", "september", "eyl", "eylul"),
            ("oct", "october", "eki", "ekim"),
            ("nov", "november", "kas", "kasim"),
            ("dec", "december", "ara", "aralik"),
        ),
        start=1,
    )
    for name in names
}
_NUMERIC_DATE = re.compile(r"(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})")
_NAMED_DATE = re.compile(  # "Mar 3, 2021", "3 Mar 2021", "03-Mar-2021", "3 Mart 2021"
    r"(?:(?P<m1>[^\W\d_]{3,9})\.? (?P<d1>\d{1,2}),? (?P<y1>\d{4})"
    r"|(?P<d2>\d{1,2})[ -](?P<m2>[^\W\d_]{3,9})\.?[ -](?P<y2>\d{2,4}))"
)
_CLOCK = re.compile(
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?(?:\s*([AaPp])\.?[Mm]\.?)?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?$"
)


def datetime_parser(order: str = "dmy", tz: str | None = None):
    """A parser of the cells of one date column: ISO 8601 (with or without a time and an offset), numeric dates in
    the file's `order` (day first or month first; a four-digit first number is the year), dates with month names
    (English or Turkish), 12- or 24-hour times, an optional offset. A time without an offset is in `tz`."""
    zone = zoneinfo.ZoneInfo(tz or settings.TIME_ZONE)
    month_first = order == "mdy"

    def parse(text: str) -> dt.datetime:
        value = text.strip()
        parsed = None
        if len(value) >= 10 and value[4] == "-" and value[7] == "-":  # the common case first: ISO 8601
            try:
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                parsed = None
        if parsed is None:
            parsed = _general_datetime(value, month_first)
            if parsed is None:
                raise KervanError(
                    _("'%(value)s' is not a date and time.") % {"value": text},
                    "invalid_datetime",
                )
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed

    return parse


def _general_datetime(value: str, month_first: bool) -> dt.datetime | None:
    folded = fold_choice(value)
    match = _NUMERIC_DATE.match(folded)
    if match:
        a, b, c = match.groups()
        if len(a) == 4:
            year, month, day = int(a), int(b), int(c)
        elif month_first:
            month, day, year = int(a), int(b), int(c)
        else:
            day, month, year = int(a), int(b), int(c)
        if len(c) == 2 and len(a) != 4:
            year += 2000 if year < 70 else 1900
    else:
        match = _NAMED_DATE.match(folded)
        if not match:
            return None
        month = _MONTHS.get((match["m1"] or match["m2"])[:9])
        if month is None:
            month = _MONTHS.get((match["m1"] or match["m2"])[:3])
        if month is None:
            return None
        day, year = int(match["d1"] or match["d2"]), int(match["y1"] or match["y2"])
        if year < 100:
            year += 2000 if year < 70 else 1900
    rest = _CLOCK.fullmatch(folded, match.end())
    if rest is None:
        return None
    hour, minute, second, fraction, half, offset = rest.groups()
    hour, minute, second = int(hour or 0), int(minute or 0), int(second or 0)
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half in "pP" else 0)
    try:
        parsed = dt.datetime(year, month, day, hour, minute, second, int((fraction or "0").ljust(6, "0")))
    except ValueError:
        return None
    if offset and offset.upper() not in ("Z", "UTC", "GMT"):
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        parsed = parsed.replace(tzinfo=dt.timezone(sign * delta))
    elif offset:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def date_order_of(samples) -> str | None:
    """ "dmy" or "mdy" if the numeric dates among `samples` show which (a first number above 12 is a day, a second
    one is then the day); None when none of them tells (every day ≤ 12, or no numeric dates)."""
    for text in samples:
        match = _NUMERIC_DATE.match(text.strip())
        if match and len(match[1]) != 4:
            first, second = int(match[1]), int(match[2])
            if first > 12 >= second:
                return "dmy"
            if second > 12 >= first:
                return "mdy"
    return None


def amount_parser(decimal: str = "auto"):
    """A parser of the amounts of one file. "auto" reads each cell as parse_amount does; "." and "," say which
    character separates the decimals (the other one, and spaces, then group thousands)."""
    if decimal == "auto":
        return parse_amount
    thousands = "," if decimal == "." else "."

    def parse(text: str) -> Decimal:
        value = _AMOUNT_JUNK.sub("", text.strip()).replace(thousands, "")
        if decimal == ",":
            value = value.replace(",", ".")
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise KervanError(_("'%(value)s' is not an amount.") % {"value": text}, "invalid_amount")
        if not amount.is_finite():
            raise KervanError(_("'%(value)s' is not an amount.") % {"value": text}, "invalid_amount")
        return amount.quantize(CENT, rounding=ROUND_HALF_UP)

    return parse


def decimal_separator_of(samples) -> str | None:
    """ "." or "," when the amounts among `samples` show it ("1,234.50", "12.5", "1.234,50", "12,5"); None if none
    does (whole numbers, or only "1.234"/"1,234", which could be either)."""
    seen = set()
    for text in samples:
        value = _AMOUNT_JUNK.sub("", text.strip())
        dot, comma = value.rfind("."), value.rfind(",")
        if dot >= 0 and comma >= 0:
            seen.add("." if dot > comma else ",")
            continue
        last = max(dot, comma)
        if last >= 0 and len(value) - last - 1 != 3:  # "12.5", "12,50": not a group of thousands
            seen.add(value[last])
    return seen.pop() if len(seen) == 1 else None  # a file that writes both is read cell by cell


def parse_signed_quantity(text: str) -> int:
    """A line's quantity: a whole number, negative for goods coming back (a return or a cancellation line), not 0."""
    number = parse_int(text)
    if number == 0:
        raise KervanError(_("'%(value)s': a quantity cannot be 0.") % {"value": text}, "invalid_quantity")
    return number


def parse_currency_code(text: str) -> str:
    """An ISO 4217 code (or ₺/TL, $, €, £), checked against the codes that exist."""
    from kervan.imports.codes import CURRENCIES

    value = parse_currency(text)
    if value not in CURRENCIES:
        raise KervanError(_("'%(value)s' is not a currency code such as TRY.") % {"value": text}, "invalid_currency")
    return value
