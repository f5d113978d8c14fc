"""The event store's bulk writes: insert a batch of events once each, move CustomerStats.last_event_at forward.

PostgreSQL gets one statement for both, fed by one JSON document (json_to_recordset): a batch costs one round trip
whatever its size. Other databases (SQLite for trials and tests) go through the ORM with the same results.
Callers run these inside their transaction.
"""

import datetime as dt
from dataclasses import dataclass

import orjson
from django.db import connection, transaction
from django.db.models import Max

from kervan.core.db import server_bound_cursor
from kervan.customers.cache import customers_changed
from kervan.customers.stats import LAST_EVENT_STALE, last_event_bump, last_event_bump_sql
from kervan.events.models import Event


@dataclass(slots=True)
class EventRow:
    dedupe_key: str
    name: str
    occurred_at: dt.datetime
    properties: dict
    customer_id: int | None
    anonymous_id: str
    source_id: int | None


# Half of the "last seen" throttle (customers.stats.LAST_EVENT_GRANULARITY) is this process's: {customer_id: a time
# this process bumped last_event_at to, after its commit}. The stored value then is at least that time minus
# LAST_EVENT_STALE, and it never moves back (merges keep the later one), so an event less than LAST_EVENT_STALE after
# it needs no look at the stats row at all. Bounded: forgotten wholesale past _REMEMBERED entries.
_recently_bumped: dict[int, dt.datetime] = {}
_REMEMBERED = 100_000


def events_store_is_one_statement() -> bool:
    """Whether events_store is one statement here (PostgreSQL outside a transaction), so it needs no transaction."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def events_store(rows: list[EventRow], *, received_at: dt.datetime) -> set[str]:
    """Insert `rows` (dedupe keys unique within the list), skipping keys already stored; move the customers'
    CustomerStats.last_event_at forward (see last_event_bump) and announce them as changed. Returns the keys stored.

    On PostgreSQL the insert and the stats update are one statement (one round trip, one plan)."""
    if not rows:
        return set()
    # A fixed order makes concurrent batches that share keys take their index locks in the same order.
    rows = sorted(rows, key=lambda r: r.dedupe_key)
    if connection.vendor == "postgresql":
        stored, customers = _store_postgres(rows, received_at)
        customers_changed(customers, events_only=True)
        return stored
    stored = _insert_orm(rows, received_at)
    last_event_bump(_newest_by_customer(rows, stored))
    return stored


def _newest_by_customer(rows: list[EventRow], stored: set[str] | None = None) -> dict[int, dt.datetime]:
    """{customer_id: time of their newest event} among `rows` (only those whose keys are in `stored`, if given)."""
    newest: dict[int, dt.datetime] = {}
    for r in rows:
        if r.customer_id is not None and (stored is None or r.dedupe_key in stored):
            if r.customer_id not in newest or newest[r.customer_id] < r.occurred_at:
                newest[r.customer_id] = r.occurred_at
    return newest


def _insert_orm(rows: list[EventRow], received_at: dt.datetime) -> set[str]:
    existing = set(
        Event.objects.filter(dedupe_key__in=[r.dedupe_key for r in rows]).values_list("dedupe_key", flat=True)
    )
    new = [
        Event(
            dedupe_key=r.dedupe_key,
            name=r.name,
            occurred_at=r.occurred_at,
            received_at=received_at,
            properties=r.properties,
            customer_id=r.customer_id,
            anonymous_id=r.anonymous_id,
            source_id=r.source_id,
        )
        for r in rows
        if r.dedupe_key not in existing
    ]
    # SQLite runs one writer at a time, so the keys read above cannot be taken before this insert.
    Event.objects.bulk_create(new, ignore_conflicts=True)
    return {e.dedupe_key for e in new}


def _remember_bumped(latest: dict[int, dt.datetime]) -> None:
    if len(_recently_bumped) > _REMEMBERED:
        _recently_bumped.clear()
    for customer_id, when in latest.items():
        if customer_id not in _recently_bumped or _recently_bumped[customer_id] < when:
            _recently_bumped[customer_id] = when


def _store_postgres(rows: list[EventRow], received_at: dt.datetime) -> tuple[set[str], set[int]]:
    events = connection.ops.quote_name(Event._meta.db_table)
    # The stats rows are updated in customer order (the sorted `latest`, driving a nested loop over the primary
    # key), so two batches sharing customers lock them in the same order.
    sql = (
        f"WITH new AS (INSERT INTO {events} (dedupe_key, customer_id, anonymous_id, name, occurred_at, received_at,"
        " properties, source_id) SELECT u.k, u.c, u.a, u.n, u.t, %s, u.p, u.s FROM json_to_recordset(%s::json)"
        " AS u(k text, c bigint, a text, n text, t timestamptz, p jsonb, s bigint)"
        " ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key, customer_id, occurred_at),"
        " latest AS (SELECT customer_id, max(occurred_at) AS t FROM new WHERE customer_id = ANY(%s::bigint[])"
        " GROUP BY customer_id ORDER BY customer_id),"
        f" bumped AS ({last_event_bump_sql('latest', 'latest.customer_id', 'latest.t')})"
        " SELECT dedupe_key, customer_id FROM new"
    )
    # One JSON document, encoded in C by orjson, instead of arrays psycopg would escape element by element.
    document = orjson.dumps(
        [
            {
                "k": r.dedupe_key,
                "c": r.customer_id,
                "a": r.anonymous_id,
                "n": r.name,
                "t": r.occurred_at,
                "p": r.properties,
                "s": r.source_id,
            }
            for r in rows
        ]
    ).decode()
    newest = _newest_by_customer(rows)
    to_bump = [
        customer_id
        for customer_id, when in newest.items()
        if customer_id not in _recently_bumped or when >= _recently_bumped[customer_id] + LAST_EVENT_STALE
    ]
    with server_bound_cursor() as cursor:
        cursor.execute(sql, [received_at, document, "{" + ",".join(map(str, to_bump)) + "}"])
        found = cursor.fetchall()
    stored = {key for key, _customer in found}
    if to_bump:
        bumped = _newest_by_customer(rows, stored)
        wanted = set(to_bump)
        transaction.on_commit(lambda: _remember_bumped({c: t for c, t in bumped.items() if c in wanted}))
    return stored, {customer for _key, customer in found if customer is not None}


def events_attach_anonymous(*, anonymous_id: str, customer_id: int) -> int:
    """Give an identified visitor's earlier anonymous events to their profile; their latest counts as activity."""
    pending = Event.objects.filter(anonymous_id=anonymous_id, customer__isnull=True)
    latest = pending.aggregate(latest=Max("occurred_at"))["latest"]
    if latest is None:
        return 0
    moved = pending.update(customer_id=customer_id)
    last_event_bump({customer_id: latest})
    return moved
