"""The floor under event ingestion: the same 100-event batches stored by the simplest hand-written code on this
machine — N processes, each sending one INSERT … SELECT FROM json_to_recordset … ON CONFLICT DO NOTHING per batch to
PostgreSQL in autocommit, with customer ids already known: no HTTP, no authentication, no validation, no identity
resolution, no CustomerStats. Whatever Kervan does on top is measured against this.

    .venv/bin/python bench/ingest_floor.py          # after bench/ingest.py made kervan_ingest_bench

Adds "floor" to the ingestion figures in bench/results/ingest.json.
"""

import argparse
import datetime as dt
import json
import multiprocessing
import time
import uuid
from pathlib import Path

import psycopg

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"
SQL = (
    "INSERT INTO events_event (dedupe_key, customer_id, anonymous_id, name, occurred_at, received_at, properties,"
    " source_id) SELECT u.k, u.c, u.a, u.n, u.t, now(), u.p, NULL FROM json_to_recordset(%s::json)"
    " AS u(k text, c bigint, a text, n text, t timestamptz, p jsonb) ON CONFLICT (dedupe_key) DO NOTHING"
)


def worker(args) -> int:
    url, seconds, size, customers = args
    prefix = uuid.uuid4().hex[:8]
    stored = n = 0
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            now = dt.datetime.now(dt.UTC).isoformat()
            batch = [
                {
                    "k": f"floor:{prefix}:{n}:{i}",
                    "c": customers[(n * size + i) % len(customers)],
                    "a": "",
                    "n": "Viewed Product",
                    "t": now,
                    "p": {"sku": f"KRV-{i}", "price": "129.90"},
                }
                for i in range(size)
            ]
            conn.execute(SQL, [json.dumps(batch)])
            stored += size
            n += 1
    return stored


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/kervan_ingest_bench")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--duration", type=float, default=30)
    args = parser.parse_args()
    with psycopg.connect(args.url) as conn:
        customers = [r[0] for r in conn.execute("SELECT customer_id FROM customers_customerstats LIMIT 20000")]
    started = time.monotonic()
    with multiprocessing.Pool(args.processes) as pool:
        stored = sum(pool.map(worker, [(args.url, args.duration, 100, customers)] * args.processes))
    rate = round(stored / (time.monotonic() - started))
    results = json.loads(RESULTS.read_text())
    command = f".venv/bin/python bench/ingest_floor.py --processes {args.processes} --duration {args.duration:g}"
    floor = {
        "value": rate,
        "unit": "events/s",
        "what": f"{args.processes} processes, one INSERT … json_to_recordset per 100-event batch, autocommit, no HTTP/"
        "validation/identity resolution/stats; same machine and database",
        "command": command,
    }
    for name, figure in results.items():
        if "throughput" in name:
            figure["floor"] = floor
            figure["ratio_to_floor"] = round(figure["value"] / rate, 2)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"floor: {rate} events/s")


if __name__ == "__main__":
    main()
