"""Customer 360 throughput: the API (GET /api/v1/customers/{id}) and the page (GET /customers/{id}/).

Serves Kervan with granian (WSGI, as in production) on 127.0.0.1 against an already-filled database (e.g. the
1M customers / 10M orders made by `bench/generate_demo.py`), with the shared Redis cache a multi-process deployment
needs, then drives it with wrk at 16 connections over random customers, twice:

- uncached: customers nobody has read since the server started, each requested once (wrk walks a pool of 60,000
  for the API, 20,000 for the page, each thread its own share, in order), so every read builds the 360 from the
  database; the run reports what share of its requests were first reads, counted from the audit log;
- working set: another 5,000 random customers, each read once before the run (every read is served from the
  per-customer 360 cache, which any change to the customer forgets; see kervan/customers/cache.py).

    .venv/bin/python bench/customer360.py --database-url postgres://postgres@127.0.0.1:5432/kervan_bench \
        --duration 30 --connections 16 --workers 3

Writes bench/results/customer360.json. Needs Debian's wrk (apt-get install wrk).
"""

import argparse
import concurrent.futures
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from serving import start_server, stop_server  # bench/ is the script's folder

ROOT = Path(__file__).resolve().parent.parent

LUA = r"""
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
wrk.headers["%(header)s"] = "%(value)s"
%(request)s
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%.3f %%.3f %%d\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000, summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
"""


# Random customers of a small working set, or (walk) each customer of a big pool once, each wrk thread its own share.
RANDOM = """
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""
WALK = """
local threads = 0
setup = function(thread)
  thread:set("first", threads)
  threads = threads + 1
end
local n = 0
request = function()
  local index = (first + n * %(threads)d) %% #paths + 1
  n = n + 1
  return wrk.format("GET", paths[index])
end
"""
WRK_THREADS = 2
UNCACHED_READS = "each customer read once and never before (built from the database)"


def setup_django(database_url: str):
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    os.environ.setdefault("KERVAN_SECRET_KEY", "bench-secret-key-not-for-production")
    os.environ.setdefault("KERVAN_SSL_REDIRECT", "0")  # plain http on loopback: no redirect to https
    # One key drives all the load here; the per-key limit (600/min by default) would answer most of it with 429.
    os.environ.setdefault("KERVAN_API_RATE_LIMIT", "100000000")
    os.environ.setdefault("KERVAN_CACHE_BACKEND", "kervan.core.redis_cache.RedisCache")
    os.environ.setdefault("KERVAN_CACHE_LOCATION", "redis://127.0.0.1:6379/5")
    import django

    django.setup()


def credentials() -> tuple[str, str]:
    """An API key and a logged-in (2FA passed) session cookie for an Admin."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from kervan.accounts.actions import api_key_create
    from kervan.accounts.actors import Actor
    from kervan.accounts.models import User
    from kervan.accounts.permissions import area_keys
    from kervan.accounts.two_factor import SESSION_VERIFIED

    user, _ = User.objects.get_or_create(username="bench", defaults={"role": "admin"})
    user.set_password("bench-pw-not-secret")
    user.save()
    _, secret = api_key_create(actor=Actor.for_user(user), name="bench", scopes={d: "write" for d in area_keys()})
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session[SESSION_VERIFIED] = True
    session.create()
    return secret, session.session_key


def sample_ids(sizes: list[int], seed: int) -> list[list[int]]:
    """Disjoint random samples of active customers' ids, one per size."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM customers_customer WHERE merged_into_id IS NULL")
        ids = [row[0] for row in cursor.fetchall()]
    chosen = random.Random(seed).sample(ids, sum(sizes))
    samples, start = [], 0
    for size in sizes:
        samples.append(chosen[start : start + size])
        start += size
    return samples


def read_all(base: str, paths: list[str], header: str, value: str) -> None:
    """Read every path once (4 at a time), so each customer's 360 is in the cache before the measured run."""

    def read(path: str) -> int:
        request = urllib.request.Request(base + path, headers={header: value})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(read, paths))
    assert set(statuses) == {200}, set(statuses)


def run_wrk(
    url: str, paths: list[str], header: str, value: str, connections: int, duration: int, walk: bool = False
) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM core_auditlog")
        audit_before = cursor.fetchone()[0]
    with tempfile.TemporaryDirectory() as tmp:
        paths_file = Path(tmp) / "paths.txt"
        paths_file.write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "bench.lua"
        request = WALK % {"threads": WRK_THREADS} if walk else RANDOM
        script.write_text(LUA % {"paths": paths_file, "header": header, "value": value, "request": request})
        out = subprocess.run(
            [
                *("wrk", "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{duration}s", "--timeout", "5s"),
                *("-s", str(script), url),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    with connection.cursor() as cursor:  # every request wrote a "viewed" audit row: which were first reads?
        cursor.execute(
            "SELECT count(*), count(DISTINCT customer_id) FROM core_auditlog WHERE id > %s AND action = 'view'",
            [audit_before],
        )
        views, distinct = cursor.fetchone()
    match = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", out)
    requests, duration_us, p50, p95, p99, mean, errors = match.groups()
    return {
        "requests_per_s": round(int(requests) / (int(duration_us) / 1e6), 1),
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "mean_ms": float(mean),
        "errors": int(errors),
        "first_reads": round(distinct / views, 3) if views else None,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="threads per granian worker")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", default="1M customers, 10M orders")
    parser.add_argument(
        "--first-reads-only",
        action="store_true",
        help="only the uncached runs (each customer's first read); the working-set figures already in the results "
        "file are kept",
    )
    parser.add_argument("--api-pool", type=int, default=60_000, help="customers the uncached API run walks")
    parser.add_argument("--page-pool", type=int, default=20_000, help="customers the uncached page run walks")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "customer360.json"), help="results file")
    args = parser.parse_args()

    setup_django(args.database_url)
    from django.db import connection

    secret, session_key = credentials()
    working_set, uncached = {}, {}
    sets = 0 if args.first_reads_only else 5000
    working_set["api"], working_set["page"], uncached["api"], uncached["page"] = sample_ids(
        [sets, sets, args.api_pool, args.page_pool], args.seed
    )
    counts = {}
    with connection.cursor() as cursor:
        for table in ("customers_customer", "orders_order", "events_event"):
            cursor.execute(
                f"SELECT reltuples::bigint FROM pg_class WHERE relname = '{table}'"
                if connection.vendor == "postgresql"
                else f"SELECT count(*) FROM {table}"
            )
            counts[table] = cursor.fetchone()[0]
    from django.core.cache import cache

    cache.clear()  # start cold: nothing cached from an earlier run
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        check=True,
        env=os.environ.copy(),
    )
    server, base = start_server(
        port=args.port, workers=args.workers, threads=args.threads, env=os.environ.copy(), ready_path="/accounts/login/"
    )
    api_auth = ("Authorization", f"Bearer {secret}")
    page_auth = ("Cookie", f"sessionid={session_key}")
    try:
        results = {}
        for kind, auth, path in (("api", api_auth, "/api/v1/customers/{}"), ("page", page_auth, "/customers/{}/")):
            paths = [path.format(i) for i in uncached[kind]]
            results[f"{kind} uncached"] = run_wrk(base, paths, *auth, args.connections, args.duration, walk=True)
            if args.first_reads_only:
                continue
            paths = [path.format(i) for i in working_set[kind]]
            read_all(base, paths, *auth)
            results[kind] = run_wrk(base, paths, *auth, args.connections, args.duration)
    finally:
        stop_server(server)

    db = "postgresql" if args.database_url.startswith("postgres") else "sqlite"
    command = "  ".join(["python bench/customer360.py", *sys.argv[1:]]).replace("  ", " ")
    figures = {}
    labels = (
        (
            "api",
            "Customer 360 API",
            "working set of 5,000 customers, each read once before (served from the 360 cache)",
        ),
        (
            "page",
            "Customer 360 page",
            "working set of 5,000 customers, each read once before (served from the 360 cache)",
        ),
        ("api uncached", "Customer 360 API, uncached", UNCACHED_READS),
        ("page uncached", "Customer 360 page, uncached", UNCACHED_READS),
    )
    server_desc = f"{args.workers} granian workers x {args.threads} thread(s)"
    for kind, label, reads in labels:
        if kind not in results:
            continue
        r = results[kind]
        figures[f"{label} throughput, {db}"] = {
            "value": r["requests_per_s"],
            "unit": "requests/s",
            "target": ">= 600",
            "data": f"{args.data} (table sizes: {counts}); {reads}; {server_desc}, Redis cache",
            "db": db,
            "command": command,
            "connections": args.connections,
            "errors": r["errors"],
            "first_reads": r["first_reads"],
        }
        figures[f"{label} p95 latency, {db}"] = {
            "value": r["p95_ms"],
            "unit": "ms",
            "target": "<= 25",
            "data": f"{args.data} (table sizes: {counts}); {reads}; {server_desc}, Redis cache",
            "db": db,
            "command": command,
            "p50_ms": r["p50_ms"],
            "p99_ms": r["p99_ms"],
        }
    out = Path(args.out)
    kept = json.loads(out.read_text()) if out.exists() else {}  # figures not re-measured (and floors) stay
    for name, figure in figures.items():
        floor = kept.get(name, {}).get("floor")
        if floor is not None:  # the floor stays; its ratio follows the new figure
            figure["floor"], figure["ratio_to_floor"] = floor, round(figure["value"] / floor["value"], 2)
    out.write_text(json.dumps({**kept, **figures}, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
