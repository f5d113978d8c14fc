"""Search and matching keys for customers, Turkish-folded (kervan.core.text.search_fold): one definition, for a
single profile (customer_search_key, customer_name_key) and for a million rows at once (search_keys)."""

from collections.abc import Callable
from functools import lru_cache

from kervan.core.text import search_fold


def _join(first: str, last: str, email: str, phone: str, city: str) -> tuple[str, str]:
    """(search key, name key) from parts already folded (the phone is ASCII and needs none)."""
    # The phone is stored twice, as E.164 and as the national digits, so "0532…" and "+90532…" both match.
    national = "0" + phone[3:] if phone.startswith("+90") else ""
    name_key = f"{first} {last}" if first and last else first or last
    return " ".join([p for p in (first, last, email, phone, national, city) if p]), name_key


def customer_search_key(*, first_name: str, last_name: str, email: str, phone: str, city: str) -> str:
    """What the list's search box matches against."""
    return _join(search_fold(first_name), search_fold(last_name), search_fold(email), phone, search_fold(city))[0]


def customer_name_key(*, first_name: str, last_name: str) -> str:
    """The name as duplicate detection compares it: "AYŞE  YILMAZ" and "Ayse Yilmaz" are the same."""
    return search_fold(f"{first_name} {last_name}")


def search_keys() -> Callable[[str, str, str, str, str], tuple[str, str]]:
    """keys(first_name, last_name, email, phone, city) → (search key, name key), the same values as the two functions
    above, from cached folds of the name and city parts: folding is per character (Turkish lower-casing, accents
    dropped, spaces collapsed), so folding the parts and joining them equals folding the joined text; e-mails are
    already lower-case and phones are ASCII. A million rows of an import have a few thousand distinct names and
    cities, so this is much faster than folding each row."""
    fold = lru_cache(maxsize=200_000)(search_fold)

    def keys(first_name: str, last_name: str, email: str, phone: str, city: str) -> tuple[str, str]:
        if email and not email.isascii():
            email = search_fold(email)
        return _join(fold(first_name), fold(last_name), email, phone, fold(city))

    return keys
