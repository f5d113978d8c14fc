from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kervan.core.emails import normalize_email
from kervan.core.errors import KervanError
from kervan.core.money import Money, to_amount
from kervan.core.phones import normalize_phone
from kervan.core.text import search_fold


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("ışık", "IŞIK"), ("İstanbul", "istanbul"), ("istanbul", "İSTANBUL"), ("isik", "Işık"), ("çağrı", "ÇAĞRI")],
)
def test_search_fold_matches_turkish_spellings(typed, stored):
    assert search_fold(typed) == search_fold(stored)


def test_search_fold_keeps_distinct_words_distinct():
    assert search_fold("Ilgaz") != search_fold("Algaz")
    assert search_fold("  Ayşe   Yılmaz ") == "ayse yilmaz"


@given(st.text(max_size=40))
def test_search_fold_is_idempotent(text):
    assert search_fold(search_fold(text)) == search_fold(text)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0532 123 45 67", "+905321234567"),
        ("5321234567", "+905321234567"),
        ("+90 (532) 123-45-67", "+905321234567"),
        ("0090 532 123 45 67", "+905321234567"),
        ("0212 555 12 34", "+902125551234"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phones_become_e164_with_turkey_as_default(raw, e164):
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["", "12", "not a phone", "+90 532 123"])
def test_invalid_phones_are_refused(raw):
    with pytest.raises(KervanError) as exc:
        normalize_phone(raw)
    assert exc.value.code == "invalid_phone"


def test_emails_are_lowered_and_checked():
    assert normalize_email("  Ayse.Yilmaz@Example.COM ") == "ayse.yilmaz@example.com"
    for bad in ["ayse", "ayse@", "a b@example.com", "@example.com", "ayse@example"]:
        with pytest.raises(KervanError):
            normalize_email(bad)


def test_money_is_decimal_with_currency():
    assert to_amount("19.999") == Decimal("20.00")
    assert to_amount(0.1) + to_amount(0.2) == Decimal("0.30")
    assert str(Money(Decimal("1234.5"), "TRY")) == "₺1,234.50"
    with pytest.raises(KervanError):
        to_amount("NaN")
    with pytest.raises(KervanError):
        to_amount("12,50")
