"""The CRM events other systems can subscribe to (signed outgoing webhooks, kervan.outbound), and the one call that
announces one.

An app that has such an event registers it once, from its AppConfig.ready(), and emits it where it happens, in the
transaction of the change itself:

    register_outbound_event("ticket.created", _("Ticket created"))
    ...
    emit("ticket.created", event_id=f"ticket:{ticket.pk}", data={"ticket": {...}})

`emit` writes the deliveries in the caller's transaction (an outbox): a rolled-back change sends nothing, a
committed one is delivered by the outbound worker even if the process dies right after the commit. `event_id`
names the occurrence: the same id emitted twice is delivered once per endpoint. The writers live below the app that
stores deliveries, so that app plugs in here (set_outbound_sink) as kervan.core.changes' listeners do: a writer
never learns who, if anyone, subscribes.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["OutboundEvent", "emit", "emit_many", "outbound_events", "register_outbound_event", "set_outbound_sink"]

Sink = Callable[[str, Iterable[tuple[str, Mapping[str, Any]]]], object]


@dataclass(frozen=True)
class OutboundEvent:
    name: str  # "customer.created": what receivers see in X-Kervan-Event
    label: Any  # a lazy translation, for the endpoint form


_events: dict[str, OutboundEvent] = {}
_sink: Sink | None = None


def register_outbound_event(name: str, label: Any) -> None:
    if not name or len(name) > 64 or name != name.strip():
        raise ValueError("An outbound event's name is 1 to 64 characters, e.g. 'ticket.created'.")
    event = OutboundEvent(name, label)
    if _events.get(name, event) != event:
        raise ValueError(f"outbound event '{name}' is already registered")
    _events[name] = event


def outbound_events() -> list[OutboundEvent]:
    return list(_events.values())


def set_outbound_sink(sink: Sink | None) -> None:
    global _sink
    _sink = sink


def emit(name: str, *, event_id: str, data: Mapping[str, Any]) -> None:
    """One occurrence of event `name`, inside the transaction of the change that caused it."""
    emit_many(name, [(event_id, data)])


def emit_many(name: str, events: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
    """Several occurrences (event_id, data) of one event, e.g. every customer a segment rebuild let in. A generator is
    read only if some endpoint subscribes to the event."""
    if _sink is None:
        return
    if name not in _events:
        raise ValueError(f"Unknown outbound event {name!r}: register it with register_outbound_event().")
    _sink(name, events)
