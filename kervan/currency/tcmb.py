"""The TCMB's daily indicative exchange rates: its XML bulletin, read and fetched.

The bank publishes one bulletin per business day at {base}/YYYYMM/DDMMYYYY.xml (and today.xml): a <Tarih_Date>
element with a Tarih="DD.MM.YYYY" attribute holding one <Currency CurrencyCode="USD"> per currency, each with <Unit>
(1, or 100 for JPY) and <ForexBuying>, the "döviz alış" rate Turkish accounting converts with. Weekends and holidays
have no bulletin (404): the last business day's rates hold then.
"""

import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils.translation import gettext as _

from kervan.core import http
from kervan.core.errors import KervanError


def bulletin_url(day: dt.date) -> str:
    return f"{settings.KERVAN_TCMB_URL.rstrip('/')}/{day:%Y%m}/{day:%d%m%Y}.xml"


def parse_bulletin(document: bytes) -> tuple[dt.date, dict[str, Decimal]]:
    """(the bulletin's day, {currency: TRY for one unit}) from a TCMB bulletin. Currencies without a forex buying
    rate (some have only cross rates) are left out. A document that is not a bulletin raises KervanError."""
    try:
        root = ET.fromstring(document)
        day = dt.datetime.strptime(root.attrib["Tarih"], "%d.%m.%Y").date()
    except (ET.ParseError, KeyError, ValueError):
        raise KervanError(_("This is not a TCMB exchange-rate bulletin."), "invalid_bulletin") from None
    rates = {}
    for currency in root.iter("Currency"):
        code = (currency.get("CurrencyCode") or currency.get("Kod") or "").strip().upper()
        buying = (currency.findtext("ForexBuying") or "").strip()
        unit = (currency.findtext("Unit") or "1").strip()
        if len(code) != 3 or not buying:
            continue
        try:
            rates[code] = Decimal(buying) / Decimal(unit)
        except (InvalidOperation, ZeroDivisionError):
            continue
    return day, rates


def fetch_bulletin(day: dt.date) -> tuple[dt.date, dict[str, Decimal]] | None:
    """The bulletin published for `day`, or None if there is none (a weekend, a holiday, not yet published).
    Network trouble raises kervan.core.http.RetryableError / PermanentError, for the caller to retry or report."""
    try:
        response = http.request("GET", bulletin_url(day), timeout=http.Timeout(connect=5, read=20))
    except http.PermanentError as exc:
        if exc.status == 404:
            return None
        raise
    return parse_bulletin(response.body)
