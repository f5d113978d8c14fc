"""Customer 360 throughput: the API (GET /api/v1/customers/{id}) and the page (GET /customers/{id}/).

Serves Kervan with gunicorn on 127.0.0.1 against an already-filled database (e.g. the 1M customers / 10M orders
made by `bench/generate_demo.py`), then drives it with wrk at 16 connections over random customers.

    .venv/bin/python bench/customer360.py --database-url postgres://postgres@127.0.0.1:5432/kervan_bench \
        --duration 30 --connections 16 --workers 3

Writes bench/results/customer360.json. Needs Debian's wrk (apt-get install wrk).
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from serving import start_gunicorn, stop_gunicorn  # noqa: E402 (bench/ is the script's folder)

LUA = r"""
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
wrk.headers["%(header)s"] = "%(value)s"
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%.3f %%.3f %%d\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000, summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
"""


def setup_django(database_url: str):
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    os.environ.setdefault("KERVAN_SECRET_KEY", "bench-secret-key-not-for-production")
    # One key drives all the load here; the per-key limit (600/min by default) would answer most of it with 429.
    os.environ.setdefault("KERVAN_API_RATE_LIMIT", "100000000")
    import django

    django.setup()


def credentials() -> tuple[str, str]:
    """An API key and a logged-in (2FA passed) session cookie for an Admin."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from kervan.accounts.models import ApiKey, User
    from kervan.accounts.permissions import Domain
    from kervan.accounts.two_factor import SESSION_VERIFIED

    user, _ = User.objects.get_or_create(username="bench", defaults={"role": "admin"})
    user.set_password("bench-pw-not-secret")
    user.save()
    prefix, secret = ApiKey.generate_secret()
    ApiKey.objects.create(
        name="bench",
        prefix=prefix,
        key_hash=ApiKey.hash_secret(secret),
        scopes={d: "write" for d in Domain.values},
        created_by=user,
    )
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session[SESSION_VERIFIED] = True
    session.create()
    return secret, session.session_key


def sample_ids(n: int, seed: int) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM customers_customer")
        low, high = cursor.fetchone()
    rng = random.Random(seed)
    return [rng.randint(low, high) for _ in range(n)]


def run_wrk(url: str, paths: list[str], header: str, value: str, connections: int, duration: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        paths_file = Path(tmp) / "paths.txt"
        paths_file.write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "bench.lua"
        script.write_text(LUA % {"paths": paths_file, "header": header, "value": value})
        out = subprocess.run(
            ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--timeout", "5s", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    match = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", out)
    requests, duration_us, p50, p95, p99, mean, errors = match.groups()
    return {
        "requests_per_s": round(int(requests) / (int(duration_us) / 1e6), 1),
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "mean_ms": float(mean),
        "errors": int(errors),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", default="1M customers, 10M orders")
    args = parser.parse_args()

    setup_django(args.database_url)
    from django.db import connection

    secret, session_key = credentials()
    ids = sample_ids(5000, args.seed)
    counts = {}
    with connection.cursor() as cursor:
        for table in ("customers_customer", "orders_order", "events_event"):
            cursor.execute(
                f"SELECT reltuples::bigint FROM pg_class WHERE relname = '{table}'"
                if connection.vendor == "postgresql"
                else f"SELECT count(*) FROM {table}"
            )
            counts[table] = cursor.fetchone()[0]
    connection.close()
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        check=True,
        env=os.environ.copy(),
    )
    server, base = start_gunicorn(
        port=args.port, workers=args.workers, env=os.environ.copy(), ready_path="/accounts/login/"
    )
    try:
        results = {}
        api_paths = [f"/api/v1/customers/{i}" for i in ids]
        page_paths = [f"/customers/{i}/" for i in ids]
        run_wrk(base, api_paths[:200], "Authorization", f"Bearer {secret}", 4, 3)  # warm-up
        results["api"] = run_wrk(base, api_paths, "Authorization", f"Bearer {secret}", args.connections, args.duration)
        run_wrk(base, page_paths[:200], "Cookie", f"sessionid={session_key}", 4, 3)
        results["page"] = run_wrk(
            base, page_paths, "Cookie", f"sessionid={session_key}", args.connections, args.duration
        )
    finally:
        stop_gunicorn(server)

    db = "postgresql" if args.database_url.startswith("postgres") else "sqlite"
    command = "  ".join(["python bench/customer360.py", *sys.argv[1:]]).replace("  ", " ")
    data = f"{args.data} (table sizes: {counts})"
    figures = {}
    for kind, label in (("api", "Customer 360 API"), ("page", "Customer 360 page")):
        r = results[kind]
        figures[f"{label} throughput"] = {
            "value": r["requests_per_s"],
            "unit": "requests/s",
            "target": ">= 600",
            "data": data,
            "db": db,
            "command": command,
            "connections": args.connections,
            "workers": args.workers,
            "errors": r["errors"],
        }
        figures[f"{label} p95 latency"] = {
            "value": r["p95_ms"],
            "unit": "ms",
            "target": "<= 25",
            "data": data,
            "db": db,
            "command": command,
            "p50_ms": r["p50_ms"],
            "p99_ms": r["p99_ms"],
        }
    out = ROOT / "bench" / "results" / "customer360.json"
    out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
