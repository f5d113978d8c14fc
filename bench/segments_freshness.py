"""Segment freshness under live ingestion, on the bench database (1M customers, 10M orders; bench/generate_demo.py).

Serves Kervan with granian (production settings, Redis cache) next to its task worker (`manage.py db_worker`) and its
scheduler (`manage.py run_scheduler`), exactly the processes `make run` starts, and posts 100-event batches to
POST /api/v1/events/batch at --rate events per second for --duration seconds (random customers, by customer id).

- Qualifying events: twice a second one batch carries a "Viewed Product" with category "freshness-probe" for a
  customer outside the probe segment ("viewed a freshness-probe product in the last day"). Latency: from the
  batch's response (its transaction committed) to the customer's membership row being visible, polled every 50 ms.
- Relative-time exits: before the load, --edges customers get a "Viewed Product" with category "freshness-edge"
  timed one day minus 40-100 s ago: they enter the edge segment ("... in the last day") and must leave it when
  that day has passed. Latency: from the moment their event leaves the window to their membership row being gone.
- Qualifying orders: twice a second, from a thread of its own, one order is posted to POST /api/v1/orders/ for a
  customer not yet in the order probe segment ("ordered with utm_source fresh-<run> in the last day"). Latency: from
  the order's 201 response (its transaction committed) to the customer's membership row being visible, polled the same.

An exception in any thread is printed and stops the run: no figure is written from a run that lost a thread.

    .venv/bin/python bench/segments_freshness.py [--database-url URL] [--rate 1000] [--duration 90]

Writes bench/results/segments_freshness.json.
"""

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from serving import start_server, stop_server  # bench/ is the script's folder

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "segments_freshness.json"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kervan_bench"
TARGET_FRESH_S = 5
TARGET_EXIT_S = 60


def setup_django(url: str) -> dict:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("KERVAN_CACHE_BACKEND", "kervan.core.redis_cache.RedisCache")
    os.environ.setdefault("KERVAN_CACHE_LOCATION", "redis://127.0.0.1:6379/7")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    os.environ.setdefault("KERVAN_SECRET_KEY", "bench-secret-key-not-for-production")
    os.environ.setdefault("KERVAN_SSL_REDIRECT", "0")
    import django

    django.setup()
    return dict(os.environ)


def order_probe_definition(utm_source: str) -> dict:
    # An order attribute no earlier order has: only the probe orders of this run make a customer qualify.
    return {
        "match": "all",
        "conditions": [{"field": "utm_source", "op": "yes", "value": utm_source, "within_days": 1}],
    }


def probe_definition(category: str) -> dict:
    return {
        "match": "all",
        "conditions": [
            {
                "field": "event",
                "name": "Viewed Product",
                "op": "at_least",
                "count": 1,
                "within_days": 1,
                "where": [{"property": "category", "value": category}],
            }
        ],
    }


# What a shop keeps besides the probes: profile, order and event segments (the event ones re-read every customer
# who does something; the others only customers whose profile or orders change).
TYPICAL = {
    "İzmir": [{"field": "city", "op": "eq", "value": "İzmir"}],
    "big spenders": [{"field": "total_spent", "op": "gt", "value": "2000"}],
    "ordered in 30 days": [{"field": "last_order_at", "op": "within_last_days", "value": 30}],
    "loyal": [{"field": "order_count", "op": "gte", "value": 5}],
    "vip": [{"field": "tag", "op": "has", "value": "vip"}],
    "new this week": [{"field": "created_at", "op": "within_last_days", "value": 7}],
    "email consent": [{"field": "consent_email", "op": "eq", "value": "granted"}],
    "viewed in 7 days": [{"field": "event", "name": "Viewed Product", "op": "at_least", "count": 3, "within_days": 7}],
    "checkout, no order": [
        {"field": "event", "name": "Started Checkout", "op": "at_least", "count": 1, "within_days": 1},
        {"field": "last_order_at", "op": "more_than_days_ago", "value": 1},
    ],
}


def segment(name: str, definition: dict):
    from kervan.accounts.actors import Actor
    from kervan.segments.actions import segment_create, segment_rebuild
    from kervan.segments.models import Segment

    found = Segment.objects.filter(name=name).first() or segment_create(
        actor=Actor.system(), name=name, definition=definition
    )
    segment_rebuild(segment=found)
    return found


class Poster:
    def __init__(self, base: str, key: str):
        self.base = base
        self.key = key

    def _send(self, path: str, payload: dict, expected: int) -> tuple[float, dict]:
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(payload).encode(),
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:  # its body says which field was refused: keep it in the message
            raise RuntimeError(f"POST {path} refused: {error.code} {error.read()[:500]!r}") from None
        if status != expected:
            raise RuntimeError(f"POST {path} answered {status}, not {expected}: {body[:500]!r}")
        return time.monotonic(), json.loads(body) if body else {}

    def post(self, items: list[dict]) -> float:
        return self._send("/api/v1/events/batch", {"batch": items}, 202)[0]

    def order(self, body: dict) -> tuple[float, int]:
        """Posts one order: (when its response came, the customer it went to; a merged id gives its survivor)."""
        done, answer = self._send("/api/v1/orders/", body, 201)
        return done, answer["customer_id"]


def view(customer_id: int, category: str, at: dt.datetime) -> dict:
    return {
        "type": "track",
        "event_id": str(uuid.uuid4()),
        "name": "Viewed Product",
        "customer_id": customer_id,
        "occurred_at": at.isoformat(),
        "properties": {"category": category, "product_id": random.randint(1, 200)},
    }


def probe_order(customer_id: int, utm_source: str, external_id: str, sku: str) -> dict:
    # A known SKU, as a shop's order carries (its title comes from the catalog); a title where the catalog is empty.
    line = {"sku": sku} if sku else {"title": "Freshness probe"}
    line.update(quantity=1, unit_price="149.90")
    return {
        "customer_id": customer_id,
        "placed_at": dt.datetime.now(dt.UTC).isoformat(),
        "currency": "TRY",
        "external_id": external_id,
        "sales_channel": "web",
        "utm_source": utm_source,
        "lines": [line],
    }


def table_sizes(connection, models: dict) -> str:
    """The planner's row estimates (exact after the generator's VACUUM ANALYZE): a count(*) of 30M events takes
    longer than the run's setup."""
    with connection.cursor() as cursor:
        parts = []
        for label, model in models.items():
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [model._meta.db_table])
            row = cursor.fetchone()
            rows = row[0] if row and row[0] > 0 else model.objects.count()
            parts.append(f"{_short(rows)} {label}")
    return ", ".join(parts)


def _short(rows: int) -> str:
    # From 95% of a unit on: the planner's 999,987 customers read "1M", not "1e+03k".
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if rows >= 0.95 * size:
            return f"{rows / size:.3g}{suffix}"
    return str(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--rate", type=int, default=1000, help="events per second")
    parser.add_argument("--duration", type=int, default=90, help="seconds of load")
    parser.add_argument("--edges", type=int, default=30, help="customers whose event leaves a window during the run")
    parser.add_argument("--segments", type=int, default=len(TYPICAL), help="typical segments beside the probes")
    parser.add_argument("--port", type=int, default=8431)
    args = parser.parse_args()
    env = setup_django(args.database_url)

    from django.core.cache import cache
    from django.db import connection

    from kervan.accounts.actions import api_key_create
    from kervan.accounts.actors import Actor
    from kervan.catalog.models import Variant
    from kervan.core.models import ScheduledJob
    from kervan.customers.models import Customer
    from kervan.events.models import Event
    from kervan.orders.models import Order
    from kervan.segments.models import Segment, SegmentMembership, SegmentTouch

    cache.clear()
    # Production settings serve hashed static files: without a manifest the login page (the readiness check) fails.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"], cwd=ROOT, check=True, env=env
    )
    # An interrupted run's probes would be rebuilt (and counted) by this one: they are of no use to anyone.
    for prefix in ("probe", "edge", "order probe"):
        for stale in Segment.objects.filter(name__startswith=f"bench freshness {prefix} "):
            stale.delete()
    run = uuid.uuid4().hex[:6]
    probe = segment(f"bench freshness probe {run}", probe_definition(f"freshness-probe-{run}"))
    edge = segment(f"bench freshness edge {run}", probe_definition(f"freshness-edge-{run}"))
    order_utm = f"fresh-{run}"
    order_probe = segment(f"bench freshness order probe {run}", order_probe_definition(order_utm))
    typical = [
        segment(f"bench freshness {name}", {"match": "all", "conditions": conditions})
        for name, conditions in list(TYPICAL.items())[: args.segments]
    ]
    dynamic = Segment.objects.filter(kind=Segment.Kind.DYNAMIC).count()
    sizes = table_sizes(connection, {"customers": Customer, "orders": Order, "events": Event})
    high = Customer.objects.order_by("-pk").values_list("pk", flat=True).first()
    sku = Variant.objects.order_by("pk").values_list("sku", flat=True).first() or ""
    # POST /api/v1/orders/ reads the customer it is for (customer_get): orders:write alone answers 403.
    scopes = {"events": "write", "orders": "write", "customers": "read"}
    _, key = api_key_create(actor=Actor.system(), name=f"bench freshness {run}", scopes=scopes)
    ScheduledJob.objects.all().delete()  # the schedules start from now, not from a stale run long ago
    SegmentTouch.objects.all().delete()  # nor from an earlier run's backlog

    stop = threading.Event()  # the poller's end
    abort = threading.Event()  # a thread failed (or the run was interrupted): every loop ends
    failed: list[str] = []
    server, helpers, measured = None, [], False
    try:
        log = open(ROOT / "var" / "bench_freshness.log", "w")  # noqa: SIM115 (kept open for the processes' lifetime)
        server, base = start_server(
            port=args.port, workers=1, env=env, ready_path="/accounts/login/", threads=4, log=log
        )
        helpers = [
            subprocess.Popen([sys.executable, "manage.py", *cmd], cwd=ROOT, env=env, stdout=log, stderr=log)
            for cmd in (["db_worker", "-v", "0"], ["run_scheduler"])
        ]
        poster = Poster(base, key)
        # The edge customers: their view leaves the one-day window 40-100 s from now.
        now = dt.datetime.now(dt.UTC)
        edge_ids = random.sample(range(1, high + 1), args.edges)
        edge_at = {
            c: now - dt.timedelta(days=1) + dt.timedelta(seconds=40 + 60 * i / args.edges)
            for i, c in enumerate(edge_ids)
        }
        poster.post([view(c, f"freshness-edge-{run}", at) for c, at in edge_at.items()])
        deadline = time.monotonic() + 30
        while SegmentMembership.objects.filter(segment=edge).count() < len(edge_ids) and time.monotonic() < deadline:
            time.sleep(0.2)
        entered_edges = SegmentMembership.objects.filter(segment=edge).count()

        pending: dict[int, float] = {}  # probe customer → when its batch was committed (monotonic)
        fresh: list[float] = []
        order_pending: dict[int, float] = {}  # order probe customer → when its order's 201 came (monotonic)
        order_fresh: list[float] = []
        exits: dict[int, float] = {}  # edge customer → seconds after its edge moment it was seen gone
        lock = threading.Lock()
        # monotonic ↔ wall clock, to place the edge moments on the poller's clock
        wall_offset = time.time() - time.monotonic()

        def landed(segment_, waiting_on: dict[int, float], into: list[float]) -> None:
            with lock:
                waiting = list(waiting_on)
            if not waiting:
                return
            seen = set(
                SegmentMembership.objects.filter(segment=segment_, customer_id__in=waiting).values_list(
                    "customer_id", flat=True
                )
            )
            t = time.monotonic()
            with lock:
                for c in seen:
                    into.append(t - waiting_on.pop(c))

        def poll() -> None:
            from django.db import connection as conn

            try:
                while not stop.is_set():
                    landed(probe, pending, fresh)
                    landed(order_probe, order_pending, order_fresh)
                    left = [c for c in edge_ids if c not in exits]
                    if left:
                        still = set(
                            SegmentMembership.objects.filter(segment=edge, customer_id__in=left).values_list(
                                "customer_id", flat=True
                            )
                        )
                        t_wall = time.monotonic() + wall_offset
                        for c in left:
                            if c not in still:
                                exits[c] = t_wall - (edge_at[c] + dt.timedelta(days=1)).timestamp()
                    time.sleep(0.05)
            finally:
                conn.close()

        batch_size = 100
        senders = 2  # one HTTP client alone waits on each response: two keep the rate
        interval = batch_size * senders / args.rate
        started = time.monotonic()
        counts = [0] * senders
        probes_sent = [0]
        orders_sent = [0]  # probe orders whose membership is awaited
        posted = [0]  # orders posted (more than the above only when a merged-away id's survivor was ordered twice)

        def send(k: int) -> None:
            next_probe = started
            while time.monotonic() - started < args.duration and not abort.is_set():
                tick = time.monotonic()
                items = [
                    view(random.randint(1, high), "bench-load", dt.datetime.now(dt.UTC)) for _ in range(batch_size)
                ]
                probe_customer = None
                if k == 0 and tick >= next_probe:
                    probe_customer = random.randint(1, high)
                    items[0] = view(probe_customer, f"freshness-probe-{run}", dt.datetime.now(dt.UTC))
                    next_probe += 0.5
                done = poster.post(items)
                counts[k] += len(items)
                if probe_customer is not None:
                    probes_sent[0] += 1
                    with lock:
                        pending[probe_customer] = done
                pause = interval - (time.monotonic() - tick)
                if pause > 0:
                    time.sleep(pause)

        def send_orders() -> None:
            # Its own thread: an order takes longer than an event batch and must not slow the event load's pace.
            ordered: set[int] = set()  # customers given a probe order this run, i.e. already in (or on their way)
            next_order = started
            while time.monotonic() - started < args.duration and not abort.is_set():
                customer = random.randint(1, high)
                if customer in ordered:
                    continue
                ordered.add(customer)
                posted[0] += 1
                body = probe_order(customer, order_utm, f"bench-fresh-{run}-{posted[0]}", sku)
                done, recorded_on = poster.order(body)
                # A merged-away id records on its survivor: that is the membership row to wait for, unless the
                # survivor had a probe order already (then this order proves nothing and is not counted).
                if recorded_on == customer or recorded_on not in ordered:
                    ordered.add(recorded_on)
                    orders_sent[0] += 1
                    with lock:
                        order_pending[recorded_on] = done
                next_order = max(next_order + 0.5, time.monotonic())  # behind: no burst to catch up
                pause = next_order - time.monotonic()
                if pause > 0:
                    time.sleep(pause)

        def guarded(target, *args_) -> threading.Thread:
            def run_() -> None:
                try:
                    target(*args_)
                except BaseException:  # printed here and stopping everything: a dead thread must not go unnoticed
                    failed.append(f"{threading.current_thread().name}:\n{traceback.format_exc()}")
                    print(f"bench: thread {threading.current_thread().name} failed:", file=sys.stderr)
                    traceback.print_exc()
                    sys.stderr.flush()
                    abort.set()

            thread = threading.Thread(target=run_, name=f"{target.__name__}{args_ or ''}")
            thread.start()
            return thread

        poller = guarded(poll)
        threads = [guarded(send, k) for k in range(senders)] + [guarded(send_orders)]
        for t in threads:
            t.join()
        sent, probes, orders = sum(counts), probes_sent[0], orders_sent[0]
        elapsed = time.monotonic() - started
        # Let the last probes and the edges land (at most the targets).
        deadline = time.monotonic() + TARGET_EXIT_S + 30
        while (
            (pending or order_pending or len(exits) < len(edge_ids))
            and time.monotonic() < deadline
            and not abort.is_set()
        ):
            time.sleep(0.2)
        stop.set()
        poller.join()
        measured = not failed
    finally:
        stop.set()  # whatever ended the run (an exception here, ^C) ends the threads too
        abort.set()
        for p in helpers:
            p.terminate()
        for p in helpers:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:  # a worker in the middle of a pass
                p.kill()
        if server is not None:
            stop_server(server)
        if not measured:  # no figures: the run's segments go now (a finished run removes them after writing)
            for s in (probe, edge, order_probe, *typical):
                s.delete()
    if failed:
        sys.exit(f"bench: {len(failed)} thread(s) failed (traceback above); no figures written")

    def p95(values: list[float]) -> float:
        return round(statistics.quantiles(values, n=20)[18], 2) if len(values) >= 2 else round(max(values), 2)

    data = (
        f"{sizes}; {dynamic} dynamic segments (the 3 probes, {len(typical)} typical: "
        f"{', '.join(list(TYPICAL)[: args.segments])}); {sent:,} events in {elapsed:.0f} s "
        f"({sent / elapsed:,.0f}/s, 100-event batches, random customers by id) and {posted[0]} orders "
        f"({posted[0] / elapsed:.1f}/s, one line, POST /api/v1/orders/) through granian (1 worker), "
        "db_worker and run_scheduler as `make run` starts them, Redis cache, production settings"
    )
    command = (
        f"python bench/segments_freshness.py --rate {args.rate} --duration {args.duration} --segments {args.segments}"
    )
    results = {
        "segment freshness, qualifying event to membership p95, postgresql": {
            "value": p95(fresh) if fresh else None,
            "unit": "s",
            "target": f"<= {TARGET_FRESH_S}",
            "median": round(statistics.median(fresh), 2) if fresh else None,
            "max": round(max(fresh), 2) if fresh else None,
            "probes": probes,
            "landed": len(fresh),
            "data": data,
            "db": connection.vendor,
            "command": command,
        },
        "segment freshness, qualifying order to membership p95, postgresql": {
            "value": p95(order_fresh) if order_fresh else None,
            "unit": "s",
            "target": f"<= {TARGET_FRESH_S}",
            "median": round(statistics.median(order_fresh), 2) if order_fresh else None,
            "max": round(max(order_fresh), 2) if order_fresh else None,
            "probes": orders,
            "landed": len(order_fresh),
            "data": data,
            "db": connection.vendor,
            "command": command,
        },
        "segment freshness, relative-time exit after the moment p95, postgresql": {
            "value": p95(list(exits.values())) if exits else None,
            "unit": "s",
            "target": f"<= {TARGET_EXIT_S}",
            "max": round(max(exits.values()), 2) if exits else None,
            "customers": len(edge_ids),
            "entered": entered_edges,
            "left": len(exits),
            "data": data,
            "db": connection.vendor,
            "command": command,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results, indent=2, ensure_ascii=False))
    for s in (probe, edge, order_probe, *typical):  # every later run would rebuild this run's: leave none behind
        s.delete()


if __name__ == "__main__":
    main()
