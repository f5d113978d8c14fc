"""Versioned caching for data read on every request and changed rarely (the Customer 360, API keys, staff users).

Each object has a *version* token in the cache and the namespace has a *generation* token. An entry carries the
tokens it was built under and is used only while both are still current. Writers call `changed(ids)` (or
`everything_changed()`) where they write; the tokens are forgotten at once (so code inside the writer's
transaction sees its own change) and again after the transaction commits. A reader takes the tokens before it
reads the database, so an entry built from data read before a commit carries tokens that are no longer current:
a concurrent read can never put stale data back. A hit is one cache round trip (the tokens and the entry in one
get_many). Entries also expire after `entry_seconds`, a bound on anything a writer forgot to announce.

Only with a shared cache (settings.KERVAN_CACHE_SHARED, e.g. Redis): a per-process memory cache cannot hear of
changes made in another process (a web worker, the task worker running an import), so without one every read
builds from the database.
"""

import secrets
from collections.abc import Callable, Iterable
from typing import TypeVar, cast

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")
TOKEN_SECONDS = 24 * 60 * 60


class VersionedCache:
    def __init__(self, namespace: str, *, entry_seconds: int):
        self.namespace = namespace
        self.entry_seconds = entry_seconds
        self._generation_key = f"{namespace}:generation"

    def _version_key(self, object_id: object) -> str:
        return f"{self.namespace}:version:{object_id}"

    def get(self, object_id: object, variant: str, build: Callable[[], T]) -> T:
        """The cached `variant` of object `object_id`, built by `build()` when missing or out of date. `build` may
        raise (nothing is cached) or return None (not cached: unknown ids must not fill the cache)."""
        if not settings.KERVAN_CACHE_SHARED:
            return build()
        version_key, entry_key = self._version_key(object_id), f"{self.namespace}:{object_id}:{variant}"
        found = cache.get_many([version_key, self._generation_key, entry_key])
        version = found.get(version_key) or _new_token(version_key)
        generation = found.get(self._generation_key) or _new_token(self._generation_key)
        entry = found.get(entry_key)
        if entry is not None and entry[0] == version and entry[1] == generation:
            return cast(T, entry[2])
        value = build()
        if value is not None:
            cache.set(entry_key, (version, generation, value), timeout=self.entry_seconds)
        return value

    def changed(self, object_ids: Iterable[object]) -> None:
        """Announce that these objects changed. Call it where the change is written."""
        if not settings.KERVAN_CACHE_SHARED:
            return  # nothing is cached
        keys = [self._version_key(pk) for pk in set(object_ids) if pk is not None]
        if keys:
            _forget(keys)

    def everything_changed(self) -> None:
        """Announce a change every object in the namespace shows."""
        if settings.KERVAN_CACHE_SHARED:
            _forget([self._generation_key])


# The Customer 360 (kervan.customer360), per customer. It lives here, at the bottom, because the one audit writer
# (kervan.core.audit) forgets a customer's 360 whenever it records a change to that customer's data: a write site
# never has to remember to. Writes that are not audited (the event store) call customers.cache.customers_changed.
customer_360 = VersionedCache("c360", entry_seconds=10 * 60)


def _forget(keys: list[str]) -> None:
    cache.delete_many(keys)
    if transaction.get_connection().in_atomic_block:  # and again once the writer's transaction has committed
        transaction.on_commit(lambda: cache.delete_many(keys))


def _new_token(key: str) -> str:
    # add() so that two readers racing to create the token agree on one.
    token = secrets.token_hex(6)
    if cache.add(key, token, timeout=TOKEN_SECONDS):
        return token
    return cache.get(key) or token
