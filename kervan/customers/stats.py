"""The one writer of CustomerStats: every change to a customer's aggregates is a function here.

- Order changes (orders app, inside their transaction): the stats row is locked (SELECT … FOR UPDATE on PostgreSQL;
  SQLite's IMMEDIATE transactions already serialise writers), changed in Python with exact Decimals, and saved: no
  scan of the customer's orders.
- New customers (customer_create, the bulk import): `stats_create_empty`, one set-based statement for any number.
- "Last seen" (the event store): `last_event_bump`, and on PostgreSQL `last_event_bump_sql`, the same rule as a
  statement the event store runs inside its single insert statement (one round trip per batch).
- A generator that made the customers' orders itself (the demo shop) hands the aggregates it summed to
  `stats_load`, a bulk COPY; a test checks them against the orders.
- The recompute (kervan.orders.stats_rebuild, `manage.py stats_rebuild`) sums the orders, refunds and returns itself
  (`Totals`); `stats_drift` compares them with the rows, `stats_replace` overwrites the rows that differ.

Every change locks the row first and only then reads what it derives from (the row itself, or for a cancellation the
span of the remaining orders, for a rebuild the orders), so a change committed meanwhile is never overwritten.

The order changes run inside audited actions, whose audit rows forget the customer's cached 360; the unaudited
"last seen" bump announces its customers itself.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, DateTimeField, Q, Value, When
from django.utils.translation import gettext as _

from kervan.core.db import ids_in, server_bound_cursor
from kervan.core.money import check_amount
from kervan.customers.cache import customers_changed
from kervan.customers.models import CustomerStats, average_order_value

# CustomerStats.last_event_at is "last seen", not an audit trail: it may lag the customer's newest event by up to
# this. A visitor browsing a shop sends many events a minute; rewriting the stats row for each would cost an UPDATE
# (a new row version, its WAL and index entries) per customer per batch for a change nobody can see. Half of it is
# the database's rule (a row is rewritten only when it is more than half behind), the other half the event store's
# (events.store skips customers it bumped less than LAST_EVENT_STALE ago): together never more than the whole.
LAST_EVENT_GRANULARITY = dt.timedelta(seconds=60)
LAST_EVENT_STALE = LAST_EVENT_GRANULARITY / 2


def _locked(customer_id: int) -> CustomerStats:
    stats = CustomerStats.objects.select_for_update().filter(customer_id=customer_id).first()
    if stats is None:
        stats_create_empty([customer_id])
        stats = CustomerStats.objects.select_for_update().get(customer_id=customer_id)
    return stats


def stats_load(rows: list[tuple], *, currency: str | None = None) -> None:
    """Write computed aggregates (LOAD_COLUMNS) for customers that have no stats row yet, in bulk: COPY on
    PostgreSQL, executemany elsewhere. For a generator that made the customers' orders itself and summed them as
    CustomerStats defines them (the average with models.average_order_value); live data moves through the functions
    below. Announces nothing: the loader announces its whole load."""
    if not rows:
        return
    currency = currency or settings.KERVAN_REPORTING_CURRENCY
    table = connection.ops.quote_name(CustomerStats._meta.db_table)
    columns = ", ".join((*LOAD_COLUMNS, "currency"))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*row, currency))
        else:
            placeholders = ", ".join(["%s"] * (len(LOAD_COLUMNS) + 1))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", [(*row, currency) for row in rows]
            )


def stats_create_empty(customer_ids: Iterable[int], *, currency: str | None = None) -> None:
    """An empty stats row for each of these new customers (a customer always has one), in one statement."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    currency = currency or settings.KERVAN_REPORTING_CURRENCY
    table = connection.ops.quote_name(CustomerStats._meta.db_table)
    columns = "customer_id, currency, total_spent, order_count, average_order_value, returns_count, refunded_total"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT i, %s, 0, 0, 0, 0, 0 FROM unnest(%s::bigint[]) AS i",
                [currency, "{" + ",".join(map(str, ids)) + "}"],
            )
        else:
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES (%s, %s, 0, 0, 0, 0, 0)", [(i, currency) for i in ids]
            )


def _save(stats: CustomerStats) -> None:
    # The sums use the same 14-digit AmountField as one order: a sum beyond it refuses the change that caused it
    # (a 4xx, nothing written) instead of failing in the database.
    check_amount(stats.total_spent, _("the customer's total spent"))
    check_amount(stats.refunded_total, _("the customer's total refunded"))
    stats.save()


def stats_record_order(*, customer_id: int, amount: Decimal, currency: str, placed_at) -> None:
    stats = _locked(customer_id)
    stats.order_count += 1
    stats.total_spent += amount
    stats.currency = currency
    if stats.first_order_at is None or placed_at < stats.first_order_at:
        stats.first_order_at = placed_at
    if stats.last_order_at is None or placed_at > stats.last_order_at:
        stats.last_order_at = placed_at
    stats.recompute_average()
    _save(stats)


def stats_record_cancellation(
    *,
    customer_id: int,
    net_amount: Decimal,
    remaining_span: Callable[[], tuple[dt.datetime | None, dt.datetime | None]],
) -> None:
    """A cancelled order leaves the aggregates: its count and what is left of its value after refunds.

    The first/last order dates may have been this order's: `remaining_span()` gives (first, last) of the customer's
    orders that still count. It is called once the row is locked, so it sees every other change to them committed
    before (a concurrent cancellation, a back-dated order), and no later one can commit until this one does.
    """
    stats = _locked(customer_id)
    stats.order_count = max(stats.order_count - 1, 0)
    stats.total_spent -= net_amount
    stats.first_order_at, stats.last_order_at = remaining_span()
    stats.recompute_average()
    _save(stats)


def stats_record_refund(*, customer_id: int, amount: Decimal, counts_in_total: bool) -> None:
    stats = _locked(customer_id)
    stats.refunded_total += amount
    if counts_in_total:
        stats.total_spent -= amount
    stats.recompute_average()
    _save(stats)


def stats_record_return(*, customer_id: int) -> None:
    stats = _locked(customer_id)
    stats.returns_count += 1
    stats.save(update_fields=["returns_count"])


def stats_merge(*, survivor_id: int, merged_id: int) -> None:
    """Fold the merged customer's aggregates into the survivor's."""
    # Locked in id order, like every writer that locks several rows (stats_replace), so none waits in a circle.
    locked = {i: _locked(i) for i in sorted((survivor_id, merged_id))}
    survivor, merged = locked[survivor_id], locked[merged_id]
    # Both rows hold amounts in the reporting currency (the order actions convert every amount before it comes here).
    survivor.currency = settings.KERVAN_REPORTING_CURRENCY
    survivor.order_count += merged.order_count
    survivor.total_spent += merged.total_spent
    survivor.refunded_total += merged.refunded_total
    survivor.returns_count += merged.returns_count
    survivor.first_order_at = _earliest(survivor.first_order_at, merged.first_order_at)
    survivor.last_order_at = _latest(survivor.last_order_at, merged.last_order_at)
    survivor.last_event_at = _latest(survivor.last_event_at, merged.last_event_at)
    survivor.recompute_average()
    _save(survivor)
    CustomerStats.objects.filter(customer_id=merged_id).update(
        order_count=0,
        total_spent=0,
        refunded_total=0,
        returns_count=0,
        average_order_value=0,
        first_order_at=None,
        last_order_at=None,
    )


# What the recompute derives from orders, refunds and returns: every aggregate but last_event_at (a throttled "last
# seen" from events, not recomputed) and currency (always the reporting currency, settings.KERVAN_REPORTING_CURRENCY).
AGGREGATES = (
    "total_spent",
    "order_count",
    "average_order_value",
    "first_order_at",
    "last_order_at",
    "returns_count",
    "refunded_total",
)
# The columns of a computed row for stats_load, in order.
LOAD_COLUMNS = ("customer_id", *AGGREGATES, "last_event_at")


@dataclass(frozen=True, kw_only=True)
class Totals:
    """A customer's orders, refunds and returns summed as CustomerStats defines its aggregates (README, "Customer
    totals"). The average is not a sum: `row()` derives it with the one rounding, models.average_order_value."""

    # Amounts in the reporting currency (each order converted at its own day's rate); orders awaiting a rate are left
    # out, as if not yet placed.
    total_spent: Decimal = Decimal(0)  # Σ (total − refunded_total) over the orders not cancelled
    order_count: int = 0  # the orders not cancelled
    first_order_at: dt.datetime | None = None  # the earliest placed_at of the orders not cancelled
    last_order_at: dt.datetime | None = None  # the latest
    returns_count: int = 0  # Return records (not units), on orders awaiting a rate too
    refunded_total: Decimal = Decimal(0)  # Σ Refund.amount, on cancelled orders too

    def row(self) -> tuple:
        """The values of AGGREGATES, in order."""
        average = average_order_value(self.total_spent, self.order_count)
        return (
            self.total_spent,
            self.order_count,
            average,
            self.first_order_at,
            self.last_order_at,
            self.returns_count,
            self.refunded_total,
        )


NO_TOTALS = Totals()


@dataclass(frozen=True)
class Drift:
    """A customer whose stored aggregates differ from the recomputed ones: field → (stored, recomputed)."""

    customer_id: int
    fields: dict[str, tuple[object, object]]

    def __str__(self) -> str:
        changes = ", ".join(f"{name} {stored} -> {recomputed}" for name, (stored, recomputed) in self.fields.items())
        return f"customer {self.customer_id}: {changes}"


def stats_drift(totals: Mapping[int, Totals]) -> list[Drift]:
    """The customers of `totals` whose stored row differs from their Totals (a missing row differs in every field), by
    id. Reads without locks: a customer whose orders changed while the caller summed them may be listed, and then
    found right by stats_replace, which locks before it sums."""
    ids = sorted(totals)
    if not ids:
        return []
    rows = CustomerStats.objects.filter(ids_in("customer_id", ids)).values_list(*_COLUMNS)
    stored = {row[0]: row[1:] for row in rows}
    return [drift for i in ids if (drift := _drift(i, stored.get(i), totals[i]))]


def stats_replace(
    customer_ids: Iterable[int], totals: Callable[[list[int]], Mapping[int, Totals]], *, write: bool = True
) -> list[Drift]:
    """Recompute these customers' rows: lock them (in id order), then call `totals(ids)` (a customer it leaves out
    has no orders, refunds or returns) — after the lock, so the sums hold every change committed to these customers
    and none can commit until this transaction ends — and overwrite the rows that differ, in one statement (a missing
    row is created). `write=False` only reports them. Returns what differed, by id."""
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    with transaction.atomic():
        locked = CustomerStats.objects.select_for_update().filter(ids_in("customer_id", ids)).order_by("customer_id")
        stored = {row[0]: row[1:] for row in locked.values_list(*_COLUMNS)}  # (a range may lock a few more)
        computed = totals(ids)
        drift = [d for i in ids if (d := _drift(i, stored.get(i), computed.get(i, NO_TOTALS)))]
        if write and drift:
            _overwrite([(d.customer_id, computed.get(d.customer_id, NO_TOTALS).row()) for d in drift])
            customers_changed(d.customer_id for d in drift)
    return drift


_COLUMNS = ("customer_id", *AGGREGATES)


def _drift(customer_id: int, stored: tuple | None, totals: Totals) -> Drift | None:
    recomputed = totals.row()
    stored = stored or (None,) * len(AGGREGATES)
    fields = {name: (old, new) for name, old, new in zip(AGGREGATES, stored, recomputed, strict=True) if old != new}
    return Drift(customer_id, fields) if fields else None


def _overwrite(rows: list[tuple[int, tuple]]) -> None:
    """Upsert the AGGREGATES of (customer_id, values) rows in one statement (executemany on SQLite). A row created
    here takes the reporting currency (every amount is in it); an existing row keeps its last_event_at."""
    table = connection.ops.quote_name(CustomerStats._meta.db_table)
    columns = ", ".join(_COLUMNS)
    updates = ", ".join(f"{name} = excluded.{name}" for name in (*AGGREGATES, "currency"))
    currency = settings.KERVAN_REPORTING_CURRENCY
    if connection.vendor == "postgresql":
        # The rows as one JSON array of arrays (orjson, amounts as strings): a tenth of the Python time of binding
        # eight typed arrays, which was a third of a full rewrite's time.
        types = ("bigint", "numeric", "integer", "numeric", "timestamptz", "timestamptz", "integer", "numeric")
        fields = ", ".join(f"(r->>{n})::{t}" for n, t in enumerate(types))
        with server_bound_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({columns}, currency) SELECT {fields}, %s FROM json_array_elements(%s::json) r"
                f" ON CONFLICT (customer_id) DO UPDATE SET {updates}",
                [currency, orjson.dumps([(i, *row) for i, row in rows], default=str).decode()],
            )
        return
    ops = connection.ops
    placeholders = ", ".join(["%s"] * (len(_COLUMNS) + 1))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({columns}, currency) VALUES ({placeholders})"
            f" ON CONFLICT (customer_id) DO UPDATE SET {updates}",
            [
                (
                    i,
                    *(ops.adapt_datetimefield_value(v) if isinstance(v, dt.datetime) else v for v in values),
                    currency,
                )
                for i, values in rows
            ],
        )


def _earliest(a, b):
    return min(x for x in (a, b) if x is not None) if (a or b) else None


def _latest(a, b):
    return max(x for x in (a, b) if x is not None) if (a or b) else None


def last_event_bump(latest: dict[int, dt.datetime]) -> None:
    """Move CustomerStats.last_event_at forward to `latest[customer_id]`; one UPDATE.

    Throttled like a "last seen" time: a stored value less than LAST_EVENT_STALE older than the new one is kept, so
    last_event_at is never later than the customer's newest event and at most LAST_EVENT_GRANULARITY earlier (exact
    for the first event, and whenever events are further apart than that). Every path that gives customers new
    events ends here (or in the event store's statement built with last_event_bump_sql), so this is also where their
    cached 360 is forgotten."""
    if not latest:
        return
    customers_changed(latest, events_only=True)
    ids = sorted(latest)
    if connection.vendor == "postgresql":
        sql = last_event_bump_sql("json_to_recordset(%s::json) AS u(c bigint, t timestamptz)", "u.c", "u.t")
        with server_bound_cursor() as cursor:
            cursor.execute(sql, [orjson.dumps([{"c": i, "t": latest[i]} for i in ids]).decode()])
        return
    newest = Case(*[When(customer_id=i, then=Value(latest[i])) for i in ids], output_field=DateTimeField())
    stale = Case(
        *[When(customer_id=i, then=Value(latest[i] - LAST_EVENT_STALE)) for i in ids],
        output_field=DateTimeField(),
    )
    CustomerStats.objects.filter(customer_id__in=ids).filter(
        Q(last_event_at__isnull=True) | Q(last_event_at__lt=stale)
    ).update(last_event_at=newest)


def last_event_bump_sql(relation: str, customer_column: str, time_column: str) -> str:
    """PostgreSQL: the UPDATE of last_event_bump from `relation` (SQL naming one row per customer), for a caller that
    runs it as part of a bigger statement (the event store's insert). The caller announces the customers changed."""
    table = connection.ops.quote_name(CustomerStats._meta.db_table)
    stale = f"{time_column} - interval '{int(LAST_EVENT_STALE.total_seconds())} seconds'"
    return (
        f"UPDATE {table} AS s SET last_event_at = {time_column} FROM {relation}"
        f" WHERE s.customer_id = {customer_column} AND (s.last_event_at IS NULL OR s.last_event_at < {stale})"
    )
