"""The global search in the top bar: each app registers what it can find (customers, orders by number, products by
name or SKU), and the search page shows every source the role may read, in one box.

    register_search(SearchSource("orders", _("Orders"), area="orders", find=orders_find, position=20))

`find(actor, words, limit)` returns up to `limit` hits for the user's words (already stripped, never empty); it
must answer from an index (a prefix, an exact key), never a scan, because it runs on every keystroke-free search.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SearchHit:
    title: str
    url: str
    subtitle: str = ""


@dataclass(frozen=True)
class SearchSource:
    key: str
    label: Any  # a lazy translation
    area: str
    find: Callable[[Any, str, int], list[SearchHit]]
    position: int = 100
    more_url: Callable[[str], str] | None = None  # the full list filtered by the words ("see all")


_sources: dict[str, SearchSource] = {}


def register_search(source: SearchSource) -> None:
    if _sources.get(source.key, source) != source:
        raise ValueError(f"search source '{source.key}' is already registered")
    _sources[source.key] = source


def search_sources() -> list[SearchSource]:
    return sorted(_sources.values(), key=lambda s: (s.position, s.key))
