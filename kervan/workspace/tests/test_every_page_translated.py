"""Every page and error message speaks one language: no English on a Turkish page, no Turkish on an English one.

Every page an Admin can GET (the URL resolver walked: pages without arguments, and pages about one customer,
order, import or user with ids of a small shop) and the main error answers (403, 404, a list with bad filters, API
errors for bad input) are rendered in Turkish and in English, and three checks read them:

- missing translations: every message id Django looked up while rendering in Turkish must be in the Turkish
  catalogue (DjangoTranslation.gettext/ngettext are watched while the pages render);
- English on a Turkish page: the visible text (text nodes, titles, placeholders, labels shown by CSS, confirm
  texts), with the shop's own data taken out, must have no word that only English uses: a word of the catalogue's
  English message ids that no Turkish translation uses, or a common English word;
- Turkish on an English page: the same text must have no letter only Turkish uses (ğ ş ı İ Ğ Ş) — the shop's data is
  ASCII, so such a letter is the interface's.
"""

import json
import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils.translation import trans_real

from kervan.accounts.actors import Actor
from kervan.accounts.models import User
from kervan.core.tests.test_translations import parse_po

from .shop import MAIN_PAGES, build_shop, page_paths

pytestmark = pytest.mark.django_db

PO_PATH = Path(settings.LOCALE_PATHS[0]) / "tr" / "LC_MESSAGES" / "django.po"

# Words that are the same in both languages: names, abbreviations, codes.
ALLOWED = {
    "kervan", "api", "sms", "csv", "kvkk", "url", "utm", "sku", "id", "try", "eur", "usd", "gbp", "xlsx", "tsv",
    "utf", "html", "json", "javascript", "js", "whatsapp", "shopify", "woocommerce", "trendyol", "hepsiburada",
    "amazon", "google", "facebook", "instagram", "tiktok", "iyzico", "stripe", "tcmb", "totp", "qr", "ptt", "mng",
    "aras", "hepsijet", "express", "ean", "gtin", "vat", "tab", "ok", "pdf", "gdpr", "http", "https", "www", "ip",
    "pos", "n11", "erp", "crm", "cors", "hmac", "jpg", "png", "svg", "openapi", "redoc", "swagger", "ios",
    "android", "push", "web", "email", "e", "yyyy", "mm", "dd", "gg", "aa", "tr", "en", "bearer", "authorization",
    "english",  # a language is offered by its own name: "Türkçe", "English"
}  # fmt: skip
# Common English words, caught even where no message id happens to use them.
STOPWORDS = {
    "the", "and", "of", "to", "with", "yes", "all", "show", "more", "search", "save", "customers", "orders",
    "products", "events", "settings", "import", "imports", "order", "customer", "product", "new", "edit", "delete",
    "from", "by", "for", "is", "are", "not", "this", "that", "none", "any", "view", "views", "filter", "filters",
    "status", "total", "date", "name", "today", "week", "month", "day", "days", "sort", "results", "result",
}  # fmt: skip
TURKISH_ONLY_LETTERS = re.compile(r"[ğşıİĞŞ]")
# Turkish names an English page uses as they are: the İYS register, the kuruş, the demo store's Turkish product.
TURKISH_NAMES = ("İYS", "kuruş", "Kırmızı Çaydanlık")
# The bad values the error checks send: the user's own text, echoed in the messages.
BAD_INPUT = {"not-an-email", "bogus", "yesterday", "lots", "abc", "x"}
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
NOT_WORDS = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # emails
    r"|https?://\S+|/[\w./?=&%-]*"  # URLs and paths
    r"|\b[A-Z]{1,3}\d[\w-]*"  # order numbers, SKUs, prefixes (K000001, p-1)
)


class VisibleText(HTMLParser):
    """The text a user can see or hear: text nodes (not in script/style/code), and the attributes browsers show
    (title, placeholder, aria-label, alt), CSS shows (data-label on phone cards) or app.js shows (data-confirm)."""

    SKIP = {"script", "style", "template", "code", "pre", "kbd", "samp", "textarea", "svg"}
    ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "data-label", "data-confirm", "data-copied")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []
        self.lang: str | None = None  # None: a fragment (an htmx partial) with no <html>

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "html":
            self.lang = attributes.get("lang") or ""
        if tag in self.SKIP:
            self.skipping.append(tag)
        if self.skipping:
            return
        self.parts.extend(attributes[name] for name in self.ATTRIBUTES if attributes.get(name))
        if tag == "input" and attributes.get("type") in ("submit", "button") and attributes.get("value"):
            self.parts.append(attributes["value"])

    def handle_startendtag(self, tag, attrs):
        if tag not in self.SKIP:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data):
        if not self.skipping and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> tuple[str, str | None]:
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts), parser.lang


def _words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text)}


@pytest.fixture(scope="module")
def english_words() -> set[str]:
    """Words only English uses: those of the catalogue's English message ids that no Turkish translation uses,
    and the common English words."""
    entries = [e for e in parse_po(PO_PATH.read_text(encoding="utf-8")) if e["msgid"]]
    english = set().union(*(_words(e["msgid"] + " " + e.get("msgid_plural", "")) for e in entries))
    turkish = set().union(*(_words(v) for e in entries for k, v in e.items() if k.startswith("msgstr")))
    english = {w for w in english | STOPWORDS if w.isascii() and len(w) > 1}
    return english - turkish - ALLOWED


class Missing(defaultdict):
    """{message id: pages}; `page` names the page being rendered."""

    page = ""


@pytest.fixture
def looked_up(monkeypatch):
    """{message id: pages} for every message Django looked up in Turkish and found no translation for."""
    missing = Missing(set)
    gettext, ngettext = trans_real.DjangoTranslation.gettext, trans_real.DjangoTranslation.ngettext

    def watched_gettext(self, message):
        if self.language() == "tr" and message not in self._catalog and (message, 0) not in self._catalog:
            missing[message.split("\x04")[-1]].add(missing.page)
        return gettext(self, message)

    def watched_ngettext(self, singular, plural, n):
        if self.language() == "tr" and (singular, 0) not in self._catalog:
            missing[singular.split("\x04")[-1]].add(missing.page)
        return ngettext(self, singular, plural, n)

    monkeypatch.setattr(trans_real.DjangoTranslation, "gettext", watched_gettext)
    monkeypatch.setattr(trans_real.DjangoTranslation, "ngettext", watched_ngettext)
    return missing


@pytest.fixture
def owner(db):
    # ASCII names: a Turkish letter on an English page is then the interface's own.
    return User.objects.create_user(
        "owner", password="kervan-test-pw", role="admin", language="en", first_name="Deniz", last_name="Owner"
    )


@pytest.fixture
def shop(owner):
    return build_shop(owner)


def _client(user, language: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def _strip_data(text: str, values: set[str]) -> str:
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, " ")
    for value in BAD_INPUT:
        text = text.replace(f"'{value}'", " ")
    return NOT_WORDS.sub(" ", text)


def _english_in(text: str, english: set[str]) -> list[str]:
    return sorted({w for w in (m.lower() for m in WORD.findall(text)) if w.isascii() and w in english})


def _context(text: str, pattern: str) -> str:
    match = re.search(pattern, text)
    return text[max(0, match.start() - 30) : match.end() + 30].replace("\n", " | ") if match else ""


def api_errors(shop, owner) -> list[tuple[str, Client, str, str, dict]]:
    """(name, client, method, path, body) of API requests that are refused for bad input or missing access."""
    from kervan.accounts import actions

    admin = Actor.for_user(owner)
    _key, full = actions.api_key_create(actor=admin, name="full", scopes={"customers": "write", "imports": "write"})
    _key, reader = actions.api_key_create(actor=admin, name="reader", scopes={"customers": "read"})
    return [
        ("bad email", full, "post", "/api/v1/customers/", {"first_name": "Deniz", "email": "not-an-email"}),
        ("bad sort", full, "get", "/api/v1/customers/?sort=bogus", {}),
        ("bad date filter", full, "get", "/api/v1/customers/?created_from=yesterday", {}),
        ("bad amount filter", full, "get", "/api/v1/customers/?min_spent=lots", {}),
        ("no such customer", full, "get", "/api/v1/customers/999999999", {}),
        ("read-only key writes", reader, "post", "/api/v1/customers/", {"first_name": "Deniz", "email": "d@e.com"}),
        ("no key", "", "post", "/api/v1/customers/", {"first_name": "Deniz"}),
    ]


def test_every_page_and_error_is_in_one_language(owner, shop, looked_up, english_words):
    reader = User.objects.create_user("reader", password="kervan-test-pw", role="readonly", language="en")
    paths = page_paths(shop)
    for _name, template in MAIN_PAGES:  # the walk reaches the main pages (the test reads what it means to)
        assert shop.path(template).split("?")[0] in paths, template
    problems: list[str] = []
    rendered = 0
    for language in ("tr", "en"):
        client = _client(owner, language)
        pages = [(path, client, "get", path, 200) for path in paths]
        pages += [
            ("search", client, "get", "/search/?q=a", 200),
            ("403 page", _client(reader, language), "get", "/accounts/settings/api-keys/", 403),
            ("404 page", client, "get", "/no-such-page/", 404),
            ("404 customer", client, "get", "/customers/999999999/", 404),
            ("list with bad filters", client, "get", "/customers/?created_from=x&min_spent=lots&sort=bogus", 200),
            ("audit log with a bad filter", client, "get", "/accounts/settings/audit-log/?customer_id=abc", 400),
        ]
        for name, page_client, method, path, status in pages:
            looked_up.page = f"{language} {name}"
            response = getattr(page_client, method)(path)
            if response.status_code in (301, 302, 405) or "text/html" not in response.get("Content-Type", ""):
                continue
            if response.status_code != status:
                problems.append(f"[{language}] {name}: HTTP {response.status_code}, expected {status}")
                continue
            rendered += 1
            text, lang = visible_text(response.content.decode())
            if lang is not None and lang != language:
                problems.append(f"[{language}] {name}: <html lang={lang!r}>")
            problems += _check(language, name, _strip_data(text, shop.values), english_words)
        for name, key, method, path, body in api_errors(shop, owner):
            looked_up.page = f"{language} API {name}"
            api = Client(HTTP_ACCEPT_LANGUAGE=language, **({"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}))
            response = getattr(api, method)(path, json.dumps(body) if method == "post" else None,
                                             content_type="application/json")  # fmt: skip
            if response.status_code < 400:
                problems.append(f"[{language}] API {name}: HTTP {response.status_code}, expected a refusal")
                continue
            detail = response.json().get("detail", "")
            problems += _check(language, f"API {name} ({detail})", _strip_data(str(detail), shop.values), english_words)
    assert rendered > 2 * len(MAIN_PAGES)

    untranslated = sorted(looked_up)
    report = problems + [f"no Turkish translation: {m!r} (on {sorted(looked_up[m])[0]})" for m in untranslated]
    summary = f"{len(problems)} texts in the wrong language, {len(untranslated)} messages without a translation"
    assert not report, summary + ":\n" + "\n".join(report)


def _check(language: str, name: str, text: str, english_words: set[str]) -> list[str]:
    if language == "tr":
        found = []
        for word in _english_in(text, english_words):
            around = _context(text, r"(?i)\b" + word + r"\b")
            found.append(f"[tr] {name}: English {word!r}: …{around}…")
        return found
    for name in TURKISH_NAMES:
        text = text.replace(name, " ")
    letters = sorted(set(TURKISH_ONLY_LETTERS.findall(text)))
    return [f"[en] {name}: Turkish letter {c!r}: …{_context(text, c)}…" for c in letters]
