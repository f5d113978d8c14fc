"""Counting requests in the shared cache: the fixed windows behind the tracker's limits and the login throttle.

Counters live in Django's cache: Redis when several web processes run (KERVAN_CACHE_BACKEND), so they all count
together; the per-process memory cache otherwise. Windows are fixed (a counter per window, keyed by its number)
rather than sliding: one atomic `incr` per check, at the price of allowing up to twice a limit across a window's
edge. Time is read from kervan.core.clock, so tests move from one window to the next without waiting.
"""

import contextlib
import hashlib
import math
from dataclasses import dataclass

from django.core.cache import cache

from kervan.core import clock
from kervan.core.errors import KervanError


class RateLimited(KervanError):
    """429 with Retry-After (seconds). The API, the tracker and the login page each say it in their own words."""

    status = 429

    def __init__(self, detail: str, code: str = "rate_limited", *, retry_after: int):
        super().__init__(detail, code)
        self.retry_after = max(1, int(retry_after))


@dataclass(frozen=True)
class Limit:
    """At most `count` per `seconds`."""

    count: int
    seconds: int

    @classmethod
    def of(cls, value: "Limit | tuple[int, int] | list[int]") -> "Limit":
        """A Limit from a settings value: (count, seconds)."""
        if isinstance(value, Limit):
            return value
        count, seconds = value
        return cls(int(count), int(seconds))


def hashed(*parts: object) -> str:
    """A short, cache-safe key part for user input (usernames, visitor ids): no spaces or control characters reach
    memcached or Redis keys, and the cache holds no plain usernames."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def _window(limit: Limit) -> tuple[int, int]:
    """(the current window's number, seconds until it ends)."""
    now = clock.now().timestamp()
    number = int(now // limit.seconds)
    return number, max(1, math.ceil((number + 1) * limit.seconds - now))


def hit(key: str, limit: Limit, cost: int = 1) -> tuple[int, int]:
    """Add `cost` to `key`'s counter in the current window. Returns (the count now, seconds until the window ends)."""
    number, left = _window(limit)
    counter = f"throttle:{key}:{limit.seconds}:{number}"
    try:
        return cache.incr(counter, cost), left
    except ValueError:  # the window's first hit (or its counter expired)
        if cache.add(counter, cost, timeout=limit.seconds + 1):
            return cost, left
        return cache.incr(counter, cost), left  # another request created it in between


def give_back(key: str, limit: Limit, cost: int = 1) -> None:
    """Undo a hit (an attempt that turned out not to count, e.g. a correct password)."""
    number, _left = _window(limit)
    with contextlib.suppress(ValueError):  # the window ended meanwhile: nothing to give back
        cache.decr(f"throttle:{key}:{limit.seconds}:{number}", cost)


def used(key: str, limit: Limit) -> int:
    number, _left = _window(limit)
    return int(cache.get(f"throttle:{key}:{limit.seconds}:{number}") or 0)


def forget(key: str, limit: Limit) -> None:
    number, _left = _window(limit)
    cache.delete(f"throttle:{key}:{limit.seconds}:{number}")


def check(key: str, limit: Limit, *, cost: int = 1, detail: str, code: str) -> None:
    """Count `cost` against `limit`; RateLimited(detail, code) once the window's count passes it."""
    count, left = hit(key, limit, cost)
    if count > limit.count:
        raise RateLimited(detail, code, retry_after=left)
