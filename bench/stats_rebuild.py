"""CustomerStats recomputed from 1M customers' 10M orders (`manage.py stats_rebuild`), on PostgreSQL.

1. `stats_rebuild --check` on kervan_bench (made by generate_demo.py), which it only reads.
2. The five tables the recompute reads and writes (customers, their stats, orders, refunds, returns) copied from
   kervan_bench into a database of their own (pg_dump | psql: kervan_bench is only read, where CREATE DATABASE …
   TEMPLATE would need it free of every other connection), then on the copy:
   - a rebuild after 10,000 random customers' totals were made wrong (the repair after a bug);
   - a rebuild after every customer's total was made wrong (1M rows locked, summed again and rewritten);
   - `--check` again: nothing differs.
   The copy is dropped at the end unless --keep-copy.

    .venv/bin/python bench/stats_rebuild.py

Each figure is the command's own time (its summary line: Django's start-up excluded), the whole process's beside
it. Writes bench/results/stats_rebuild.json.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_URL = "postgres://postgres@127.0.0.1:5432/kervan_bench"
COPY_NAME = "kervan_stats_rebuild_bench"
TABLES = ("customers_customer", "customers_customerstats", "orders_order", "orders_refund", "orders_return")
TARGET = "<= 60 s"
SUMMARY = re.compile(r"(\d+) customers checked in ([\d.]+) s: (\d+) differ")


def psql(dbname: str, sql: str) -> str:
    done = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", dbname, "-XAtq", "-c", sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def stats_rebuild(url: str, *options: str) -> dict:
    """Run the command (output to a file: a full rebuild prints a line per customer); its figures."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",  # DEBUG off, as a server runs it
        "KERVAN_SECRET_KEY": "bench-only-not-secret",
    }
    with tempfile.TemporaryFile("w+") as out:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "manage.py", "stats_rebuild", *options],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
        wall = time.monotonic() - started
        out.seek(0)
        text = out.read()
    match = SUMMARY.search(text + done.stderr)
    if match is None:
        raise SystemExit(f"stats_rebuild {' '.join(options)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    customers, seconds, drifted = int(match[1]), float(match[2]), int(match[3])
    print(f"stats_rebuild {' '.join(options)}: {customers} customers, {drifted} differed, {seconds} s ({wall:.1f} s)")
    return {"customers": customers, "seconds": seconds, "wall_s": round(wall, 1), "drifted": drifted}


def copy_tables() -> float:
    started = time.monotonic()
    psql("postgres", f"DROP DATABASE IF EXISTS {COPY_NAME}")
    psql("postgres", f"CREATE DATABASE {COPY_NAME}")
    psql(COPY_NAME, "CREATE EXTENSION IF NOT EXISTS pg_trgm")
    dump = subprocess.Popen(
        [
            "pg_dump",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "--no-owner",
            *(f"--table={t}" for t in TABLES),
            "kervan_bench",
        ],
        stdout=subprocess.PIPE,
    )
    # Foreign keys to tables left behind (sources, staff) fail to restore; the recompute needs none of them.
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", COPY_NAME, "-Xq"],
        stdin=dump.stdout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    dump.wait()
    psql(COPY_NAME, "VACUUM ANALYZE")
    return time.monotonic() - started


def spoil(where: str) -> int:
    """Make these customers' stored totals wrong; how many."""
    spoiled = psql(
        COPY_NAME,
        "WITH spoiled AS (UPDATE customers_customerstats SET total_spent = total_spent + 1"
        f" WHERE {where} RETURNING 1) SELECT count(*) FROM spoiled",
    )
    psql(COPY_NAME, "VACUUM ANALYZE customers_customerstats")
    return int(spoiled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-copy", action="store_true", help=f"leave the database {COPY_NAME} behind")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/stats_rebuild.json")
    args = parser.parse_args()

    sizes = {t: int(psql("kervan_bench", f"SELECT count(*) FROM {t}")) for t in TABLES}
    data = (
        f"kervan_bench: {sizes['customers_customer']:,} customers, {sizes['orders_order']:,} orders, "
        f"{sizes['orders_refund']:,} refunds, {sizes['orders_return']:,} returns; batches of 10,000 customers; "
        f"2 shared cores, load average before {[round(x, 2) for x in os.getloadavg()]}"
    )
    check = stats_rebuild(SOURCE_URL, "--check")
    copy_s = copy_tables()
    print(f"tables copied to {COPY_NAME} in {copy_s:.0f} s")
    copy_url = f"postgres://postgres@127.0.0.1:5432/{COPY_NAME}"
    try:
        spoil("customer_id IN (SELECT customer_id FROM customers_customerstats ORDER BY random() LIMIT 10000)")
        some = stats_rebuild(copy_url)
        spoil("true")
        every = stats_rebuild(copy_url)
        after = stats_rebuild(copy_url, "--check")
    finally:
        if not args.keep_copy:
            psql("postgres", f"DROP DATABASE IF EXISTS {COPY_NAME}")
    assert check["drifted"] == 0 and after["drifted"] == 0, (check, after)
    assert some["drifted"] == 10_000 and every["drifted"] == sizes["customers_customer"], (some, every)

    command = ".venv/bin/python bench/stats_rebuild.py"
    figures = {
        "stats_rebuild --check, 1M customers / 10M orders, postgresql": (
            check,
            "read-only, on kervan_bench; nothing differed",
        ),
        "stats_rebuild, 10,000 of 1M customers drifted, postgresql": (
            some,
            "on a copy of its tables; 10,000 rows rewritten",
        ),
        "stats_rebuild, 1M customers / 10M orders, every customer drifted, postgresql": (
            every,
            "on a copy of its tables; every row rewritten",
        ),
    }
    results = {
        name: {
            "value": figure["seconds"],
            "unit": "s",
            "target": TARGET,
            "data": f"{data}; {note}",
            "db": "postgresql",
            "command": command,
            "process_wall_s": figure["wall_s"],
            "customers_differing": figure["drifted"],
        }
        for name, (figure, note) in figures.items()
    }
    print(json.dumps(results, indent=2))
    if not args.no_write:
        (ROOT / "bench" / "results" / "stats_rebuild.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
