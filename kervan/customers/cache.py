"""The Customer 360 cache: what the 360 API and page show, kept per customer until something about them changes.

A 360 read is the hottest path in the product (every agent, every API client), and its content changes far more
rarely than it is read. Every audited change to a customer (profile, tags, identities, consent, notes, orders and
their status, returns, refunds, merges: every action) forgets the customer's entries by itself (kervan.core.audit).
Writes that are not audited, for their volume, call `customers_changed(ids)` in the one helper that makes them (the
event store, the "last seen" bump); a change every profile shows (custom field definitions, an import, a bulk load)
calls `everything_changed()`. How the versioned entries stay correct under concurrent writes: kervan.core.cache.
"""

from collections.abc import Callable, Iterable
from typing import TypeVar

from kervan.core import changes
from kervan.core.cache import customer_360 as _customer_360

T = TypeVar("T")


def cached_360(customer_id: int, variant: str, build: Callable[[], T]) -> T:
    """The cached `variant` ("api", "page:tr:admin") of customer `customer_id`'s 360, built by `build()` when missing
    or out of date. `build` may raise (e.g. NotFound): nothing is cached then."""
    return _customer_360.get(customer_id, variant, build)


def customers_changed(customer_ids: Iterable[int | None], *, events_only: bool = False) -> None:
    """Announce that these customers' data changed, for a write that is not audited (audit() does it for every
    audited change): their cached 360 is forgotten and the listeners hear it (kervan.core.changes). `events_only`:
    they only did something (new events)."""
    changes.customers_changed(customer_ids, events_only=events_only)


def everything_changed() -> None:
    """Announce a change every profile shows (custom field definitions, an import, a bulk load)."""
    changes.everything_changed()
