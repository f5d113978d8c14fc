"""Today page latency: p50/p95 of GET / (a logged-in Admin, the whole page) on 1M customers / 10M orders.

Serves Kervan as in production (granian, config.settings.production: DEBUG off, the shared Redis cache, static
files through WhiteNoise's manifest) on 127.0.0.1 against `kervan_bench` (made by bench/generate_demo.py and
migrated), with the core clock set to --now (the generated data ends on 2026-11-20; by default the page is read at
18:00 that day, a Friday of Efsane Cuma, the busiest day of the data). Then, one request at a time: --warmup
requests, then --requests measured ones. The daily sales rollup is refreshed first, as the hourly schedule keeps it
(the time that takes, and the first page without it, are reported too).

    .venv/bin/python bench/today.py --database-url postgres://postgres@127.0.0.1:5432/kervan_bench

Writes bench/results/today.json.
"""

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from customer360 import credentials, setup_django  # bench/ is the script's folder
from serving import stop_server

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent


def start_server(*, port: int, env: dict) -> tuple[subprocess.Popen, str]:
    """granian (1 worker, 1 thread: the requests come one at a time) serving bench/today_wsgi.py: Kervan with the
    clock moved to KERVAN_BENCH_NOW. As bench/serving.py, with that application."""
    env = {**env, "PYTHONPATH": os.pathsep.join([str(BENCH), str(ROOT)])}
    command = [
        *(str(ROOT / ".venv/bin/granian"), "--interface", "wsgi", "--workers", "1", "--blocking-threads", "1"),
        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-ws", "today_wsgi:application"),
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(base + "/accounts/login/", timeout=1)
            return server, base
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"granian did not answer {base}")


def get(base: str, session_key: str) -> tuple[float, int, bytes]:
    request = urllib.request.Request(base + "/", headers={"Cookie": f"sessionid={session_key}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
        status = response.status
    return (time.perf_counter() - started) * 1000, status, body


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def card_times(now: dt.datetime, repeat: int = 20) -> dict[str, float]:
    """Each card's context built in this process (median ms of `repeat`): where the page's time goes."""
    from kervan.accounts.actors import Actor
    from kervan.core import clock
    from kervan.workspace.today import today_cards

    actor = Actor.system()
    times = {}
    with clock.frozen(now):
        for card in today_cards():
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                card.context(actor)
                samples.append((time.perf_counter() - started) * 1000)
            times[card.key] = round(statistics.median(samples), 1)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--now", default="2026-11-20T18:00:00+03:00", help="the clock of the measured server")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--data", default="1M customers, 10M orders")
    args = parser.parse_args()

    os.environ.setdefault("KERVAN_SSL_REDIRECT", "0")  # plain HTTP on loopback, as behind a proxy that ends TLS
    os.environ["KERVAN_BENCH_NOW"] = args.now
    setup_django(args.database_url)
    from django.core.cache import cache
    from django.db import connection

    from kervan.core import clock
    from kervan.orders.daily_sales import daily_sales_refresh
    from kervan.orders.models import DailySales

    now = dt.datetime.fromisoformat(args.now)
    _, session_key = credentials()
    counts = {}
    with connection.cursor() as cursor:
        for table in ("customers_customer", "orders_order", "events_event", "orders_return"):
            cursor.execute(f"SELECT reltuples::bigint FROM pg_class WHERE relname = '{table}'")
            counts[table] = cursor.fetchone()[0]
    cache.clear()
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"], cwd=ROOT, check=True, env=os.environ
    )

    # The rollup as a new install finds it (empty: the first page sums the missing days), then as the schedule keeps it.
    DailySales.objects.all().delete()
    server, base = start_server(port=args.port, env=os.environ.copy())
    try:
        first_ms, status, _ = get(base, session_key)
        assert status == 200, status
        with clock.frozen(now):
            started = time.perf_counter()
            refreshed = daily_sales_refresh()
            refresh_ms = (time.perf_counter() - started) * 1000
        for _ in range(args.warmup):
            get(base, session_key)
        times = []
        for _ in range(args.requests):
            ms, status, body = get(base, session_key)
            assert status == 200 and b'id="today-sales"' in body and b'id="today-orders_to_ship"' in body, status
            times.append(ms)
    finally:
        stop_server(server)
    cards = card_times(now)

    result = {
        "p50_ms": round(percentile(times, 0.50), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
        "p99_ms": round(percentile(times, 0.99), 1),
        "mean_ms": round(statistics.mean(times), 1),
        "first_page_without_rollup_ms": round(first_ms, 1),
        "rollup_refresh_ms": round(refresh_ms, 1),
        "rollup_days": refreshed,
        "card_context_median_ms": cards,
    }
    db = "postgresql" if args.database_url.startswith("postgres") else "sqlite"
    command = " ".join(["python bench/today.py", *sys.argv[1:]])
    figures = {
        f"Today page p95, {db}": {
            "value": result["p95_ms"],
            "unit": "ms",
            "target": "<= 300 ms",
            "data": (
                f"{args.data} (table sizes: {counts}); GET / as an Admin (every card), the whole page, "
                f"{args.requests} requests one at a time after {args.warmup} warm-up ones; clock at {args.now}; "
                "1 granian worker x 1 thread, config.settings.production, Redis cache"
            ),
            "db": db,
            "command": command,
            "p50_ms": result["p50_ms"],
            "p99_ms": result["p99_ms"],
            "mean_ms": result["mean_ms"],
            "first_page_without_rollup_ms": result["first_page_without_rollup_ms"],
            "rollup_refresh_ms": result["rollup_refresh_ms"],
            "card_context_median_ms": cards,
        }
    }
    (BENCH / "results" / "today.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
