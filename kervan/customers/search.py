"""The customer search key: what the list's search box matches against, Turkish-folded."""

from kervan.core.text import search_fold


def customer_search_key(*, first_name: str, last_name: str, email: str, phone: str, city: str) -> str:
    # The phone is stored twice, as E.164 and as the national digits, so "0532…" and "+90532…" both match.
    national = "0" + phone[3:] if phone.startswith("+90") else ""
    return search_fold(" ".join(p for p in (first_name, last_name, email, phone, national, city) if p))
