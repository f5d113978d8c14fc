"""How the apps above the customer core extend a customer, without the customer core importing any of them.

The customers app sits at the bottom: orders, events and every later capability (messages, tickets, loyalty…) know
about customers, never the other way round. Each of them tells the core, from its AppConfig.ready(), what it adds:

- `register_merge(name, reassign)`: rows it owns that follow a customer when two profiles merge. `customer_merge`
  calls every `reassign(from_customer_id=…, to_customer_id=…)` inside its transaction.
- `register_timeline_source(TimelineSource(...))`, or `register_model_timeline(...)` for the rows of one model: its
  entries on the Customer 360 timeline, read newest-first from its own (customer, time) index;
  kervan.customer360.timeline merges the sources into one paginated stream.
- `register_card(Card(...))`: a card on the Customer 360 page (e.g. "Recent orders"), shown to roles that may read
  its permission area.

Registration is explicit (a call in ready()), not a signal: the list of what extends a customer can be read in one
place at run time (`merge_handlers()`, `timeline_sources()`, `cards()`), and a missing registration fails a test
instead of silently doing nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db.models import Model, QuerySet


class Reassign(Protocol):
    def __call__(self, *, from_customer_id: int, to_customer_id: int) -> object: ...


@dataclass(frozen=True)
class TimelineSource:
    """One kind of entry on the 360 timeline.

    `rows(customer_id)` is the kind's rows for a customer (a queryset on an index that starts with the customer);
    `time_field` orders them. `present(obj)` gives {"title", "data"} for the API and the page, and may add "summary"
    (a line of plain text under the title), "byline" and "link" ((url name, object id, permission area): the title
    links there for roles that may read that area).
    `position` orders the kinds in the page's filter and breaks ties at one instant (higher first). A source whose
    rows are better read apart than in one UNION (events on PostgreSQL) gives `newest_keys(customer_id, count,
    before, not_after)` → [(time, id)], newest first; the merge then calls it instead of using `rows`.
    """

    kind: str
    label: Any  # a lazy translation
    position: int
    area: str  # the permission area a role needs to see these entries
    rows: Callable[[int], QuerySet[Any]]
    time_field: str
    present: Callable[[Any], dict[str, Any]]
    select_related: Sequence[str] = ()
    newest_keys: Callable[..., list[tuple[dt.datetime, int]]] | None = None


@dataclass(frozen=True)
class Card:
    """A card on the Customer 360 page: `template` rendered with `context(customer)` (None: card not shown)."""

    name: str
    template: str
    area: str
    context: Callable[[Model], dict[str, Any] | None]
    position: int = 100


@dataclass
class _Registry:
    merges: dict[str, Reassign] = field(default_factory=dict)
    timeline: dict[str, TimelineSource] = field(default_factory=dict)
    cards: dict[str, Card] = field(default_factory=dict)


_registry = _Registry()


def _add(table: dict[str, Any], name: str, value: object) -> None:
    # ready() runs once per process; a second, different registration under one name is a programming error.
    if name in table and table[name] != value:
        raise ValueError(f"'{name}' is already registered")
    table[name] = value


def register_merge(name: str, reassign: Reassign) -> None:
    _add(_registry.merges, name, reassign)


def register_timeline_source(source: TimelineSource) -> None:
    _add(_registry.timeline, source.kind, source)


def register_model_timeline(
    kind: str,
    label: Any,
    position: int,
    area: str,
    model: type[Model],
    time_field: str,
    present: Callable[[Any], dict[str, Any]],
    *,
    customer_field: str = "customer_id",
    select_related: Sequence[str] = (),
) -> None:
    """register_timeline_source for the common case: the rows of `model` whose `customer_field` is the customer."""
    register_timeline_source(
        TimelineSource(
            kind=kind,
            label=label,
            position=position,
            area=area,
            rows=lambda customer_id: model._default_manager.filter(**{customer_field: customer_id}),
            time_field=time_field,
            present=present,
            select_related=select_related,
        )
    )


def register_card(card: Card) -> None:
    _add(_registry.cards, card.name, card)


def merge_handlers() -> dict[str, Reassign]:
    return dict(_registry.merges)


def timeline_sources() -> list[TimelineSource]:
    """Every registered source, in `position` order."""
    return sorted(_registry.timeline.values(), key=lambda s: s.position)


def timeline_source(kind: str) -> TimelineSource:
    return _registry.timeline[kind]


def cards() -> list[Card]:
    return sorted(_registry.cards.values(), key=lambda c: (c.position, c.name))
