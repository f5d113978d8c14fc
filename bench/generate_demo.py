"""Time `manage.py demo_load` at scale on a fresh database and record the result in bench/results/demo.json.

    .venv/bin/python bench/generate_demo.py --db sqlite --customers 100000 --orders 1000000
    .venv/bin/python bench/generate_demo.py --db postgresql --customers 100000 --orders 1000000
    .venv/bin/python bench/generate_demo.py --db postgresql --database kervan_bench --customers 1000000 \\
        --orders 10000000 --vacuum      # kept afterwards for the Customer 360 benchmark

The database is dropped and re-created first (PostgreSQL: DROP/CREATE DATABASE; SQLite: a file under var/bench/),
migrated, then loaded with --bulk. Reported: wall time of the load alone, rows per table, rows per second,
peak memory of the loader process, and the database size. Not a test; keep heavy runs to one at a time.
"""

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
RESULTS = ROOT / "bench" / "results" / "demo.json"
PG = "postgres://postgres@127.0.0.1:5432"


def run(args: list[str], env: dict, *, echo: bool = True) -> tuple[float, str]:
    started = time.monotonic()
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if echo:
            print(line, end="", flush=True)
    if process.wait() != 0:
        sys.exit(f"failed: {' '.join(args)}\n{''.join(lines[-30:])}")
    return time.monotonic() - started, "".join(lines)


def psql(database: str, sql: str) -> str:
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-Atc", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def fresh_database(db: str, name: str) -> str:
    """Drop and re-create the target; return its DATABASE_URL."""
    if db == "postgresql":
        psql("postgres", f'DROP DATABASE IF EXISTS "{name}"')
        psql("postgres", f'CREATE DATABASE "{name}"')
        return f"{PG}/{name}"
    path = ROOT / "var" / "bench" / f"{name}.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def table_counts(env: dict) -> dict[str, int]:
    code = (
        "import json; from kervan.demo.actions import MODELS; "
        "print(json.dumps({t: m.objects.count() for t, m in MODELS.items()}))"
    )
    _, output = run([PYTHON, "manage.py", "shell", "-c", code], env, echo=False)
    return json.loads(output.strip().splitlines()[-1])


def database_size(db: str, name: str, url: str) -> int:
    if db == "postgresql":
        return int(psql(name, "SELECT pg_database_size(current_database())"))
    path = url.removeprefix("sqlite:///")
    return sum(Path(f"{path}{suffix}").stat().st_size for suffix in ("", "-wal") if Path(f"{path}{suffix}").exists())


def record(figures: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update(figures)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], required=True)
    parser.add_argument("--database", help="database (PostgreSQL) or file stem (SQLite); default kervan_demo_bench")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--events-per-customer", type=float, default=5.0)
    parser.add_argument("--order-events", choices=["all", "placed", "none"], default="all")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--vacuum", action="store_true", help="PostgreSQL: VACUUM ANALYZE afterwards (timed apart)")
    parser.add_argument("--label", help="figure name prefix; default from the sizes")
    args = parser.parse_args()

    name = args.database or "kervan_demo_bench"
    url = fresh_database(args.db, name)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    env.pop("KERVAN_VAR_DIR", None)
    migrate_seconds, _ = run([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], env)
    command = [
        PYTHON, "manage.py", "demo_load", "--customers", str(args.customers), "--orders", str(args.orders),
        "--seed", str(args.seed), "--events-per-customer", str(args.events_per_customer),
        "--order-events", args.order_events, "--batch-size", str(args.batch_size), "--bulk",
    ]  # fmt: skip
    print(f"$ DATABASE_URL={url} {' '.join(command[1:])}", flush=True)
    seconds, output = run(command, env)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rebuild = re.findall(r"\[\s*([\d.]+)s\] Rebuilding indexes", output)
    vacuum_seconds = None
    if args.vacuum and args.db == "postgresql":
        started = time.monotonic()
        psql(name, "VACUUM (ANALYZE)")
        vacuum_seconds = time.monotonic() - started
    counts = table_counts(env)
    size = database_size(args.db, name, url)
    rows = sum(counts.values())

    label = args.label or f"demo_load_{_short(args.customers)}_customers_{_short(args.orders)}_orders_{args.db}"
    data = (
        f"{counts['customer']:,} customers, {counts['order']:,} orders, {counts['line']:,} lines, "
        f"{counts['status']:,} status rows, {counts['event']:,} events ({args.events_per_customer:g} browsing "
        f"events/customer, order events: {args.order_events}); {rows:,} rows in all; seed {args.seed}; "
        f"database {size / 2**30:.1f} GiB; 2 shared cores"
    )
    shown = " ".join(command[1:]).replace(PYTHON, ".venv/bin/python")
    bench_command = " ".join(["bench/generate_demo.py", *sys.argv[1:]])
    figures = {
        label: {
            "value": round(seconds, 1),
            "unit": "s",
            "target": "1M customers / 10M orders within ~20 min on PostgreSQL",
            "data": data,
            "db": args.db,
            "command": f".venv/bin/python {bench_command}  (times: DATABASE_URL=… .venv/bin/python {shown})",
        },
        f"{label}_rows_per_second": {
            "value": round(rows / seconds),
            "unit": "rows/s",
            "target": "",
            "data": data,
            "db": args.db,
            "command": f".venv/bin/python {bench_command}",
        },
        f"{label}_peak_memory": {
            "value": round(peak_kb / 1024),
            "unit": "MiB",
            "target": "< 4096 MiB (bounded, streamed in batches)",
            "data": data,
            "db": args.db,
            "command": f".venv/bin/python {bench_command}",
        },
    }
    if rebuild:
        figures[label]["data"] += f"; rows written by {float(rebuild[0]):.0f}s, then indexes and constraints rebuilt"
    if vacuum_seconds is not None:
        figures[f"{label}_vacuum_analyze"] = {
            "value": round(vacuum_seconds, 1),
            "unit": "s",
            "target": "",
            "data": data,
            "db": args.db,
            "command": f'psql -d {name} -c "VACUUM (ANALYZE)"',
        }
    record(figures)
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    print(f"migrate took {migrate_seconds:.1f}s (not counted)")


def _short(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


if __name__ == "__main__":
    main()
