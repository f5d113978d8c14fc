"""The Sources of Kervan's own channels.

A row that arrives without a store of its own (an order posted to the API without `source`, one recorded by staff
or by Kervan itself) belongs to the channel that received it: every order has a source, so the unique constraint on
(source, external id) recognises a replay. A constraint never matches a NULL, so "no source" would let every replay
in. The file import has its own (kervan.imports.sources).
"""

from kervan.core.models import Source

API_SOURCE_KEY = "api"
MANUAL_SOURCE_KEY = "manual"


def api_source() -> Source:
    """The source of what API clients send without naming one."""
    return _channel_source(API_SOURCE_KEY, "API", Source.Kind.API)


def manual_source() -> Source:
    """The source of what staff or Kervan itself record without naming one."""
    return _channel_source(MANUAL_SOURCE_KEY, "Manual entry", Source.Kind.MANUAL)


def _channel_source(key: str, name: str, kind: str) -> Source:
    # get_or_create survives two first callers at once: the loser's insert fails on the unique key and it reads the row.
    source, _created = Source.objects.get_or_create(key=key, defaults={"name": name, "kind": kind})
    return source
