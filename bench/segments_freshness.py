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
        self.url = base + "/api/v1/events/batch"
        self.key = key

    def post(self, items: list[dict]) -> float:
        body = json.dumps({"batch": items}).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            if response.status != 202:
                raise RuntimeError(f"batch refused: {response.status}")
        return time.monotonic()


def view(customer_id: int, category: str, at: dt.datetime) -> dict:
    return {
        "type": "track",
        "event_id": str(uuid.uuid4()),
        "name": "Viewed Product",
        "customer_id": customer_id,
        "occurred_at": at.isoformat(),
        "properties": {"category": category, "product_id": random.randint(1, 200)},
    }


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
    from kervan.core.models import ScheduledJob
    from kervan.customers.models import Customer
    from kervan.segments.models import Segment, SegmentMembership, SegmentTouch

    cache.clear()
    run = uuid.uuid4().hex[:6]
    probe = segment(f"bench freshness probe {run}", probe_definition(f"freshness-probe-{run}"))
    edge = segment(f"bench freshness edge {run}", probe_definition(f"freshness-edge-{run}"))
    typical = [
        segment(f"bench freshness {name}", {"match": "all", "conditions": conditions})
        for name, conditions in list(TYPICAL.items())[: args.segments]
    ]
    dynamic = Segment.objects.filter(kind=Segment.Kind.DYNAMIC).count()
    high = Customer.objects.order_by("-pk").values_list("pk", flat=True).first()
    _, key = api_key_create(actor=Actor.system(), name=f"bench freshness {run}", scopes={"events": "write"})
    ScheduledJob.objects.all().delete()  # the schedules start from now, not from a stale run long ago
    SegmentTouch.objects.all().delete()  # nor from an earlier run's backlog

    log = open(ROOT / "var" / "bench_freshness.log", "w")  # noqa: SIM115 (kept open for the processes' lifetime)
    server, base = start_server(port=args.port, workers=1, env=env, ready_path="/accounts/login/", threads=4, log=log)
    helpers = [
        subprocess.Popen([sys.executable, "manage.py", *cmd], cwd=ROOT, env=env, stdout=log, stderr=log)
        for cmd in (["db_worker", "-v", "0"], ["run_scheduler"])
    ]
    poster = Poster(base, key)
    try:
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
        exits: dict[int, float] = {}  # edge customer → seconds after its edge moment it was seen gone
        lock = threading.Lock()
        stop = threading.Event()
        # monotonic ↔ wall clock, to place the edge moments on the poller's clock
        wall_offset = time.time() - time.monotonic()

        def poll() -> None:
            from django.db import connection as conn

            while not stop.is_set():
                with lock:
                    waiting = dict(pending)
                if waiting:
                    seen = set(
                        SegmentMembership.objects.filter(segment=probe, customer_id__in=list(waiting)).values_list(
                            "customer_id", flat=True
                        )
                    )
                    t = time.monotonic()
                    with lock:
                        for c in seen:
                            fresh.append(t - pending.pop(c))
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
            conn.close()

        poller = threading.Thread(target=poll)
        poller.start()
        batch_size = 100
        senders = 2  # one HTTP client alone waits on each response: two keep the rate
        interval = batch_size * senders / args.rate
        started = time.monotonic()
        counts = [0] * senders
        probes_sent = [0]

        def send(k: int) -> None:
            next_probe = started
            while time.monotonic() - started < args.duration:
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

        threads = [threading.Thread(target=send, args=(k,)) for k in range(senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent, probes = sum(counts), probes_sent[0]
        elapsed = time.monotonic() - started
        # Let the last probes and the edges land (at most the targets).
        deadline = time.monotonic() + TARGET_EXIT_S + 30
        while (pending or len(exits) < len(edge_ids)) and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        poller.join()
    finally:
        for p in helpers:
            p.terminate()
        for p in helpers:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:  # a worker in the middle of a pass
                p.kill()
        stop_server(server)

    def p95(values: list[float]) -> float:
        return round(statistics.quantiles(values, n=20)[18], 2) if len(values) >= 2 else round(max(values), 2)

    data = (
        f"1M customers, 10M orders; {dynamic} dynamic segments (the 2 probes, {len(typical)} typical: "
        f"{', '.join(list(TYPICAL)[: args.segments])}); {sent:,} events in {elapsed:.0f} s "
        f"({sent / elapsed:,.0f}/s, 100-event batches, random customers by id) through granian (1 worker), "
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
    for s in (probe, edge, *typical):  # the run's segments would be rebuilt by every later run: leave none behind
        s.delete()


if __name__ == "__main__":
    main()
