"""Freshness: membership follows the data within seconds, and the clock within a minute, never inside a request.

Data changes. Every change to a customer's data is announced once where it is written (kervan.core.changes: the
audit writer, the event store); segments listen (`segments_touch`) and queue the customers as SegmentTouch rows in
the writer's transaction, then wake the worker once that commits. The worker (`segments_refresh_touched`, task
segments_refresh_touched_task) claims them in batches (kervan.core.claim: several workers share the queue safely)
and runs the set-based rebuild limited to them in every dynamic segment, so one order costs a few indexed probes per
segment, not a rebuild of everyone. A change every profile may show (an import, new predictions) queues a full
rebuild instead.

The clock. A condition relative to now ("ordered in the last 30 days") changes membership with no write at all.
Between two passes t0 < t1, only customers with a value that crossed the window's edge can move: a last order, an
event or a purchase timed in [t0 - D, t1 - D]. `segments_move_with_time` (every 20 seconds) re-evaluates exactly
those, found on the time columns' indexes, and keeps t1 as the segment's `moved_until`; a segment never moved, or
not for a day, is rebuilt whole.
"""

import datetime as dt

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import QuerySet

from kervan.core import claim, clock
from kervan.core.claim import worker_name
from kervan.core.queue import enqueue_on_commit
from kervan.customers.models import Customer
from kervan.events.models import Event
from kervan.orders.models import Order
from kervan.segments.actions import check_definition, rebuild_order, segment_rebuild
from kervan.segments.definition import Leaf, leaves
from kervan.segments.models import Segment, SegmentTouch

BATCH = 1000
WAKE_KEY = "segments:refresh-queued"
# A queued wake-up stands for the touches committed after it: the worker clears it when it starts, so a touch
# committed while it works queues the next pass; the timeout only covers a pass that never started (and the
# schedule's safety net runs every few seconds anyway).
WAKE_SECONDS = 5
MOVE_EVERY = dt.timedelta(seconds=20)
WHOLE_AFTER = dt.timedelta(days=1)


# Whether any dynamic segment exists, kept in the cache: most writes (every event batch) would otherwise pay a query
# to learn that there is nothing to keep fresh. Saving or deleting a segment rewrites it; a shared cache (Redis) holds
# it until then, a per-process one for a moment (another process's new segment is seen within ANY_SEGMENT_SECONDS,
# and a new segment's first rebuild reads everyone anyway).
ANY_SEGMENT_KEY = "segments:any-dynamic"
ANY_SEGMENT_SECONDS = 2


def _any_dynamic_segment() -> bool:
    known = cache.get(ANY_SEGMENT_KEY)
    if known is None:
        known = Segment.objects.filter(kind=Segment.Kind.DYNAMIC).exists()
        cache.set(ANY_SEGMENT_KEY, known, None if settings.KERVAN_CACHE_SHARED else ANY_SEGMENT_SECONDS)
    return known


def forget_any_segment(**_signal) -> None:
    cache.delete(ANY_SEGMENT_KEY)
    transaction.on_commit(lambda: cache.delete(ANY_SEGMENT_KEY))  # and once the segment's transaction has committed


def segments_touch(customer_ids: list[int], events_only: bool = False) -> None:
    """Queue these customers for re-evaluation (a listener of kervan.core.changes: runs in the writer's transaction).
    One statement per thousand: a customer already queued only moves `touched_at` (so a row being worked on is kept
    for another pass, see segments_refresh_touched) and stays events-only only if both touches were."""
    if not customer_ids or not _any_dynamic_segment():
        return
    now = connection.ops.adapt_datetimefield_value(clock.now())
    table = SegmentTouch._meta.db_table
    with connection.cursor() as cursor:
        for i in range(0, len(customer_ids), BATCH):
            chunk = customer_ids[i : i + BATCH]
            rows = ", ".join(["(%s, %s, %s, %s, '', 0)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (customer_id, touched_at, due_at, events_only, leased_by, attempts) "
                f"VALUES {rows} ON CONFLICT (customer_id) DO UPDATE SET touched_at = excluded.touched_at, "
                f"events_only = ({table}.events_only AND excluded.events_only)",
                [value for c in chunk for value in (c, now, now, events_only)],
            )
    transaction.on_commit(_wake_worker)


def _wake_worker() -> None:
    """Once the touches are committed: queue one worker pass, unless one is queued and has not started yet."""
    if cache.add(WAKE_KEY, 1, timeout=WAKE_SECONDS):
        from kervan.segments.tasks import segments_refresh_touched_task

        segments_refresh_touched_task.enqueue()


def segments_everything_changed() -> None:
    """A change any profile may show (an import, a bulk load, new predictions): every dynamic segment is rebuilt."""
    if _any_dynamic_segment():
        from kervan.segments.tasks import segments_rebuild_all

        enqueue_on_commit(segments_rebuild_all)


def segments_refresh_touched(*, worker: str | None = None, limit: int = BATCH) -> int:
    """Claim up to `limit` touched customers, re-evaluate them in every dynamic segment; returns how many."""
    worker = worker or worker_name()
    started = clock.now()
    rows = claim.claim_due(SegmentTouch.objects.all(), worker=worker, limit=limit)
    if not rows:
        return 0
    everything = [r.customer_id for r in rows if not r.events_only]
    did_something = [r.customer_id for r in rows if r.events_only]
    segments = rebuild_order(list(Segment.objects.filter(kind=Segment.Kind.DYNAMIC)))
    reading_events = _reading_events(segments)
    for segment in segments:
        ids = sorted(everything + did_something) if segment.pk in reading_events else everything
        if ids:
            segment_rebuild(segment=segment, customer_ids=ids)
    # Done, unless touched again while we worked: those are kept for the next pass. Two statements for the batch.
    claim.held_all(rows).filter(touched_at__lte=started).delete()
    claim.release_all(rows, due_at=clock.now())
    return len(rows)


def _reading_events(segments: list[Segment]) -> set[int]:
    """The segments whose members can change with a customer's events: an event condition, or one of a segment
    that does (`segments` in rebuild order: referred-to segments come first)."""
    reading: set[int] = set()
    for segment in segments:
        tree = check_definition(segment.definition, segment_id=segment.pk)
        for leaf in leaves(tree):
            if leaf.kind == "event" or (leaf.kind == "segment" and leaf.value in reading):
                reading.add(segment.pk)
                break
    return reading


def segments_refresh_all_touched() -> int:
    """The worker's pass: clear the wake-up first (a touch from now on queues another pass), then drain the queue."""
    cache.delete(WAKE_KEY)
    total = 0
    while done := segments_refresh_touched():
        total += done
    return total


def crossed_edge(leaf: Leaf, since: dt.datetime, until: dt.datetime) -> QuerySet | None:
    """The customers whose value for a relative-time `leaf` crossed its window's edge between `since` and `until`
    (a superset: re-evaluating one too many is harmless). None: no narrower answer than everyone (a custom date
    field, or a date-only field on a day that turned, or "in the next … days" of a predicted date)."""
    if leaf.op == "within_next_days":
        return None
    if leaf.within_days is not None:
        days = leaf.within_days
    elif leaf.op in ("within_last_days", "more_than_days_ago"):
        days = leaf.value
    else:
        return Customer.objects.none().values_list("pk", flat=True)
    low, high = since - dt.timedelta(days=days), until - dt.timedelta(days=days)
    if leaf.kind == "event":
        return Event.objects.filter(name=leaf.name, occurred_at__range=(low, high)).values_list(
            "customer_id", flat=True
        )
    if leaf.kind in ("bought", "window"):  # a purchase, a UTM, the orders counted or summed in "spent"/"orders"
        return Order.objects.filter(placed_at__range=(low, high)).values_list("customer_id", flat=True)
    if leaf.kind == "stats":
        return Customer.objects.filter(**{f"stats__{leaf.column}__range": (low, high)}).values_list("pk", flat=True)
    if leaf.kind == "profile" and leaf.type == "datetime":
        return Customer.objects.filter(**{f"{leaf.column}__range": (low, high)}).values_list("pk", flat=True)
    return None  # a date (the window moves at midnight) or a custom field: the whole segment


def _crossed_ids(segment: Segment, since: dt.datetime, until: dt.datetime) -> set[int] | None:
    tree = check_definition(segment.definition, segment_id=segment.pk)
    ids: set[int] = set()
    for leaf in leaves(tree):
        if not leaf.relative:
            continue
        crossed = crossed_edge(leaf, since, until)
        if crossed is None:
            return None
        ids.update(pk for pk in crossed if pk is not None)
    return ids


def segments_move_with_time() -> int:
    """Re-evaluate, in each segment relative to now, the customers who crossed a window's edge since its last pass
    (and the segments that refer to it); a segment never moved, or not for a day, is rebuilt whole. Returns how many
    memberships changed."""
    until = clock.now()
    segments = list(Segment.objects.filter(kind=Segment.Kind.DYNAMIC))
    moved = 0
    for segment in rebuild_order([s for s in segments if s.relative]):
        since = segment.moved_until
        ids = None if since is None or until - since > WHOLE_AFTER else _crossed_ids(segment, since, until)
        ordered = sorted(ids or ())
        batches = [None] if ids is None else [ordered[i : i + BATCH] for i in range(0, len(ordered), BATCH)]
        for batch in batches:
            result = segment_rebuild(segment=segment, customer_ids=batch)
            moved += len(result.entered) + len(result.exited)
            # Segments that refer to this one see who moved through the touch queue, seconds later.
            segments_touch(result.entered + result.exited)
        Segment.objects.filter(pk=segment.pk).update(moved_until=until)
    return moved
