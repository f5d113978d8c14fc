"""The top bar's menu: each app adds its own entries from its AppConfig.ready(), so a new capability (segments,
campaigns, the help desk) appears in the menu without editing the base template or another app.

    register_nav(NavItem("orders", _("Orders"), "orders:list", area="orders", position=30))

An entry is shown to roles that have `access` to its permission `area`; it is marked active on the pages of the
URL namespaces in `active_for` (default: the namespace of its own URL).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.urls import reverse


@dataclass(frozen=True)
class NavItem:
    key: str
    label: Any  # a lazy translation
    url_name: str
    area: str
    access: str = "read"
    position: int = 100
    active_for: tuple[str, ...] = ()

    @property
    def namespaces(self) -> tuple[str, ...]:
        return self.active_for or (self.url_name.split(":")[0],)


_items: dict[str, NavItem] = {}


def register_nav(item: NavItem) -> None:
    if _items.get(item.key, item) != item:
        raise ValueError(f"menu entry '{item.key}' is already registered")
    _items[item.key] = item
    _resolved.cache_clear()


@functools.cache
def _resolved() -> list[tuple[NavItem, str]]:
    # Reversed once per process: the menu is on every page and its addresses never change while the process runs.
    return [(item, reverse(item.url_name)) for item in sorted(_items.values(), key=lambda i: (i.position, i.key))]


def nav_items() -> list[tuple[NavItem, str]]:
    """Every registered entry with its address, in menu order."""
    return _resolved()
