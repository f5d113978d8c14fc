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
