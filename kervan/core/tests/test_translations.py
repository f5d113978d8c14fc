"""The Turkish catalogue is complete and safe, and the UI really speaks Turkish (and English on request)."""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

PO_PATH = Path(settings.BASE_DIR) / "locale" / "tr" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")

# %(name)s / %(n)d style, bare %s / %d, and str.format's {name}. "%%" is a literal percent, not a placeholder.
PLACEHOLDER = re.compile(r"%\([^)]+\)[#0 +-]*\d*(?:\.\d+)?[sdifr]|%[#0 +-]*\d*(?:\.\d+)?[sdifr]|\{[A-Za-z_0-9.]*\}")
FIELD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(\".*\")\s*$")


def parse_po(text: str) -> list[dict]:
    """Entries of a .po file: {"flags": set, "msgid": str, "msgid_plural"?, "msgstr" or "msgstr[N]": str, "line": int}.

    Obsolete entries (#~) are skipped; the header (msgid "") is included.
    """
    entries: list[dict] = []
    entry: dict | None = None
    current = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            entry, current = None, None
            continue
        if line.startswith("#~"):
            continue
        if entry is None:
            entry = {"flags": set(), "line": number}
            entries.append(entry)
        if line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(",") if flag.strip())
        elif line.startswith("#"):
            continue
        elif match := FIELD.match(line):
            current = match.group(1)
            entry[current] = ast.literal_eval(match.group(2))
        elif line.startswith('"') and current:
            entry[current] += ast.literal_eval(line)
        else:
            raise AssertionError(f"{PO_PATH.name}:{number}: cannot read {raw!r}")
    return [e for e in entries if "msgid" in e]


@pytest.fixture(scope="module")
def entries() -> list[dict]:
    return parse_po(PO_PATH.read_text(encoding="utf-8"))


def _messages(entries):
    return [e for e in entries if e["msgid"]]


def _translations(entry) -> dict[str, str]:
    return {key: value for key, value in entry.items() if key.startswith("msgstr")}


def test_parser_reads_multiline_strings_and_flags():
    parsed = parse_po(
        '#, fuzzy, python-format\nmsgid ""\n"Hello %(name)s, "\n"welcome"\nmsgstr "Merhaba %(name)s"\n\n'
        '#~ msgid "gone"\n#~ msgstr "yok"\n\n'
        'msgid "%(n)s row"\nmsgid_plural "%(n)s rows"\nmsgstr[0] "%(n)s satır"\nmsgstr[1] ""\n'
    )
    assert [e["msgid"] for e in parsed] == ["Hello %(name)s, welcome", "%(n)s row"]
    assert parsed[0]["flags"] == {"fuzzy", "python-format"}
    assert parsed[1]["msgstr[1]"] == ""
    assert PLACEHOLDER.findall("%(a)s %s %d {x} {} 100%% %(b)d") == ["%(a)s", "%s", "%d", "{x}", "{}", "%(b)d"]


def test_header_is_turkish_utf8_with_turkish_plural_rule(entries):
    header = entries[0]
    assert header["msgid"] == ""
    fields = dict(line.split(": ", 1) for line in header["msgstr"].splitlines() if ": " in line)
    assert fields["Language"] == "tr"
    assert fields["Content-Type"] == "text/plain; charset=UTF-8"
    assert fields["Plural-Forms"].replace(" ", "") == "nplurals=2;plural=(n!=1);"
    assert "fuzzy" not in header["flags"]


def test_catalogue_is_not_trivially_small(entries):
    assert len(_messages(entries)) > 400


def test_every_entry_is_translated(entries):
    empty = [e["msgid"] for e in _messages(entries) if any(not v.strip() for v in _translations(e).values())]
    assert not empty, f"{len(empty)} untranslated: {empty[:10]}"
    plural_incomplete = [e["msgid"] for e in _messages(entries) if "msgid_plural" in e and len(_translations(e)) != 2]
    assert not plural_incomplete


def test_no_fuzzy_entries(entries):
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not fuzzy, f"fuzzy entries: {fuzzy[:10]}"


def test_placeholders_match(entries):
    wrong = []
    for entry in _messages(entries):
        singular = set(PLACEHOLDER.findall(entry["msgid"]))
        plural = set(PLACEHOLDER.findall(entry.get("msgid_plural", "")))
        for key, msgstr in _translations(entry).items():
            found = set(PLACEHOLDER.findall(msgstr))
            # The singular form may name the count ("%(n)s row") even where the English says "One row".
            allowed = [singular] if key in ("msgstr", "msgstr[0]") else [plural]
            if key == "msgstr[0]":
                allowed.append(plural)
            if found not in allowed:
                wrong.append((entry["msgid"], msgstr))
    assert not wrong, f"placeholder mismatch: {wrong[:10]}"


def test_html_tags_kept(entries):
    tag = re.compile(r"</?[a-z][a-z0-9]*\b[^>]*>")
    wrong = [
        e["msgid"]
        for e in _messages(entries)
        for msgstr in _translations(e).values()
        if sorted(tag.findall(msgstr)) != sorted(tag.findall(e["msgid"]))
    ]
    assert not wrong, f"HTML tags differ: {wrong[:10]}"


def test_compiled_catalogue_matches_po(entries):
    """django.mo is committed (users may have no gettext) and was compiled from the current django.po."""
    assert MO_PATH.exists(), "run: .venv/bin/python manage.py compilemessages -l tr --ignore '.venv/*'"
    with MO_PATH.open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    stale = []
    for entry in _messages(entries):
        context = entry.get("msgctxt")
        if "msgid_plural" in entry:
            ids = (entry["msgid"], entry["msgid_plural"])
            got = [
                compiled.npgettext(context, *ids, n) if context is not None else compiled.ngettext(*ids, n)
                for n in (1, 2)
            ]
            want = [entry["msgstr[0]"], entry["msgstr[1]"]]
        else:
            got = (
                compiled.pgettext(context, entry["msgid"]) if context is not None else compiled.gettext(entry["msgid"])
            )
            want = entry["msgstr"]
        if got != want:
            stale.append(entry["msgid"])
    assert not stale, f"django.mo is out of date, compile again: {stale[:5]}"


def test_gettext_switches_language():
    # Aliases keep makemessages from extracting these test strings into the catalogue.
    translate, translate_plural = translation.gettext, translation.ngettext
    with translation.override("tr"):
        assert translate("Customers") == "Müşteriler"
        shipped = translate("Order %(number)s shipped") % {"number": "K-1"}
        assert shipped == "K-1 numaralı sipariş kargoya verildi"
        assert translate_plural("%(n)s problem", "%(n)s problems", 3) % {"n": 3} == "3 sorun"
    with translation.override("en"):
        assert translate("Customers") == "Customers"
        assert translate_plural("%(n)s problem", "%(n)s problems", 3) % {"n": 3} == "3 problems"


def test_default_ui_language_is_turkish():
    from config.settings import base

    assert base.LANGUAGE_CODE == "tr"
    assert [code for code, _ in base.LANGUAGES] == ["tr", "en"]


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [("tr", "Müşteriler", "Log out"), ("en", "Customers", "Müşteriler")],
)
def test_customer_list_page_in_users_language(admin_client, language, expected, absent):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = admin_client.get("/customers/")
    assert response.status_code == 200
    html = response.content.decode()
    assert expected in html
    assert absent not in html
    assert f'lang="{language}"' in html or response.headers.get("Content-Language") == language


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "detail"),
    [
        ("tr", "'not-an-email' geçerli bir e-posta adresi değil."),
        ("en", "'not-an-email' is not a valid email address."),
    ],
)
def test_api_error_in_the_requested_language_with_the_same_code(api, language, detail):
    response = api.client.post(
        "/api/v1/customers/",
        '{"first_name": "Ayşe", "email": "not-an-email"}',
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 400
    assert response.json() == {"detail": detail, "code": "invalid_email", "field": "email"}


@pytest.mark.django_db
def test_api_error_without_accept_language_uses_the_default_language(api, settings):
    settings.LANGUAGE_CODE = "tr"
    response = api.get("/customers/999999999")
    assert response.status_code == 404
    assert response.json() == {"detail": "999999999 numaralı müşteri yok.", "code": "customer_not_found"}


@pytest.mark.parametrize(
    ("language", "expected"),
    [("tr", "999999999 numaralı müşteri yok."), ("en", "Customer 999999999 does not exist.")],
)
def test_error_page_in_users_language(admin_client, language, expected):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = admin_client.get("/customers/999999999/")
    assert response.status_code == 404
    assert expected in response.content.decode()
