"""Event ingestion throughput: POST /api/v1/events/batch with 100-event batches, on PostgreSQL.

Creates (if needed) and migrates the database, pre-creates customers with email and visitor-id identities, serves
Kervan with granian on 127.0.0.1 (config.settings.production: DEBUG off, a throwaway KERVAN_SECRET_KEY) and drives
it with wrk for --duration seconds. Each request is a batch of --batch events with fresh event ids: 30% by
customer_id, 30% by a known email, 20% by a known visitor id, 20% by a never-identified visitor id; timestamps
move forward, so every customer's CustomerStats.last_event_at keeps moving (within its one-minute granularity).

    .venv/bin/python bench/ingest.py --duration 45 --workers 3 --connections 6

Also measures where a batch's time goes in-process (`--breakdown`, on by default): parsing + validation,
preparation, customer resolution, insert and the stats update, each as milliseconds per 100-event batch.
Writes bench/results/ingest.json. Needs Debian's wrk (apt-get install wrk).
"""

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from serving import start_server, stop_server  # bench/ is the script's folder

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kervan_ingest_bench"

LUA = r"""
local function load(path)
  local t = {}
  for line in io.lines(path) do t[#t + 1] = line end
  return t
end
local ids, emails, known_anon = load("%(ids)s"), load("%(emails)s"), load("%(anon)s")
local names = {"Viewed Page", "Viewed Product", "Added to Cart", "Started Checkout"}
local counter, thread_tag = 0, ""
local start = os.time()

local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tag", "%(run)s-" .. thread_count)
end

function init(args)
  thread_tag = tag or "%(run)s"
  math.randomseed(%(seed)d + #thread_tag)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(secret)s"

request = function()
  counter = counter + 1
  local now = os.time()
  local base = os.date("!%%Y-%%m-%%dT%%H:%%M:%%S", now - 120)
  local parts = {}
  for i = 1, %(batch)d do
    local r = math.random(100)
    local who
    if r <= 30 then who = '"customer_id":' .. ids[math.random(#ids)]
    elseif r <= 60 then who = '"email":"' .. emails[math.random(#emails)] .. '"'
    elseif r <= 80 then who = '"anonymous_id":"' .. known_anon[math.random(#known_anon)] .. '"'
    else who = '"anonymous_id":"v-' .. thread_tag .. '-' .. math.random(50000) .. '"' end
    local product = math.random(5000)
    parts[i] = string.format(
      '{"type":"track","event_id":"%%s-%%d-%%d","name":"%%s","occurred_at":"%%s.%%03d+00:00",' ..
      '"properties":{"product_id":"p-%%d","price":%%d.90,"url":"/urun/p-%%d"},%%s}',
      thread_tag, counter, i, names[(i %% 4) + 1], base, (counter * 7 + i) %% 1000, product, product %% 900 + 50,
      product, who)
  end
  return wrk.format(nil, "/api/v1/events/batch", nil, '{"batch":[' .. table.concat(parts, ",") .. ']}')
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%.3f %%.3f %%d %%d\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000, summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
"""


def ensure_database(url: str) -> None:
    import psycopg

    from config.database import database_from_url

    db = database_from_url(url)
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname="postgres", autocommit=True
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)


def setup_django(url: str, cache: str = "redis") -> None:
    os.environ["DATABASE_URL"] = url
    if cache == "redis":
        # Several web workers need a shared cache (a per-process one never hears of another's changes): the
        # production shape. API keys and the 360 versions then live in Redis, as they would in production.
        os.environ.setdefault("KERVAN_CACHE_BACKEND", "kervan.core.redis_cache.RedisCache")
        os.environ.setdefault("KERVAN_CACHE_LOCATION", "redis://127.0.0.1:6379/6")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    os.environ.setdefault("KERVAN_SECRET_KEY", "bench-secret-key-not-for-production")
    os.environ.setdefault("KERVAN_SSL_REDIRECT", "0")  # plain http on loopback: no redirect to https
    import django

    django.setup()


def ensure_customers(n: int) -> tuple[list[int], list[str], list[str]]:
    """n customers (bench-<i>@example.com) with email and visitor-id identities and a stats row."""
    from django.db import transaction

    from kervan.customers.models import Customer, CustomerStats, Identity

    existing = Customer.objects.filter(email__startswith="bench-").count()
    if existing < n:
        with transaction.atomic():
            batch = [
                Customer(email=f"bench-{i}@example.com", first_name=f"Bench{i}", search_key=f"bench{i}")
                for i in range(existing, n)
            ]
            Customer.objects.bulk_create(batch, batch_size=5000)
            made = list(Customer.objects.filter(email__in=[c.email for c in batch]).values_list("pk", "email"))
            Identity.objects.bulk_create(
                [Identity(customer_id=pk, kind="email", value=email) for pk, email in made]
                + [Identity(customer_id=pk, kind="anonymous", value=f"known-{pk}") for pk, _ in made],
                batch_size=5000,
            )
            CustomerStats.objects.bulk_create([CustomerStats(customer_id=pk) for pk, _ in made], batch_size=5000)
        # A bulk load leaves the planner's statistics empty (autovacuum catches up later): without them it picks
        # sequential scans for the identity lookups and the stats update.
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    rows = list(Customer.objects.filter(email__startswith="bench-").order_by("pk").values_list("pk", "email")[:n])
    return [pk for pk, _ in rows], [email for _, email in rows], [f"known-{pk}" for pk, _ in rows]


def api_key() -> str:
    from kervan.accounts.actions import api_key_create
    from kervan.accounts.actors import Actor

    _, secret = api_key_create(actor=Actor.system(), name="bench ingest", scopes={"events": "write"})
    return secret


def event_count() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_event")
        return cursor.fetchone()[0]


def breakdown(ids, emails, anon, batches: int, size: int) -> dict:
    """CPU milliseconds per batch in each phase of the batch path, run in this process (no HTTP, no auth).

    Counted as CPU, not wall time, so other work on the machine does not inflate them: this process's own CPU
    (time.thread_time) and its PostgreSQL backend's (/proc/<pid>/schedstat, nanoseconds).
    """
    import random
    import uuid

    import orjson
    from django.db import connection

    from kervan.accounts.actors import Actor
    from kervan.events import actions, ingest
    from kervan.events.schemas import BatchIn

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    def db_cpu() -> float:
        return int(Path(f"/proc/{backend}/schedstat").read_text().split()[0]) / 1e9

    spent: dict[str, list[float]] = {}

    def add(label, app, db):
        entry = spent.setdefault(label, [0.0, 0.0])
        entry[0] += app
        entry[1] += db

    def timed(module, name, label):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            a0, d0 = time.thread_time(), db_cpu()
            try:
                return original(*args, **kwargs)
            finally:
                add(label, time.thread_time() - a0, db_cpu() - d0)

        setattr(module, name, wrapper)
        return original

    phases = [
        (ingest, "prepare", "prepare (offsets, emails, properties size)"),
        (ingest, "lookup", "look up customer ids and identities (1 query)"),
        (ingest, "resolve_known", "resolve each event's customer (no query when all are known)"),
        (actions, "events_store", "insert events + move CustomerStats.last_event_at (1 statement, no BEGIN/COMMIT)"),
    ]
    originals = [(module, name, timed(module, name, label)) for module, name, label in phases]
    rng = random.Random(3)
    actor = Actor(scopes={"events": "write"})
    base = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
    try:
        for b in range(batches):
            items = []
            for i in range(size):
                r = rng.randrange(100)
                if r < 30:
                    who = {"customer_id": rng.choice(ids)}
                elif r < 60:
                    who = {"email": rng.choice(emails)}
                elif r < 80:
                    who = {"anonymous_id": rng.choice(anon)}
                else:
                    who = {"anonymous_id": f"v-{rng.randrange(9999)}"}
                items.append(
                    {
                        "type": "track",
                        "event_id": str(uuid.uuid4()),
                        "name": "Viewed Product",
                        "occurred_at": (base + dt.timedelta(milliseconds=b * size + i)).isoformat(),
                        "properties": {"product_id": f"p-{i}", "price": 349.9, "url": f"/urun/p-{i}"},
                        **who,
                    }
                )
            body = orjson.dumps({"batch": items})
            a0, d0 = time.thread_time(), db_cpu()
            payload = BatchIn.model_validate(json.loads(body))
            add("parse + validate (json.loads, pydantic)", time.thread_time() - a0, 0.0)
            actions.events_ingest(actor=actor, items=payload.batch)
            add("total: parse, validate, events_ingest", time.thread_time() - a0, db_cpu() - d0)
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
    return {
        label: {"app_cpu_ms": round(app / batches * 1000, 3), "db_cpu_ms": round(db / batches * 1000, 3)}
        for label, (app, db) in spent.items()
    }


def cpu_seconds(pids) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / ticks


def postgres_cpu(url: str) -> dict[int, float]:
    """CPU seconds so far of the PostgreSQL processes working for this benchmark: the backends connected to its
    database (the workers', autovacuum's) and the shared WAL writer, checkpointer and background writer. Other
    helpers' databases on the same server are left out."""
    import psycopg

    from config.database import database_from_url

    db = database_from_url(url)
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname=db["NAME"], autocommit=True
    ) as conn:
        own = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        pids = [
            pid
            for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE (datname = current_database() OR backend_type IN"
                " ('walwriter', 'checkpointer', 'background writer')) AND pid <> pg_backend_pid()"
            )
        ]
    return {pid: cpu_seconds([pid]) for pid in pids if pid != own}


def postgres_cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def redis_pids() -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "redis-server":
                    out.append(int(entry.name))
            except OSError:
                pass
    return out


def children_of(pid: int) -> list[int]:
    out = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return out


def run_wrk(base: str, script: Path, connections: int, duration: int, threads: int = 1) -> dict:
    started = time.time()
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+) (\d+)", out)
    if not match:
        raise SystemExit(f"wrk said:\n{out}")
    requests, duration_us, p50, p95, p99, mean, bad_status, socket_errors = match.groups()
    return {
        "requests": int(requests),
        "seconds": int(duration_us) / 1e6,
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "mean_ms": float(mean),
        "non_2xx": int(bad_status),
        "socket_errors": int(socket_errors),
        "wall": time.time() - started,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="threads per granian worker")
    parser.add_argument("--connections", type=int, default=6)
    parser.add_argument("--duration", type=int, default=45)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument(
        "--cache", default="redis", choices=["redis", "memory"], help="the cache the workers share (redis) or not"
    )
    parser.add_argument("--no-breakdown", action="store_true")
    parser.add_argument("--breakdown-only", action="store_true", help="print the in-process breakdown; no wrk run")
    parser.add_argument("--breakdown-batches", type=int, default=100)
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/ingest.json")
    args = parser.parse_args()

    ensure_database(args.database_url)
    setup_django(args.database_url, args.cache)
    from django.db import connection

    ids, emails, anon = ensure_customers(args.customers)
    secret = api_key()
    phases = (
        None if args.no_breakdown else breakdown(ids, emails, anon, batches=args.breakdown_batches, size=args.batch)
    )
    if args.breakdown_only:
        print(json.dumps(phases, indent=2))
        return
    events_before = event_count()
    connection.close()

    env = {**os.environ, "KERVAN_API_RATE_LIMIT": "100000000"}
    server, base = start_server(
        port=args.port, workers=args.workers, threads=args.threads, env=env, ready_path="/events/tracker.js"
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            files = {}
            for label, values in (("ids", ids), ("emails", emails), ("anon", anon)):
                files[label] = Path(tmp) / f"{label}.txt"
                files[label].write_text("\n".join(map(str, values)) + "\n")
            script = Path(tmp) / "ingest.lua"

            def write_script(run: str) -> None:
                script.write_text(
                    LUA
                    % {
                        **{k: str(v) for k, v in files.items()},
                        "secret": secret,
                        "batch": args.batch,
                        "run": run,
                        "seed": time.time_ns() % 1_000_000,
                    }
                )

            write_script(f"w{time.time_ns()}")
            run_wrk(base, script, 2, 5)  # warm-up: connections, imports, caches
            write_script(f"r{time.time_ns()}")
            load_before = os.getloadavg()
            app = children_of(server.pid)
            redis = redis_pids() if args.cache == "redis" else []
            pg_before, cpu_app, t0 = postgres_cpu(args.database_url), cpu_seconds(app), time.time()
            cpu_redis = cpu_seconds(redis)
            wrk_usage = os.times()
            result = run_wrk(base, script, args.connections, args.duration)
            wall = time.time() - t0
            wrk_cpu = (os.times().children_user + os.times().children_system) - (
                wrk_usage.children_user + wrk_usage.children_system
            )
            cpu = {
                "granian workers": cpu_seconds(app) - cpu_app,
                "postgres (this database + WAL writer)": postgres_cpu_delta(pg_before, postgres_cpu(args.database_url)),
                "wrk": wrk_cpu,
            }
            if redis:
                cpu["redis-server (all its clients)"] = cpu_seconds(redis) - cpu_redis
            load_after = os.getloadavg()
    finally:
        stop_server(server)

    stored = event_count() - events_before
    ok = result["requests"] - result["non_2xx"]
    events_per_s = ok * args.batch / result["seconds"]
    cpu_per_batch = {k: round(v / max(result["requests"], 1) * 1000, 2) for k, v in cpu.items()}
    summary = {
        "events_per_s": round(events_per_s),
        "requests_per_s": round(result["requests"] / result["seconds"], 1),
        "stored_events_per_s (all runs incl. warm-up, from the table)": round(stored / wall),
        **result,
        "cpu_ms_per_batch": cpu_per_batch,
        "cpu_utilisation_of_2_cores": round(sum(cpu.values()) / wall / 2, 2),
        # What the same CPU cost per batch would give with both cores free for Kervan, PostgreSQL and wrk.
        "cpu_bound_ceiling_events_per_s_on_2_free_cores": round(2 * args.batch / (sum(cpu_per_batch.values()) / 1000)),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "breakdown_ms_per_batch": phases,
    }
    print(json.dumps(summary, indent=2))
    if args.no_write:
        return
    command = "  ".join([".venv/bin/python bench/ingest.py", *sys.argv[1:]]).replace("  ", " ")
    data = (
        f"{args.customers} pre-created customers; {args.batch}-event batches (30% customer_id, 30% email, "
        f"20% known visitor id, 20% new visitor id); {args.workers} granian workers x {args.threads} thread(s) "
        f"(config.settings.production, DEBUG off, {'Redis' if args.cache == 'redis' else 'per-process memory'} "
        f"cache), wrk with {args.connections} connections for {args.duration}s; "
        f"2 shared cores, load average before {summary['load_average_before']}"
    )
    common = {"data": data, "db": "postgresql", "command": command}
    figures = {
        "event ingestion throughput, postgresql": {
            "value": summary["events_per_s"],
            "unit": "events/s",
            "target": ">= 25000",
            **common,
            "requests_per_s": summary["requests_per_s"],
            "non_2xx": result["non_2xx"],
            "socket_errors": result["socket_errors"],
            "cpu_ms_per_batch": cpu_per_batch,
            "cpu_utilisation_of_2_cores": summary["cpu_utilisation_of_2_cores"],
            "cpu_bound_ceiling_events_per_s_on_2_free_cores": summary["cpu_bound_ceiling_events_per_s_on_2_free_cores"],
        },
        "event ingestion batch p99 latency, postgresql": {
            "value": result["p99_ms"],
            "unit": "ms",
            "target": "<= 200",
            **common,
            "p50_ms": result["p50_ms"],
            "p95_ms": result["p95_ms"],
        },
        "event ingestion batch p50 latency, postgresql": {
            "value": result["p50_ms"],
            "unit": "ms",
            "target": "",
            **common,
        },
    }
    if phases:
        total = phases["total: parse, validate, events_ingest"]
        figures["event ingestion CPU per 100-event batch, postgresql"] = {
            "value": round(total["app_cpu_ms"] + total["db_cpu_ms"], 2),
            "unit": f"CPU ms per {args.batch}-event batch (app + PostgreSQL), in-process, no HTTP/auth",
            "target": "",
            **common,
            "phases": phases,
        }
    out = ROOT / "bench" / "results" / "ingest.json"
    out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
