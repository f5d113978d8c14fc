"""Exchange rates: the TCMB bulletin read and fetched from a loopback server speaking its format, rates entered by
hand, and the rate that applies on a day without a bulletin."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from kervan.accounts.actors import Actor
from kervan.core import http
from kervan.core.errors import KervanError, PermissionDenied
from kervan.core.testing import LoopbackSite
from kervan.currency import tcmb
from kervan.currency.actions import rate_set, rates_fetch
from kervan.currency.models import ExchangeRate
from kervan.currency.selectors import rate_to_reporting, try_per_unit

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def bulletin(day: dt.date, rates: dict[str, tuple[int, str]]) -> bytes:
    """A bulletin in the TCMB's format: {code: (unit, forex buying)}."""
    currencies = "".join(
        f'<Currency CrossOrder="{i}" Kod="{code}" CurrencyCode="{code}"><Unit>{unit}</Unit><Isim>{code}</Isim>'
        f"<CurrencyName>{code}</CurrencyName><ForexBuying>{buying}</ForexBuying><ForexSelling>{buying}</ForexSelling>"
        "<BanknoteBuying/><BanknoteSelling/><CrossRateUSD/><CrossRateOther/></Currency>"
        for i, (code, (unit, buying)) in enumerate(rates.items())
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Tarih_Date Tarih="{day:%d.%m.%Y}" Date="{day:%m/%d/%Y}" Bulten_No="2026/230">{currencies}</Tarih_Date>'
    ).encode()


FRIDAY = dt.date(2026, 11, 27)


def test_a_bulletin_gives_try_per_one_unit():
    day, rates = tcmb.parse_bulletin(bulletin(FRIDAY, {"USD": (1, "42.3810"), "JPY": (100, "27.1234"), "XDR": (1, "")}))
    assert day == FRIDAY
    assert rates == {"USD": Decimal("42.3810"), "JPY": Decimal("0.271234")}  # JPY is quoted per 100; no XDR rate


@pytest.mark.parametrize("document", [b"", b"<html>busy</html>", b"<Tarih_Date Tarih='yarin'/>"])
def test_something_else_is_refused(document):
    with pytest.raises(KervanError) as refused:
        tcmb.parse_bulletin(document)
    assert refused.value.code == "invalid_bulletin"


def test_fetching_stores_the_bulletins_rates_and_skips_days_without_one(settings):
    saturday = FRIDAY + dt.timedelta(days=1)
    pages = {"/202611/27112026.xml": (200, bulletin(FRIDAY, {"USD": (1, "42.38"), "EUR": (1, "49.10")}))}
    with LoopbackSite(pages) as site:
        settings.KERVAN_TCMB_URL = site.url
        assert rates_fetch(days=[FRIDAY, saturday]) == 2
        assert site.asked == ["/202611/27112026.xml", "/202611/28112026.xml"]
        assert rates_fetch(days=[FRIDAY]) == 2  # fetched again: written again, not doubled
    assert ExchangeRate.objects.count() == 2
    # No bulletin on Saturday or Sunday: Friday's rate holds.
    assert try_per_unit("USD", FRIDAY + dt.timedelta(days=2)) == Decimal("42.38")
    assert try_per_unit("USD", FRIDAY - dt.timedelta(days=1)) is None  # nothing published before Friday
    assert try_per_unit("TRY", FRIDAY) == 1


def test_the_bank_unreachable_is_a_clear_error(settings):
    with LoopbackSite({"/202611/27112026.xml": (503, b"maintenance")}) as site:
        settings.KERVAN_TCMB_URL = site.url
        with pytest.raises(http.RetryableError):
            tcmb.fetch_bulletin(FRIDAY)
        with pytest.raises(CommandError, match="TCMB could not be reached"):
            call_command("exchange_rates_fetch", "--date", FRIDAY.isoformat())
    assert not ExchangeRate.objects.exists()


def test_the_command_back_fills_every_day_since_a_date(settings, clock):
    pages = {
        f"/202611/{d:%d%m%Y}.xml": (200, bulletin(d, {"EUR": (1, f"49.{d.day:02d}")}))
        for d in (FRIDAY - dt.timedelta(days=1), FRIDAY)
    }
    with clock.frozen(dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)), LoopbackSite(pages) as site:
        settings.KERVAN_TCMB_URL = site.url
        call_command("exchange_rates_fetch", "--since", "2026-11-26")
        assert len(site.asked) == 3
    assert sorted(ExchangeRate.objects.values_list("on", "try_per_unit")) == [
        (dt.date(2026, 11, 26), Decimal("49.26")),
        (FRIDAY, Decimal("49.27")),
    ]


def test_rates_convert_between_any_two_currencies_through_the_lira(settings):
    rate_set(actor=SYSTEM, currency="eur", on=FRIDAY, try_per_unit="50")
    rate_set(actor=SYSTEM, currency="USD", on=FRIDAY, try_per_unit="40")
    assert rate_to_reporting("EUR", FRIDAY) == Decimal(50)
    settings.KERVAN_REPORTING_CURRENCY = "USD"
    assert rate_to_reporting("EUR", FRIDAY) == Decimal("1.25")
    assert rate_to_reporting("TRY", FRIDAY) == Decimal("0.025")
    assert rate_to_reporting("GBP", FRIDAY) is None  # no rate: the caller leaves the amount out until it comes


@pytest.mark.parametrize(
    ("currency", "value", "code"),
    [("EURO", "50", "invalid_currency"), ("EUR", "-1", "invalid_rate"), ("EUR", "abc", "invalid_rate")],
)
def test_bad_rates_are_refused_and_nothing_is_written(currency, value, code):
    with pytest.raises(KervanError) as refused:
        rate_set(actor=SYSTEM, currency=currency, on=FRIDAY, try_per_unit=value)
    assert refused.value.code == code
    assert not ExchangeRate.objects.exists()


def test_only_who_may_change_settings_enters_rates():
    reader = Actor(scopes={"settings": "read"})
    with pytest.raises(PermissionDenied):
        rate_set(actor=reader, currency="EUR", on=FRIDAY, try_per_unit="50")
    assert not ExchangeRate.objects.exists()


def test_the_api_lists_rates_and_takes_one_by_hand(api, make_api_key):
    from kervan.conftest import ApiClient

    created = api.post("/exchange-rates/", {"currency": "EUR", "on": "2026-11-27", "try_per_unit": "49.5"})
    assert created.status_code == 201 and created.json()["source"] == "manual"
    listed = api.get("/exchange-rates/", {"currency": "eur"}).json()["items"]
    assert [(r["currency"], r["on"], r["try_per_unit"]) for r in listed] == [("EUR", "2026-11-27", "49.50000000")]
    refused = api.post("/exchange-rates/", {"currency": "EUR", "on": "2026-11-27", "try_per_unit": "0"})
    assert refused.status_code == 422
    reader = ApiClient(make_api_key({"settings": "read"})[1])
    assert (
        reader.post("/exchange-rates/", {"currency": "USD", "on": "2026-11-27", "try_per_unit": "42"}).status_code
        == 403
    )
    assert ExchangeRate.objects.count() == 1


def test_the_settings_page_shows_rates_and_takes_one(admin_client):
    response = admin_client.post(
        "/settings/exchange-rates/", {"currency": "gbp", "on": "2026-11-27", "try_per_unit": "55.1"}
    )
    assert response.status_code == 302
    page = admin_client.get("/settings/exchange-rates/").content.decode()
    assert "GBP" in page and "55.10000000" in page
    admin_client.post("/settings/exchange-rates/", {"currency": "gbp", "on": "not a day", "try_per_unit": "1"})
    assert ExchangeRate.objects.count() == 1
