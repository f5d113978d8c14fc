"""Search and matching keys for customers, Turkish-folded (kervan.core.text.search_fold)."""

from kervan.core.text import search_fold


def customer_search_key(*, first_name: str, last_name: str, email: str, phone: str, city: str) -> str:
    """What the list's search box matches against."""
    # The phone is stored twice, as E.164 and as the national digits, so "0532…" and "+90532…" both match.
    national = "0" + phone[3:] if phone.startswith("+90") else ""
    return search_fold(" ".join(p for p in (first_name, last_name, email, phone, national, city) if p))


def customer_name_key(*, first_name: str, last_name: str) -> str:
    """The name as duplicate detection compares it: "AYŞE  YILMAZ" and "Ayse Yilmaz" are the same."""
    return search_fold(f"{first_name} {last_name}")
