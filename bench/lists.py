"""Every list the UI and API offer (customers, orders, products, events), each sort and filter: first page and a deep
page, through the API and the page, one request at a time, against the floor of one hand-written SQL statement.

Serves Kervan as bench/customer360.py does (granian, production settings, `--workers` processes, Redis cache) on an
already-filled database (the 1M customers / 10M orders of `bench/generate_demo.py`, or a SQLite file it made), then
for each case:

- first page: the request, `--repeat` times after one untimed warm-up; median and p95;
- deep page: follows the list's cursor `--deep` pages (the API's next_cursor; the page's "Show more" link, fetched as
  htmx does), then times the request for that page the same way;
- floor: the same rows (checked: the same ids as the API's page, in the same order) by one hand-written SQL statement
  run in this process on the same database, timed the same way, in the same run. The floor's keyset is a row
  comparison, (key, id) < (v, id), the best PostgreSQL can do.

    .venv/bin/python bench/lists.py --database-url postgres://postgres@127.0.0.1:5432/kervan_bench
    .venv/bin/python bench/lists.py --database-url sqlite:////work/main/var/bench/demo_sqlite.sqlite3 \\
        --data "100k customers, 1M orders"
    .venv/bin/python bench/lists.py --database-url ... --only customer      # the cases whose name has this

Writes bench/results/lists.json (merged with the figures of the other database already there). A list the build
does not have (no URL) is skipped and named at the end. Heavy: run it alone.
"""

import argparse
import html
import http.client
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from customer360 import credentials, setup_django  # bench/ is the script's folder
from lists_cases import adapt, customer_cases, event_cases, order_cases, product_cases
from serving import start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "lists.json"


# ---------------------------------------------------------------------------------------------------------------
# Timing.


class Http:
    """One keep-alive connection to the server, one request at a time."""

    def __init__(self, base: str, headers: dict):
        self.host, port = base.removeprefix("http://").split(":")
        self.port = int(port)
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.headers = headers

    def get(self, path: str, params: dict, extra: dict | None = None) -> tuple[float, int, bytes]:
        url = path + ("?" + urlencode(params, doseq=True) if params else "")
        for attempt in range(2):
            started = time.perf_counter()
            try:
                self.conn.request("GET", url, headers={**self.headers, **(extra or {})})
                response = self.conn.getresponse()
                body = response.read()
                return (time.perf_counter() - started) * 1000, response.status, body
            except (http.client.RemoteDisconnected, ConnectionError):  # the server closed an idle keep-alive
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def summary(times: list[float]) -> dict:
    """Median and p95 (nearest rank: of 20 requests the 19th fastest) in ms."""
    ordered = sorted(times)
    p95 = ordered[math.ceil(0.95 * len(ordered)) - 1]
    return {"median": round(statistics.median(ordered), 2), "p95": round(p95, 2), "n": len(ordered)}


SLOW_MS = 1000  # a request slower than this is timed 3 times, not --repeat times (the figure says how many)


def time_request(client: Http, path: str, params: dict, repeat: int, extra: dict | None = None) -> tuple[dict, bytes]:
    warm_ms, status, body = client.get(path, params, extra)  # warm-up, untimed
    if status != 200:
        raise RuntimeError(f"{path}?{urlencode(params, doseq=True)} answered {status}: {body[:300]!r}")
    if warm_ms > SLOW_MS:
        repeat = min(repeat, 3)
    times = []
    for _ in range(repeat):
        elapsed, status, body = client.get(path, params, extra)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
        times.append(elapsed)
    return summary(times), body


def time_floor(sql: str, params: list, repeat: int, *, give_up_ms: float | None = None) -> tuple[dict | None, list]:
    """Run `sql` once untimed, then `repeat` times timed. `give_up_ms`: a statement running longer is stopped and
    (None, []) returned (a plan tried only in case it is faster)."""
    from django.db import OperationalError, connection

    connection.ensure_connection()
    raw = connection.connection
    if give_up_ms is not None and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {int(give_up_ms)}")
    elif give_up_ms is not None:
        deadline = time.perf_counter() + give_up_ms / 1000
        raw.set_progress_handler(lambda: int(time.perf_counter() > deadline), 10_000)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            if give_up_ms is not None and connection.vendor == "sqlite":
                raw.set_progress_handler(None, 0)
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                cursor.execute(sql, params)
                rows = cursor.fetchall()
                times.append((time.perf_counter() - started) * 1000)
        return summary(times), rows
    except OperationalError:  # stopped: slower than give_up_ms
        return None, []
    finally:
        if give_up_ms is not None and connection.vendor == "postgresql":  # autocommit: nothing to roll back
            with connection.cursor() as cursor:
                cursor.execute("SET statement_timeout = 0")
        elif give_up_ms is not None:
            raw.set_progress_handler(None, 0)


PAGE_CURSOR = re.compile(r'hx-get="[^"]*?cursor=([^"&]+)"')


def page_cursor(body: bytes) -> str | None:
    match = PAGE_CURSOR.search(html.unescape(body.decode()))
    return match.group(1) if match else None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--deep", type=int, default=20, help="the deep page: this many pages in")
    parser.add_argument("--only", default="", help="only the cases whose name contains this")
    parser.add_argument("--data", default="1M customers, 10M orders")
    args = parser.parse_args()

    os.environ.setdefault("KERVAN_SSL_REDIRECT", "0")  # plain http on 127.0.0.1
    os.environ.setdefault("KERVAN_HSTS_SECONDS", "0")
    setup_django(args.database_url)
    from django.core.cache import cache
    from django.db import connection
    from django.urls import NoReverseMatch, resolve
    from django.urls.exceptions import Resolver404

    from kervan.core.pagination import decode_cursor

    vendor = connection.vendor

    def probe(sql: str, default=None, row: bool = False):
        with connection.cursor() as cursor:
            cursor.execute(sql)
            found = cursor.fetchone()
        if found is None:
            return default
        return found if row else found[0]

    def exists(path: str | None) -> bool:
        if not path:
            return False
        try:
            return resolve(path).func.__name__ != "api_not_found"  # /api/… always resolves, to a JSON 404
        except (Resolver404, NoReverseMatch):
            return False

    cases, missing = [], []
    for build in (customer_cases, order_cases, product_cases, event_cases):
        try:
            built = build(vendor, probe)
        except Exception as exc:  # a list whose tables or URLs this build does not have
            missing.append(f"{build.__name__}: {exc!r}")
            connection.close()
            continue
        for case in built:
            if args.only and args.only not in case.name:
                continue
            if not exists(case.page):
                missing.append(f"{case.name}: no page {case.page}") if case.page else None
                case.page = None
            if case.api and not exists(case.api):
                missing.append(f"{case.name}: no API {case.api}")
                case.api = None
            if case.page or case.api:
                cases.append(case)

    counts = {}
    for table in ("customers_customer", "orders_order", "events_event", "catalog_product"):
        counts[table] = probe(
            f"SELECT reltuples::bigint FROM pg_class WHERE relname = '{table}'"
            if vendor == "postgresql"
            else f"SELECT count(*) FROM {table}"
        )
    secret, session_key = credentials()
    cache.clear()
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"], cwd=ROOT, check=True, env=os.environ
    )
    server, base = start_server(
        port=args.port, workers=args.workers, env=os.environ.copy(), ready_path="/accounts/login/"
    )
    api = Http(base, {"Authorization": f"Bearer {secret}"})
    page = Http(base, {"Cookie": f"sessionid={session_key}", "Accept-Language": "tr"})
    command = " ".join(["python bench/lists.py", *sys.argv[1:]])
    server_desc = f"granian {args.workers} workers, Redis cache, production settings, one request at a time"
    data = f"{args.data} (table sizes: {counts}); {server_desc}"
    figures, report = {}, []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # the server is stopped on the way out
    try:
        for case in cases:
            for kind in ("api", "page"):
                path = case.api if kind == "api" else case.page
                if not path:
                    continue
                params = (
                    case.params if kind == "page" else (case.api_params if case.api_params is not None else case.params)
                )
                client = api if kind == "api" else page
                first, body = time_request(client, path, params, args.repeat)
                # the deep page: follow the cursor
                cursor, deep_params, extra = None, None, None
                if kind == "api":
                    cursor = json.loads(body).get("next_cursor")
                    first_ids = [item["id"] for item in json.loads(body)["items"]]
                else:
                    cursor = page_cursor(body)
                    first_ids = None
                reached = 1
                last_cursor = None
                while cursor and reached < args.deep:
                    last_cursor = cursor
                    deep_params = {**params, "cursor": cursor}
                    extra = {"HX-Request": "true"} if kind == "page" else None
                    _, status, body = client.get(path, deep_params, extra)
                    reached += 1
                    cursor = json.loads(body).get("next_cursor") if kind == "api" else page_cursor(body)
                deep = None
                if reached > 1:
                    deep, body = time_request(client, path, deep_params, args.repeat, extra)
                    deep_ids = [item["id"] for item in json.loads(body)["items"]] if kind == "api" else None
                for which, timing, after, ids in (
                    ("first page", first, None, first_ids),
                    (f"page {reached}", deep, last_cursor, deep_ids if reached > 1 else None),
                ):
                    if timing is None:
                        continue
                    floor, same = None, None
                    if case.floor is not None:
                        keyset = None
                        if after is not None:
                            *_order, value, pk = decode_cursor(after, 3)  # (order, value, id)
                            keyset = [adapt(vendor, value), pk]
                        sql, sql_params = case.floor.sql(keyset)
                        floor, rows = time_floor(sql, sql_params, args.repeat)
                        if case.floor.where and floor["median"] > 2:  # the other plan, in case it is faster
                            other, other_params = case.floor.sql(keyset, matches_first=True)
                            give_up = max(2 * floor["median"], 20)
                            other_floor, other_rows = time_floor(other, other_params, args.repeat, give_up_ms=give_up)
                            if other_floor is not None and other_floor["p95"] < floor["p95"]:
                                floor, rows, sql = other_floor, other_rows, other
                        if ids is not None:
                            same = [row[0] for row in rows] == ids
                    label = f"{case.name}, {'API' if kind == 'api' else 'page'} {which}, {vendor}"
                    entry = {
                        "value": timing["p95"],
                        "unit": "ms",
                        "target": "<= 50" if vendor == "postgresql" else "<= 100",
                        "median_ms": timing["median"],
                        "requests": timing["n"],
                        "query": params,
                        "data": data,
                        "db": vendor,
                        "command": command,
                    }
                    if floor is not None:
                        entry["floor"] = {
                            "value": floor["p95"],
                            "median_ms": floor["median"],
                            "unit": "ms",
                            "what": "the same rows by one hand-written SQL statement, run in the bench process "
                            "(psycopg / sqlite3 through Django's cursor), same database, same run",
                            "same_rows_as_api": same,
                            "sql": sql,
                        }
                        entry["ratio"] = round(timing["p95"] / max(floor["p95"], 0.01), 1)
                    figures[label] = entry
                    report.append(
                        f"{label:<100} p95 {timing['p95']:>8.1f}  median {timing['median']:>8.1f}"
                        + (f"  floor {floor['p95']:>7.2f}  x{entry['ratio']:<6}" if floor else "")
                        + ("" if same in (None, True) else "  ROWS DIFFER")
                    )
                    print(report[-1], flush=True)
    finally:
        stop_server(server)

    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not args.only:  # a full run replaces this database's figures; a partial one updates its own
        previous = {k: v for k, v in previous.items() if v.get("db") != vendor}
    previous.update(figures)
    RESULTS.write_text(json.dumps(previous, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"\n{len(figures)} figures → {RESULTS}")
    if missing:
        print("Not measured:\n  " + "\n  ".join(missing))


if __name__ == "__main__":
    main()
