"""The floor under the Customer 360 API on a first read: the same facts for a customer nobody read before, by the
simplest hand-written code on this machine — N processes, each reading a random customer's row and stats, tags,
identities and latest consent per channel with plain SQL over one connection, and encoding them as JSON. No HTTP,
no authentication, no audit row, no cache.

    .venv/bin/python bench/customer360_floor.py     # on kervan_bench (bench/generate_demo.py)

Adds "floor" to the uncached Customer 360 API figures in bench/results/customer360.json.
"""

import argparse
import json
import multiprocessing
import random
import time
from pathlib import Path

import psycopg

RESULTS = Path(__file__).resolve().parent / "results" / "customer360.json"
QUERIES = (
    "SELECT c.*, s.* FROM customers_customer c LEFT JOIN customers_customerstats s ON s.customer_id = c.id"
    " WHERE c.id = %(id)s",
    "SELECT t.name FROM customers_customer_tags ct JOIN customers_tag t ON t.id = ct.tag_id"
    " WHERE ct.customer_id = %(id)s",
    "SELECT kind, value, source_id FROM customers_identity WHERE customer_id = %(id)s ORDER BY kind, value",
    "SELECT DISTINCT ON (channel, purpose) channel, purpose, status FROM customers_consentrecord"
    " WHERE customer_id = %(id)s ORDER BY channel, purpose, occurred_at DESC, id DESC",
)


def worker(args) -> int:
    url, seconds, seed, top = args
    rng = random.Random(seed)
    reads = 0
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            params = {"id": rng.randint(1, top)}
            body = [conn.execute(sql, params).fetchall() for sql in QUERIES]
            json.dumps(body, default=str)
            reads += 1
    return reads


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/kervan_bench")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    with psycopg.connect(args.url) as conn:
        top = conn.execute("SELECT max(id) FROM customers_customer").fetchone()[0]
    started = time.monotonic()
    jobs = [(args.url, args.duration, args.seed * 100 + n, top) for n in range(args.processes)]
    with multiprocessing.Pool(args.processes) as pool:
        reads = sum(pool.map(worker, jobs))
    rate = round(reads / (time.monotonic() - started), 1)
    command = f".venv/bin/python bench/customer360_floor.py --processes {args.processes} --seed {args.seed}"
    floor = {
        "value": rate,
        "unit": "requests/s",
        "what": f"{args.processes} processes reading random customers never read before: row + stats, tags, "
        "identities, latest consent per channel, in plain SQL, encoded as JSON; no HTTP, no audit row",
        "command": command,
    }
    results = json.loads(RESULTS.read_text())
    for name, figure in results.items():
        if name.startswith("Customer 360 API, uncached throughput"):
            figure["floor"] = floor
            figure["ratio_to_floor"] = round(figure["value"] / rate, 2)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"floor: {rate} requests/s")


if __name__ == "__main__":
    main()
