"""Event names and properties on pages: `{{ event.name|event_label }}`, and `{% described page.items as rows %}` for
a page of events with their readable details (one query for the products and variants they name)."""

from collections.abc import Sequence
from typing import Any

from django import template

from kervan.events import labels, selectors
from kervan.events.lists import FILTER_KEYS

register = template.Library()


@register.filter
def event_label(name: str) -> str:
    return labels.event_label(name)


@register.simple_tag
def described(events: Sequence[Any]) -> list[tuple[Any, list[labels.Detail]]]:
    events = list(events)
    return list(zip(events, labels.describe(events), strict=True))


@register.simple_tag
def event_marker(events: Sequence[Any]) -> str:
    """The position of the newest of `events` (the first), for the live list's "newer than" poll; "" when none."""
    return selectors.event_marker(events[0]) if events else ""


@register.filter
def scan_window(applied: dict) -> int:
    """The days a name or property filter looks back without a From date (kervan.events.selectors); 0 if none."""
    filters = selectors.EventListFilters(**{k: v for k, v in applied.items() if k in FILTER_KEYS})
    return selectors.SCAN_WINDOW_DAYS if selectors.scan_window_applies(filters) else 0
