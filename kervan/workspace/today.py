"""The Today page, the home page after login: what needs attention now, for the role that is logged in.

Each app adds its own cards from its AppConfig.ready() (orders to ship, returns waiting, sales, abandoned
checkouts, new customers, imports; later at-risk VIPs, tickets near their SLA, campaigns sending):

    register_today_card(TodayCard("orders_to_ship", _("Paid, not shipped"), area="orders",
                                  template="orders/today_to_ship.html", context=to_ship_context, position=10))

A card is shown to roles with `access` to its permission `area`; `context(actor)` returns the template's context,
or None when the card has nothing to show. Every number on a card links to the list that shows its rows, with the
list's own filter parameters, and is counted the way that list filters.

The page is the first thing everyone opens, many times a day, so each card must answer from an index range scan
or a precomputed row, never a scan of orders or events (bench/README.md, "Today page"). Counts that could be large
stop at COUNT_LIMIT ("1,000+"): a bounded count reads at most that many rows, and a card says "act on this" as
well with 1,000+ as with the exact figure, which its list has.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db import OperationalError, connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString

from kervan.accounts.actors import Actor
from kervan.accounts.api_auth import client_ip
from kervan.core import clock
from kervan.workspace.models import TodayCount

# A card's count stops here: beyond it the card says "1,000+" (the list it links to has the exact figure).
COUNT_LIMIT = 1_000


@dataclass(frozen=True)
class TodayCard:
    key: str  # unique; the card's element id is "today-<key>"
    title: Any  # a lazy translation
    area: str  # the permission area a role needs `access` to, to see the card
    template: str  # renders the card's body (the page draws its frame and title)
    context: Callable[[Actor], dict[str, Any] | None]  # None: nothing to show, the card is left out
    access: str = "read"
    position: int = 100
    wide: bool = False  # spans the whole row (a chart)
    scripts: tuple[str, ...] = ()  # static paths of the scripts the card needs, loaded once by the page


_cards: dict[str, TodayCard] = {}


def register_today_card(card: TodayCard) -> None:
    if _cards.get(card.key, card) != card:
        raise ValueError(f"Today card '{card.key}' is already registered")
    _cards[card.key] = card


def today_cards() -> list[TodayCard]:
    """Every registered card, in page order."""
    return sorted(_cards.values(), key=lambda c: (c.position, c.key))


@dataclass(frozen=True)
class BoundedCount:
    """A count that stopped at `COUNT_LIMIT`: `more` says there are more rows than `value`."""

    value: int
    more: bool

    def __bool__(self) -> bool:
        return self.value > 0


def bounded_count(qs: QuerySet[Any], limit: int = COUNT_LIMIT) -> BoundedCount:
    """How many rows `qs` holds, reading at most `limit` + 1 of them."""
    found = qs.order_by()[: limit + 1].count()
    return BoundedCount(min(found, limit), found > limit)


def list_url(url_name: str, **params: Any) -> str:
    """The address of a list with its filter parameters (dates as YYYY-MM-DD): what a card's figure links to."""
    query = urlencode({key: str(value) for key, value in params.items() if value not in (None, "")})
    return f"{reverse(url_name)}?{query}" if query else reverse(url_name)


# A figure registered with register_today_count is counted live when that takes at most this long (PostgreSQL);
# otherwise the card shows the count the background refresh made, at most REFRESH_EVERY old, with its time.
LIVE_COUNT_MS = 150
REFRESH_EVERY = dt.timedelta(minutes=10)

_slow_counts: dict[str, Callable[[Actor], QuerySet[Any]]] = {}


def register_today_count(key: str, rows: Callable[[Actor], QuerySet[Any]]) -> None:
    """A card's figure that a large shop's data can make slow to count (a condition across two tables that no index
    answers: returns no refund has settled, checkouts no order followed): `rows(actor)` are the rows
    it counts. `count_now_or_stored(key, actor)` counts them live when that is quick; the scheduler recounts every
    registered figure every REFRESH_EVERY (today_counts_refresh), for the views where it is not."""
    from kervan.core.schedule import register_schedule
    from kervan.workspace.tasks import today_counts_refresh

    _slow_counts[key] = rows
    register_schedule("today_counts_refresh", today_counts_refresh, every=REFRESH_EVERY)


@dataclass(frozen=True)
class ShownCount:
    count: BoundedCount
    as_of: dt.datetime | None = None  # when the background refresh counted it; None: counted for this view


def count_now_or_stored(key: str, actor: Actor) -> ShownCount:
    """A registered figure: counted now if that takes at most LIVE_COUNT_MS, else as the refresh last stored it
    (and, the first time, counted now whatever it takes, and stored)."""
    rows = _slow_counts[key](actor)
    live = count_within(rows, LIVE_COUNT_MS)
    if live is not None:
        return ShownCount(live)
    stored = TodayCount.objects.filter(key=key).first()
    if stored is not None:
        return ShownCount(BoundedCount(stored.value, stored.more), stored.computed_at)
    return ShownCount(_store_count(key, bounded_count(rows)).count)


def count_within(qs: QuerySet[Any], ms: int) -> BoundedCount | None:
    """bounded_count(qs), or None if PostgreSQL needs more than `ms` for it (the statement is cancelled). SQLite
    always counts: a shop that outgrows these counts has moved to PostgreSQL."""
    if connection.vendor != "postgresql":
        return bounded_count(qs)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('statement_timeout'), set_config('statement_timeout', %s, true)", [f"{ms}ms"]
            )
            before = cursor.fetchone()[0]
            found = bounded_count(qs)
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [before])  # not for the rest
            return found
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == "57014":  # query_canceled: the time was up
            return None
        raise


def _store_count(key: str, count: BoundedCount) -> ShownCount:
    now = clock.now()
    TodayCount.objects.update_or_create(
        key=key, defaults={"value": count.value, "more": count.more, "computed_at": now}
    )
    return ShownCount(count, now)


def today_counts_refresh() -> int:
    """Count every registered figure as the system sees it and store it: what the cards show when a live count
    would take too long. Idempotent; scheduled every REFRESH_EVERY. Returns how many figures it counted."""
    actor = Actor.system()
    for key, rows in _slow_counts.items():
        _store_count(key, bounded_count(rows(actor)))
    return len(_slow_counts)


@dataclass(frozen=True)
class ShownCard:
    card: TodayCard
    html: SafeString


def shown_cards(actor: Actor) -> list[ShownCard]:
    """The cards `actor` may see that have something to show, rendered, in page order."""
    shown = []
    for card in today_cards():
        if not actor.can(card.area, card.access):
            continue
        context = card.context(actor)
        if context is None:
            continue
        shown.append(ShownCard(card, render_to_string(card.template, {**context, "card": card})))
    return shown


@login_required
def today(request: HttpRequest) -> HttpResponse:
    """The Today page."""
    actor = Actor.for_user(request.user, client_ip(request))
    cards = shown_cards(actor)
    scripts = list(dict.fromkeys(script for shown in cards for script in shown.card.scripts))
    return render(request, "workspace/today.html", {"cards": cards, "scripts": scripts, "now": clock.now()})
