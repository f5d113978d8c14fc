"""The Customer 360 cache: what the 360 API and page show, kept per customer until something about them changes.

A 360 read is the hottest path in the product (every agent, every API client), and its content changes far more
rarely than it is read. Entries are keyed by two tokens read from the cache first:

- the customer's *version*, forgotten by `customers_changed(ids)` whenever anything the 360 shows changes
  (profile, tags, identities, consent, notes, stats, orders and their status, returns, refunds, events, merges);
- the *generation*, renewed by `everything_changed()` when something every profile shows changes (custom field
  definitions, a bulk load).

An entry carries the tokens it was built under and is used only while both are current. A reader takes the tokens
before it reads the database, and writers forget them after their transaction commits (and once at once, so code
inside that transaction sees its own change). So an entry built from data read before a commit carries tokens
that are no longer current: a concurrent read can never put stale data back.
Entries also expire after ENTRY_SECONDS, a bound on anything a writer forgot to announce.

With several web processes the cache must be shared (KERVAN_CACHE_BACKEND=redis): a per-process memory cache
cannot hear about changes made in another process.
"""

import secrets
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")

ENTRY_SECONDS = 10 * 60
TOKEN_SECONDS = 24 * 60 * 60
_GENERATION_KEY = "c360:generation"


def _version_key(customer_id: int) -> str:
    return f"c360:version:{customer_id}"


def _new_token(key: str) -> str:
    # add() so that two readers racing to create the token agree on one.
    token = secrets.token_hex(6)
    if cache.add(key, token, timeout=TOKEN_SECONDS):
        return token
    return cache.get(key) or token


def cached_360(customer_id: int, variant: str, build: Callable[[], T]) -> T:
    """The cached `variant` ("api", "page:tr:admin") of customer `customer_id`'s 360, built by `build()` when missing
    or filed under older tokens. A hit is one cache round trip. `build` may raise (e.g. NotFound): nothing is cached.
    """
    version_key, entry_key = _version_key(customer_id), f"c360:{customer_id}:{variant}"
    found = cache.get_many([version_key, _GENERATION_KEY, entry_key])
    version = found.get(version_key) or _new_token(version_key)
    generation = found.get(_GENERATION_KEY) or _new_token(_GENERATION_KEY)
    entry = found.get(entry_key)
    if entry is not None and entry[0] == version and entry[1] == generation:
        return entry[2]
    value = build()
    cache.set(entry_key, (version, generation, value), timeout=ENTRY_SECONDS)
    return value


def customers_changed(customer_ids: Iterable[int | None]) -> None:
    """Announce that what the 360 shows for these customers changed. Call it where the change is written."""
    keys = [_version_key(pk) for pk in set(customer_ids) if pk is not None]
    if not keys:
        return
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def everything_changed() -> None:
    """Announce a change every profile shows (custom field definitions, a bulk load)."""
    cache.delete(_GENERATION_KEY)
    transaction.on_commit(lambda: cache.delete(_GENERATION_KEY))
