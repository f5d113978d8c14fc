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
- `register_privacy(PrivacyHandler(...))`: what it holds about a person, for a subject access export, and how to
  erase what identifies them (kervan.customers.privacy).

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


@dataclass(frozen=True)
class PrivacySubject:
    """The person a privacy request is about: their profile and every profile merged into it, the visitor ids
    they browsed under (events and push subscriptions made before they were identified), and the identifying
    strings (email, phone, name …) a handler scrubs from free text it keeps."""

    customer_ids: tuple[int, ...]
    anonymous_ids: tuple[str, ...] = ()
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class PrivacyHandler:
    """One app's part of a privacy request.

    `export(subject)` → {section: rows}: everything the app holds about the person (plain values; the caller makes
    Decimals, dates and times JSON). `anonymise(subject)` erases what identifies the person in the app's rows and
    keeps what the shop's accounting needs (amounts, times, names of events); it returns the names of the fields it
    changed ("orders.Refund.note"), never their values, and nothing when there was nothing left to erase, so a
    second request changes nothing. `models` names every model ("orders.Order") of the app that points at a customer:
    a test checks that no such model is left out of every handler."""

    name: str
    export: Callable[[PrivacySubject], dict[str, Any]]
    anonymise: Callable[[PrivacySubject], list[str]]
    models: Sequence[str] = ()


@dataclass
class _Registry:
    merges: dict[str, Reassign] = field(default_factory=dict)
    timeline: dict[str, TimelineSource] = field(default_factory=dict)
    cards: dict[str, Card] = field(default_factory=dict)
    privacy: dict[str, PrivacyHandler] = field(default_factory=dict)


_registry = _Registry()


def _add(table: dict[str, Any], name: str, value: object) -> None:
    # ready() runs once per process; a second, different registration under one name is a programming error.
    if name in table and table[name] != value:
        raise ValueError(f"'{name}' is already registered")
    table[name] = value


def register_merge(name: str, reassign: Reassign) -> None:
    _add(_registry.merges, name, reassign)


def register_timeline_source(source: TimelineSource) -> None:
    # The timeline orders entries of one instant by their source's position and pages on (time, position, id): two
    # sources sharing a position would make that order ambiguous and a page could repeat or skip an entry.
    for kind, other in _registry.timeline.items():
        if kind != source.kind and other.position == source.position:
            raise ValueError(f"timeline position {source.position} is taken by '{kind}' (wanted by '{source.kind}')")
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


def register_privacy(handler: PrivacyHandler) -> None:
    _add(_registry.privacy, handler.name, handler)


def privacy_handlers() -> list[PrivacyHandler]:
    return sorted(_registry.privacy.values(), key=lambda h: h.name)
