"""What other apps do when a storefront visitor is identified, without the events app importing any of them.

The events app joins an anonymous visitor id to a customer in one place (kervan.events.ingest.identify_visitor:
the API's identify, the tracker's identify, and a batch whose events carry both an anonymous id and a person), and
there re-points the visitor's anonymous events. Apps above events that keep rows of their own by visitor id (a
browser's push subscription) register, from their AppConfig.ready():

    register_visitor_identified(name, callback)   # callback(*, anonymous_id: str, customer_id: int)

Every callback runs inside the identify's transaction, after the events moved, on every identify that names a
visitor id (most of them change nothing): it must be cheap, one indexed statement when it has nothing to do.
Explicit, not a signal: the list of what follows a visitor can be read at run time (`visitor_identified_handlers()`).
"""

from __future__ import annotations

from typing import Protocol


class VisitorIdentified(Protocol):
    def __call__(self, *, anonymous_id: str, customer_id: int) -> object: ...


_handlers: dict[str, VisitorIdentified] = {}


def register_visitor_identified(name: str, callback: VisitorIdentified) -> None:
    # ready() runs once per process; a second, different registration under one name is a programming error.
    if name in _handlers and _handlers[name] != callback:
        raise ValueError(f"'{name}' is already registered")
    _handlers[name] = callback


def visitor_identified_handlers() -> dict[str, VisitorIdentified]:
    return dict(_handlers)


def visitor_identified(*, anonymous_id: str, customer_id: int) -> None:
    """Tell every registered app that this visitor is the customer (called by ingest.identify_visitor only)."""
    for callback in _handlers.values():
        callback(anonymous_id=anonymous_id, customer_id=customer_id)
