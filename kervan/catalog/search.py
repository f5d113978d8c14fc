"""The products' search key, Turkish-folded (kervan.core.text.search_fold) like the customers': "KIŞLIK Bot" is found
by "kislik", "kışlık" or "KIŞLIK"."""

from kervan.core.text import search_fold


def product_search_key(title: str, brand: str = "") -> str:
    """What a product's name search matches: its folded title, then its brand."""
    return search_fold(f"{title} {brand}")[:400]
