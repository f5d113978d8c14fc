"""The one announcement that customers' data changed, and who hears it.

Every change to a customer's data is announced once, where it is written: by the audit writer for every audited
change (profile, tags, identities, consent, orders, returns, refunds, merges) and by the few unaudited bulk writers
(the event store, the "last seen" bump) through kervan.customers.cache. A change every profile may show (an import,
custom field definitions, new predictions) is announced as `everything_changed()`.

The Customer 360 cache always hears it (it lives in core, below everything). Capabilities above the customer core
that keep something derived from a customer's data (segments' memberships) register a listener from their
AppConfig.ready(): the writers never learn who listens. Listeners run in the writer's transaction, so what they
queue is committed, or rolled back, with the change itself; they must be cheap (queue work, never do it).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kervan.core.cache import customer_360


@dataclass(frozen=True)
class ChangeListener:
    name: str
    customers_changed: Callable[[list[int], bool], object]  # (ids, events_only)
    everything_changed: Callable[[], object]


_listeners: dict[str, ChangeListener] = {}


def register_change_listener(listener: ChangeListener) -> None:
    _listeners[listener.name] = listener


def change_listeners() -> list[ChangeListener]:
    return list(_listeners.values())


def customers_changed(customer_ids: Iterable[int | None], *, events_only: bool = False) -> None:
    """`events_only`: all that changed is that the customers did something (new events, their "last seen"), the
    firehose of changes; a listener may re-derive only what reads events."""
    ids = sorted({int(pk) for pk in customer_ids if pk is not None})
    if not ids:
        return
    customer_360.changed(ids)
    for listener in _listeners.values():
        listener.customers_changed(ids, events_only)


def everything_changed() -> None:
    customer_360.everything_changed()
    for listener in _listeners.values():
        listener.everything_changed()
