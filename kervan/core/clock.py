"""The one clock Kervan's code reads, so tests can freeze and move time.

Due work (a scheduled send, a flow step, an SLA timer, a webhook retry) is decided by "is it time yet?": code that
asks `clock.now()` instead of `timezone.now()` can be tested at 09:59 and 10:01 without waiting. Use:

    from kervan.core import clock

    clock.now()         # an aware datetime in UTC, like django.utils.timezone.now()
    clock.localdate()   # today in the current time zone (the store's, Europe/Istanbul by default)
    clock.sleep(2.5)    # waits 2.5 s; on a frozen clock moves it 2.5 s forward at once instead

Tests freeze and move it, anywhere (the `clock` fixture in kervan/conftest.py freezes it for one test):

    with clock.frozen(dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)):
        clock.advance(dt.timedelta(minutes=5))
    with clock.travel(dt.timedelta(days=2)):   # two days ahead, still running
        ...

The override is process-wide, not per thread: a live-server test serves requests from a thread of the test's
process, and those must see the test's time. Model fields with auto_now/auto_now_add keep Django's own clock.
"""

import datetime as dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.utils import timezone

__all__ = ["advance", "frozen", "is_frozen", "localdate", "now", "sleep", "travel"]


@dataclass(frozen=True)
class _State:
    frozen_at: dt.datetime | None = None  # the time a frozen clock shows
    offset: dt.timedelta = dt.timedelta(0)  # added to the real time while running

    def now(self) -> dt.datetime:
        if self.frozen_at is not None:
            return self.frozen_at
        return dt.datetime.now(dt.UTC) + self.offset


# One immutable state object, replaced whole under the lock: a reader in another thread sees either the old state
# or the new one, never half of each.
_state = _State()
_lock = threading.Lock()


def now() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return _state.now()


def localdate() -> dt.date:
    """Today's date in the current time zone (settings.TIME_ZONE unless a request activated another)."""
    return timezone.localdate(now())


def sleep(seconds: float) -> None:
    """Wait `seconds`; on a frozen clock move it forward by as much and return at once, so retry and backoff code
    runs fast in tests and the time it would have waited can be read from the clock."""
    global _state
    if seconds <= 0:
        return
    with _lock:
        if _state.frozen_at is not None:
            _state = _State(frozen_at=_state.frozen_at + dt.timedelta(seconds=seconds))
            return
    time.sleep(seconds)


def is_frozen() -> bool:
    return _state.frozen_at is not None


@contextmanager
def frozen(at: dt.datetime | None = None) -> Iterator[None]:
    """Stop the clock at `at` (aware), or at the current time, for the body; the clock is restored as it was."""
    if at is not None and timezone.is_naive(at):
        raise ValueError("clock.frozen() needs an aware datetime.")
    global _state
    with _lock:
        before = _state
        _state = _State(frozen_at=(at if at is not None else before.now()).astimezone(dt.UTC))
    try:
        yield
    finally:
        with _lock:
            _state = before


@contextmanager
def travel(delta: dt.timedelta) -> Iterator[None]:
    """Move the clock by `delta` (forward or back) for the body, frozen or running; it is restored as it was."""
    global _state
    with _lock:
        before = _state
        _state = _moved(before, delta)
    try:
        yield
    finally:
        with _lock:
            _state = before


def advance(delta: dt.timedelta) -> None:
    """Move a frozen clock by `delta`. Only a frozen clock: `frozen()` puts it back afterwards, so the move cannot
    outlive the test that made it."""
    global _state
    with _lock:
        if _state.frozen_at is None:
            raise RuntimeError("clock.advance() moves a frozen clock only: use clock.frozen() or clock.travel().")
        _state = _moved(_state, delta)


def _moved(state: _State, delta: dt.timedelta) -> _State:
    if state.frozen_at is not None:
        return _State(frozen_at=state.frozen_at + delta)
    return _State(offset=state.offset + delta)
