import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kervan.core.errors import KervanError
from kervan.customers.search import customer_name_key, customer_search_key
from kervan.imports import reading
from kervan.imports.customers import search_keys
from kervan.imports.reading import detect_encoding, open_table, sniff_delimiter
from kervan.imports.values import (
    parse_amount,
    parse_consent,
    parse_date,
    parse_datetime,
    parse_gender,
    parse_int,
    parse_tags,
)

from .conftest import csv_file, xlsx_file


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1234.50", "1234.50"),
        ("1.234,50", "1234.50"),
        ("1234,5", "1234.50"),
        ("1,234.50", "1234.50"),
        ("₺1.234,50", "1234.50"),
        ("1.234,50 TL", "1234.50"),
        ("1.234.567", "1234567.00"),
        ("0", "0.00"),
        ("-12,40", "-12.40"),
        ("99.999", "100.00"),
    ],
)
def test_amounts_in_turkish_and_english_forms(text, expected):
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["abc", "1,2,3.4.5x", "", "NaN", "Infinity"])
def test_amount_refuses_what_is_not_a_number(text):
    with pytest.raises(KervanError) as exc:
        parse_amount(text)
    assert exc.value.code == "invalid_amount"


def test_dates_iso_and_dotted():
    assert parse_date("1990-04-23") == dt.date(1990, 4, 23)
    assert parse_date("23.04.1990") == dt.date(1990, 4, 23)
    assert parse_date("3/4/1990") == dt.date(1990, 4, 3)
    assert parse_date("2024-01-31 10:00:00") == dt.date(2024, 1, 31)
    for bad in ("31.02.2020", "1990/04/23", "yesterday", "23-04-1990"):
        with pytest.raises(KervanError):
            parse_date(bad)


def test_datetimes_are_aware_in_the_store_zone():
    value = parse_datetime("05.03.2024 14:30")
    assert (value.year, value.month, value.day, value.hour, value.minute) == (2024, 3, 5, 14, 30)
    assert value.utcoffset() == dt.timedelta(hours=3)
    assert parse_datetime("2024-03-05T11:30:00Z").utcoffset() == dt.timedelta(0)
    assert parse_datetime("2024-03-05").hour == 0


def test_small_parsers():
    assert parse_int("1.234") == 1234
    assert parse_int("12.0") == 12
    with pytest.raises(KervanError):
        parse_int("1.5")
    assert parse_gender("KADIN") == "female"
    assert parse_gender("Erkek") == "male"
    assert parse_gender("diğer") == "other"
    assert parse_consent("Evet") == "granted"
    assert parse_consent("HAYIR") == "refused"
    with pytest.raises(KervanError):
        parse_consent("belki")
    assert parse_tags("vip, toptan; yeni|") == ["vip", "toptan", "yeni"]


def test_bulk_search_keys_equal_the_customers_app_keys():
    keys = search_keys()
    samples = [
        ("Ayşe", "YILMAZ", "ayse@example.com", "+905321234567", "İstanbul"),
        ("IŞIL", "Işıkgöz", "", "+442071234567", "ÇANAKKALE"),
        ("Çağrı Barış", "", "çağrı@örnek.com.tr", "", ""),
        ("", "Öztürk", "", "+905001112233", "Iğdır"),
        ("José", "Ñúñez", "jose@example.es", "", "Zürich  "),
    ]
    for first, last, email, phone, city in samples:
        search_key, name_key = keys(first, last, email, phone, city.strip())
        assert search_key == customer_search_key(
            first_name=first, last_name=last, email=email, phone=phone, city=city.strip()
        )
        assert name_key == customer_name_key(first_name=first, last_name=last)


_NAME_TEXT = st.text(alphabet="aAıIiİşŞğĞüÜöÖçÇéÉ ñ\u0307\u00a0-'x", max_size=12).map(str.strip)


@given(
    first=_NAME_TEXT,
    last=_NAME_TEXT,
    city=_NAME_TEXT,
    email=st.sampled_from(["", "a@b.co", "ış@örnek.com"]),
    phone=st.sampled_from(["", "+905321234567", "+442071234567"]),
)
def test_bulk_search_keys_match_for_any_turkish_text(first, last, city, email, phone):
    search_key, name_key = search_keys()(first, last, email, phone, city)
    assert search_key == customer_search_key(first_name=first, last_name=last, email=email, phone=phone, city=city)
    assert name_key == customer_name_key(first_name=first, last_name=last)


def _saved(tmp_path, upload):
    path = tmp_path / upload.name
    path.write_bytes(upload.read())
    return str(path)


def test_encodings_and_delimiters_are_detected(tmp_path):
    rows = [["Ad", "Şehir"], ["Işıl", "İzmir"], ["Çağla", "Muğla"]]
    for encoding, delimiter in (("utf-8", ","), ("utf-8-sig", ";"), ("cp1254", ";"), ("cp1254", "\t")):
        path = _saved(tmp_path, csv_file(rows, delimiter=delimiter, encoding=encoding, name=f"{encoding}.csv"))
        table = open_table(path)
        assert table.columns == ["Ad", "Şehir"], encoding
        assert table.delimiter == delimiter
        assert [cells for _, cells in table.rows()] == rows[1:]
    assert detect_encoding(_saved(tmp_path, csv_file(rows, encoding="cp1254", name="w.csv"))) == "cp1254"


def test_sniffer_prefers_the_consistent_delimiter():
    assert sniff_delimiter("Ad;Fiyat\nKalem;1.234,50\nDefter;12,00\n") == ";"
    assert sniff_delimiter("name,price\npen,1.50\n") == ","
    assert sniff_delimiter("a\tb\tc\n1\t2\t3\n") == "\t"


def test_duplicate_and_blank_headers_are_named(tmp_path):
    path = _saved(tmp_path, csv_file([["Ad", "", "Ad"], ["a", "b", "c"]]))
    assert open_table(path).columns == ["Ad", "Column 2", "Ad (2)"]


@pytest.mark.parametrize("backend", ["calamine", "openpyxl"])
def test_xlsx_cells_read_as_text(tmp_path, monkeypatch, backend):
    if backend == "openpyxl":
        monkeypatch.setattr(reading, "_calamine", lambda: None)
    elif reading._calamine() is None:
        pytest.skip("python-calamine is not installed; openpyxl reads the workbooks")
    rows = [
        ["Telefon", "Doğum tarihi", "Fiyat"],
        [5321234567, dt.datetime(1990, 4, 23), 1234.5],
        [None, None, None],
        ["05051112233", None, "1.234,50"],
    ]
    table = open_table(_saved(tmp_path, xlsx_file(rows)))
    assert table.file_format == "xlsx" and table.columns == ["Telefon", "Doğum tarihi", "Fiyat"]
    assert list(table.rows()) == [(2, ["5321234567", "1990-04-23", "1234.5"]), (4, ["05051112233", "", "1.234,50"])]


@pytest.mark.parametrize("backend", ["calamine", "openpyxl"])
def test_damaged_xlsx_is_refused_by_either_reader(tmp_path, monkeypatch, backend):
    if backend == "openpyxl":
        monkeypatch.setattr(reading, "_calamine", lambda: None)
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    with pytest.raises(KervanError) as exc:
        open_table(str(path))
    assert exc.value.code == "unreadable_file"


@pytest.mark.parametrize(
    "content,code",
    [
        (b"", "empty_file"),
        (b"PK\x03\x04not really a zip", "unreadable_file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old excel", "unreadable_file"),
        (b"\n\n  \n", "empty_file"),
    ],
)
def test_unreadable_files_are_refused(tmp_path, content, code):
    path = tmp_path / "bad.bin"
    path.write_bytes(content)
    with pytest.raises(KervanError) as exc:
        open_table(str(path))
    assert exc.value.code == code
