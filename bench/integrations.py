"""Issue 15's figures on PostgreSQL: verified Shopify order webhooks accepted per second and the time until each is
processed (p95), and the backfill of 100k orders from a loopback Shopify API against its floor (the same orders
through the existing bulk import path).

    .venv/bin/python bench/integrations.py [--database-url postgres://…/kervan_intbench] [--only intake|backfill]

Intake: granian serves the app as in production (2 workers); wrk posts distinct, signed orders/create deliveries
(Shopify's sample with ids, numbers and customers varied). First at full speed with no worker processing (what the
intake alone accepts), then at a steady 500/s for 30 s with two `manage.py integrations_run` workers, for the time
from a delivery's arrival to its orders being written. Backfill: a loopback stand-in for Shopify's REST Admin API
(Link/page_info paging, the call-limit header) serves 100k orders (3 lines each, 20k customers); the backfill reads
and writes them in-process; the floor imports the same orders (other customers, another source) as one file.
"""

import argparse
import http.client
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flows_setup import PG, load, pct, setup_django, sql
from integrations_shop import SECRET, WRK_SCRIPT, order, signed_requests

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "integrations.json"
DEFAULT_URL = f"{PG}/kervan_intbench"
ACCEPT_FIGURE = "webhook intake: verified order webhooks accepted per second, postgresql"
PROCESS_FIGURE = "webhook intake: verified order webhook processed after it arrived, p95 at 500/s, postgresql"
BACKFILL_FIGURE = "backfill of 100k orders from a loopback API, postgresql"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connection(name: str, base_url: str):
    from kervan.core.models import Source
    from kervan.integrations.models import Connection

    existing = Connection.objects.filter(name=name).first()
    if existing:
        return existing
    source = Source.objects.create(key=f"bench-{name}-{int(time.time())}", name=name, kind=Source.Kind.SHOPIFY)
    made = Connection(platform="shopify", name=name, base_url=base_url, source=source)
    made.credentials = {"access_token": "shpat_bench", "webhook_secret": SECRET}
    made.save()
    return made


def wrk(url: str, requests_file: Path, *, seconds: int, connections: int, pause_ms: int) -> dict:
    script = Path(tempfile.mkdtemp()) / "deliveries.lua"
    script.write_text(WRK_SCRIPT)
    threads = 2
    path = "/" + url.split("/", 3)[3]
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url, "--",
         str(requests_file), str(threads), path, str(pause_ms)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_s": rate, "requests": total, "non_2xx": int(bad.group(1)) if bad else 0, "wrk": out}


def start_server(env: dict, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "2", "--blocking-threads", "4", "--log-level", "warning", "config.wsgi:application"],
        cwd=ROOT, env={**env, "KERVAN_ALLOWED_HOSTS": "127.0.0.1"},
    )  # fmt: skip
    for _ in range(100):
        try:  # any answer of the intake itself (a GET is 405): no page, so no static files are needed
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/integrations/hooks/probe/")
            if connection.getresponse().status in (404, 405):
                return server
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def workers(env: dict, n: int) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [sys.executable, "manage.py", "integrations_run", "--no-backfill", "--batch", "50"], cwd=ROOT, env=env
        )  # fmt: skip
        for _ in range(n)
    ]


def stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        p.terminate()
    for p in processes:
        p.wait(timeout=30)


def counts(connection_id: int) -> tuple[int, int]:
    ((received, waiting),) = sql(
        "SELECT count(*), count(*) FILTER (WHERE status IN ('pending', 'retrying')) FROM integrations_delivery "
        "WHERE connection_id = %s",
        [connection_id],
    )
    return received, waiting


def intake(env: dict) -> dict:
    hooks = connection("intake", "https://bench.myshopify.com")
    sql("DELETE FROM integrations_delivery WHERE connection_id = %s", [hooks.pk])
    work = Path(tempfile.mkdtemp())
    burst, steady = work / "burst.txt", work / "steady.txt"
    first = int(time.time()) % 1000 * 100_000  # a run's orders are new to the database
    signed_requests(burst, first, 20_000)
    signed_requests(steady, first + 20_000, 20_000)
    port = free_port()
    server = start_server(env, port)
    url = f"http://127.0.0.1:{port}/integrations/hooks/{hooks.token}/"
    figures = {}
    try:
        full = wrk(url, burst, seconds=15, connections=16, pause_ms=0)
        received, waiting = counts(hooks.pk)
        print(f"bench: intake alone: {full['requests_per_s']:.0f}/s, {full['non_2xx']} non-2xx, {received} stored")
        started = time.monotonic()
        running = workers(env, 2)
        while counts(hooks.pk)[1]:
            time.sleep(1)
        drain = time.monotonic() - started
        print(f"bench: backlog of {received} processed in {drain:.0f} s ({received / drain:.0f}/s)")
        since = sql("SELECT now()")[0][0]
        steady_run = wrk(url, steady, seconds=30, connections=10, pause_ms=20)  # 10 × (1000 / 20) = 500/s
        deadline = time.monotonic() + 600
        while counts(hooks.pk)[1] and time.monotonic() < deadline:
            time.sleep(1)
        stop(running)
        latencies = [
            row[0]
            for row in sql(
                "SELECT extract(epoch FROM processed_at - received_at) FROM integrations_delivery "
                "WHERE connection_id = %s AND received_at >= %s AND status = 'done'",
                [hooks.pk, since],
            )
        ]
        statuses = dict(sql("SELECT status, count(*) FROM integrations_delivery WHERE connection_id = %s "
                            "GROUP BY status", [hooks.pk]))  # fmt: skip
    finally:
        server.terminate()
        server.wait()
    command = ".venv/bin/python bench/integrations.py --only intake"
    figures[ACCEPT_FIGURE] = {
        "value": round(full["requests_per_s"]), "unit": "deliveries/s", "target": ">= 500",
        "data": "Shopify orders/create sample varied: 20k distinct signed deliveries, wrk -t2 -c16 -d15s, granian 2 "
                "workers, no processing worker", "db": "postgresql", "command": command,
        "detail": {"non_2xx": full["non_2xx"], "stored": received, "backlog_drained_per_s": round(received / drain),
                   "load": load()},
    }  # fmt: skip
    figures[PROCESS_FIGURE] = {
        "value": round(pct(latencies, 95), 2) if latencies else None, "unit": "s", "target": "<= 5",
        "data": "500 signed orders/create deliveries/s for 30 s (wrk -c10, 20 ms pause), 2 integrations_run workers",
        "db": "postgresql", "command": command,
        "detail": {"accepted_per_s": round(steady_run["requests_per_s"]), "processed": len(latencies),
                   "p50_s": round(pct(latencies, 50), 2) if latencies else None,
                   "max_s": round(max(latencies), 2) if latencies else None, "statuses": statuses},
    }  # fmt: skip
    return figures


def backfill(orders: int) -> dict:
    from kervan.accounts.actors import Actor
    from kervan.integrations import history
    from kervan.integrations.actions import backfill_start
    from kervan.integrations.backfill import backfills_run
    from kervan.integrations.models import Backfill
    from kervan.integrations.platforms.shopify import orders as shopify_orders

    port = free_port()
    api = subprocess.Popen([sys.executable, str(ROOT / "bench" / "integrations_shop.py"), str(port), str(orders)])
    time.sleep(1.0)
    try:
        shop = connection(f"backfill-{int(time.time())}", f"http://127.0.0.1:{port}")
        run = backfill_start(actor=Actor.system(), connection=shop, kinds=["orders"])
        started = time.perf_counter()
        while Backfill.objects.get(pk=run.pk).status not in ("done", "failed"):
            backfills_run(budget=600, worker="bench")
        elapsed = time.perf_counter() - started
    finally:
        api.terminate()
    run.refresh_from_db()
    print(f"bench: backfill {run.status} in {elapsed:.1f} s: {run.counts} {run.error}")
    # The floor: the same orders (other customers, another source) as one file through the bulk import.
    floor_shop = connection(f"floor-{int(time.time())}", "http://127.0.0.1:9")
    key = floor_shop.source.key
    records = [r for n in range(orders) for r in shopify_orders.order_records(order(n, prefix="f"), key)
               if type(r).__name__ == "StoreOrder"]  # fmt: skip
    started = time.perf_counter()
    floor = history.orders_import(floor_shop, records, label="bench floor")
    floor_s = time.perf_counter() - started
    print(f"bench: floor (bulk import of the same orders) {floor_s:.1f} s: {floor}")
    return {
        BACKFILL_FIGURE: {
            "value": round(elapsed, 1), "unit": "s", "target": "<= 60",
            "data": f"{orders:,} Shopify orders (3 lines, 20k customers) from a loopback REST Admin API, 250 per page",
            "db": "postgresql", "command": ".venv/bin/python bench/integrations.py --only backfill",
            "floor": {"value": round(floor_s, 1), "unit": "s", "ratio": round(elapsed / floor_s, 2),
                      "what": "the same orders, mapped, written as one file through the history import (bulk path)"},
            "detail": {"status": run.status, "counts": run.counts, "pages": run.pages, "load": load()},
        }
    }  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--only", choices=["intake", "backfill"])
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    env = setup_django(args.database_url)
    figures = {}
    if args.only in (None, "intake"):
        figures.update(intake(env))
    if args.only in (None, "backfill"):
        figures.update(backfill(args.orders))
    current = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    current.update(figures)
    RESULTS.write_text(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "wrk"} for k, v in current.items()},
                                  indent=2, ensure_ascii=False, default=str) + "\n")  # fmt: skip
    for name, figure in figures.items():
        print(f"bench: {name}: {figure['value']} {figure['unit']} (target {figure['target']})")


if __name__ == "__main__":
    main()
