"""Segment-spec ingestion: POST /v1/batch with 100-message batches against the native /api/v1/events/batch, same run.

Reuses bench/ingest.py's set-up (database, pre-created customers with email and visitor-id identities, granian
serving config.settings.production with the Redis cache, wrk) and adds a store customer id (source "website", the
Segment source) to each customer. Then, with one server, it alternates wrk runs of --duration seconds: the native
endpoint (ingest.py's mix: 30% customer_id, 30% email, 20% known visitor id, 20% new visitor id) and /v1/batch
(Segment's messages as analytics-node / analytics-python send them: messageId, timestamp, context.library, sentAt,
Basic auth; 30% userId, 30% userId with context.traits.email, 20% known anonymousId, 20% new anonymousId; the same
four event names in their Segment spelling: Page, Product Viewed, Product Added, Checkout Started), and the native
endpoint again with the Segment mix's people (user_id+source, 30% with email: the Segment layer's own cost apart from
how people are named), --rounds times each in alternating order, so all see the same machine load.
Targets: Segment within 20% of native events/s, p99 <= 200 ms.

    .venv/bin/python bench/segment_ingest.py --duration 20 --rounds 3

Writes bench/results/segment.json. Needs Debian's wrk and a Redis on 127.0.0.1:6379 (as bench/ingest.py).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ingest import (  # bench/ is the script's folder
    LUA,
    api_key,
    children_of,
    cpu_seconds,
    ensure_customers,
    ensure_database,
    event_count,
    postgres_cpu,
    postgres_cpu_delta,
    run_wrk,
    setup_django,
)
from serving import start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kervan_segbench"
KINDS = ("native", "segment", "native-same-people")

SEGMENT_LUA = r"""
local function load(path)
  local t = {}
  for line in io.lines(path) do t[#t + 1] = line end
  return t
end
local users, emails, known_anon = load("%(users)s"), load("%(emails)s"), load("%(anon)s")
local counter, thread_tag = 0, ""
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
wrk.headers["Authorization"] = "Basic %(basic)s"

local library = '"context":{"library":{"name":"analytics-python","version":"2.3.4"}'

request = function()
  counter = counter + 1
  local now = os.time()
  local base = os.date("!%%Y-%%m-%%dT%%H:%%M:%%S", now - 120)
  local sent = os.date("!%%Y-%%m-%%dT%%H:%%M:%%S.000Z", now)
  local parts = {}
  for i = 1, %(batch)d do
    local r = math.random(100)
    local who, context
    local u = math.random(#users)
    if r <= 30 then who = '"userId":"' .. users[u] .. '"'; context = library .. '}'
    elseif r <= 60 then
      who = '"userId":"' .. users[u] .. '"'
      context = library .. ',"traits":{"email":"' .. emails[u] .. '"}}'
    elseif r <= 80 then who = '"anonymousId":"' .. known_anon[math.random(#known_anon)] .. '"'; context = library .. '}'
    else who = '"anonymousId":"v-' .. thread_tag .. '-' .. math.random(50000) .. '"'; context = library .. '}' end
    local product = math.random(5000)
    local kind, name = "track", ""
    local k = i %% 4
    if k == 0 then kind = "page" else name = ({"Product Viewed", "Product Added", "Checkout Started"})[k] end
    local event = name ~= "" and ('"event":"' .. name .. '",') or ""
    parts[i] = string.format(
      '{"type":"%%s",%%s"messageId":"%%s-%%d-%%d","timestamp":"%%s.%%03dZ",' ..
      '"properties":{"product_id":"p-%%d","price":%%d.90,"url":"/urun/p-%%d"},%%s,%%s}',
      kind, event, thread_tag, counter, i, base, (counter * 7 + i) %% 1000, product, product %% 900 + 50,
      product, who, context)
  end
  return wrk.format(nil, "/v1/batch", nil,
    '{"batch":[' .. table.concat(parts, ",") .. '],"sentAt":"' .. sent .. '"}')
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%.3f %%.3f %%d %%d\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000, summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
"""


# The native endpoint with the Segment mix's people (store customer ids, 30% with their email): the cost of the
# Segment layer itself, apart from how people are named.
NATIVE_SAME_LUA = LUA.replace(
    'local ids, emails, known_anon = load("%(ids)s"), load("%(emails)s"), load("%(anon)s")',
    'local users, emails, known_anon = load("%(users)s"), load("%(emails)s"), load("%(anon)s")',
).replace(
    """    if r <= 30 then who = '"customer_id":' .. ids[math.random(#ids)]
    elseif r <= 60 then who = '"email":"' .. emails[math.random(#emails)] .. '"'""",
    """    local u = math.random(#users)
    if r <= 30 then who = '"user_id":"' .. users[u] .. '","source":"website"'
    elseif r <= 60 then who = '"user_id":"' .. users[u] .. '","source":"website","email":"' .. emails[u] .. '"'""",
)


def ensure_user_ids(ids: list[int]) -> list[str]:
    """A store customer id of the Segment source for each pre-created customer (u-<pk>)."""
    from django.db import connection

    from kervan.customers.models import Identity
    from kervan.events.segment_views import segment_source

    source = segment_source()
    have = set(
        Identity.objects.filter(kind=Identity.Kind.SOURCE_ID, source=source, value__startswith="u-").values_list(
            "value", flat=True
        )
    )
    missing = [Identity(customer_id=pk, kind="source_id", value=f"u-{pk}", source=source) for pk in ids]
    missing = [identity for identity in missing if identity.value not in have]
    if missing:
        Identity.objects.bulk_create(missing, batch_size=5000)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE customers_identity")
    return [f"u-{pk}" for pk in ids]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="threads per granian worker")
    parser.add_argument("--connections", type=int, default=6)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/segment.json")
    args = parser.parse_args()

    ensure_database(args.database_url)
    setup_django(args.database_url, "redis")
    import base64

    from django.db import connection

    ids, emails, anon = ensure_customers(args.customers)
    users = ensure_user_ids(ids)
    secret = api_key()
    events_before = event_count()
    connection.close()

    env = {**os.environ, "KERVAN_API_RATE_LIMIT": "100000000"}
    server, base = start_server(
        port=args.port, workers=args.workers, threads=args.threads, env=env, ready_path="/events/tracker.js"
    )
    runs: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            files = {}
            for label, values in (("ids", ids), ("emails", emails), ("anon", anon), ("users", users)):
                files[label] = Path(tmp) / f"{label}.txt"
                files[label].write_text("\n".join(map(str, values)) + "\n")
            scripts = {kind: Path(tmp) / f"{kind}.lua" for kind in KINDS}
            basic = base64.b64encode(f"{secret}:".encode()).decode()

            def write_scripts(run: str) -> None:
                common = {"batch": args.batch, "run": run, "seed": time.time_ns() % 1_000_000}
                scripts["native"].write_text(
                    LUA % {**{k: str(v) for k, v in files.items()}, "secret": secret, **common}
                )
                scripts["native-same-people"].write_text(
                    NATIVE_SAME_LUA % {**{k: str(v) for k, v in files.items()}, "secret": secret, **common}
                )
                scripts["segment"].write_text(
                    SEGMENT_LUA % {**{k: str(v) for k, v in files.items()}, "basic": basic, **common}
                )

            write_scripts(f"w{time.time_ns()}")
            for kind in KINDS:  # warm-up: connections, imports, caches
                run_wrk(base, scripts[kind], 2, 5)
            app = children_of(server.pid)
            load_before = os.getloadavg()
            for round_no in range(args.rounds):
                for kind in KINDS if round_no % 2 == 0 else KINDS[::-1]:
                    write_scripts(f"{kind[0]}{round_no}-{time.time_ns()}")
                    pg_before, cpu_app, t0 = postgres_cpu(args.database_url), cpu_seconds(app), time.time()
                    wrk_before = os.times()
                    result = run_wrk(base, scripts[kind], args.connections, args.duration)
                    wrk_after = os.times()
                    result["cpu_s"] = {
                        "granian workers": round(cpu_seconds(app) - cpu_app, 2),
                        "postgres": round(postgres_cpu_delta(pg_before, postgres_cpu(args.database_url)), 2),
                        "wrk": round(
                            (wrk_after.children_user + wrk_after.children_system)
                            - (wrk_before.children_user + wrk_before.children_system),
                            2,
                        ),
                    }
                    result["events_per_s"] = round(
                        (result["requests"] - result["non_2xx"]) * args.batch / result["seconds"]
                    )
                    result["wall"] = round(time.time() - t0, 1)
                    runs[kind].append(result)
                    print(kind, json.dumps({k: result[k] for k in ("events_per_s", "p50_ms", "p99_ms", "non_2xx")}))
            load_after = os.getloadavg()
    finally:
        stop_server(server)

    stored = event_count() - events_before

    def total(kind: str) -> dict:
        done = runs[kind]
        seconds = sum(r["seconds"] for r in done)
        ok = sum(r["requests"] - r["non_2xx"] for r in done)
        requests = sum(r["requests"] for r in done)
        app_cpu = sum(r["cpu_s"]["granian workers"] for r in done)
        pg_cpu = sum(r["cpu_s"]["postgres"] for r in done)
        wrk_cpu = sum(r["cpu_s"]["wrk"] for r in done)
        return {
            "events_per_s": round(ok * args.batch / seconds),
            "events_per_s_by_round": [r["events_per_s"] for r in done],
            "p50_ms": round(statistics.median(r["p50_ms"] for r in done), 2),
            "p99_ms": max(r["p99_ms"] for r in done),
            "p99_ms_by_round": [r["p99_ms"] for r in done],
            "non_2xx": sum(r["non_2xx"] for r in done),
            "socket_errors": sum(r["socket_errors"] for r in done),
            "cpu_ms_per_batch": {
                "granian workers": round(app_cpu / max(requests, 1) * 1000, 2),
                "postgres": round(pg_cpu / max(requests, 1) * 1000, 2),
                "wrk (the load generator, on the same cores)": round(wrk_cpu / max(requests, 1) * 1000, 2),
            },
        }

    native, seg, same = total("native"), total("segment"), total("native-same-people")
    ratio = round(seg["events_per_s"] / native["events_per_s"], 3)
    ratio_same = round(seg["events_per_s"] / same["events_per_s"], 3)
    summary = {
        "native": native,
        "segment": seg,
        "native_same_people": same,
        "segment_vs_native": ratio,
        "segment_vs_native_same_people": ratio_same,
        "stored_events_all_runs": stored,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
    }
    print(json.dumps(summary, indent=2))
    if args.no_write:
        return
    command = "  ".join([".venv/bin/python bench/segment_ingest.py", *sys.argv[1:]]).replace("  ", " ")
    data = (
        f"{args.customers} pre-created customers (email, visitor id, store customer id); {args.batch}-message "
        f"batches; {args.workers} granian workers x {args.threads} thread(s) (config.settings.production, Redis "
        f"cache); wrk with {args.connections} connections, {args.rounds} alternating rounds of {args.duration}s per "
        f"endpoint; 2 shared cores, load average before {summary['load_average_before']}"
    )
    common = {"data": data, "db": "postgresql", "command": command}
    figures = {
        "ingestion through /v1/batch with 100-message batches, events/s against the native endpoint, postgresql": {
            "value": seg["events_per_s"],
            "unit": "events/s",
            "target": f">= 80% of native in the same run ({round(native['events_per_s'] * 0.8)})",
            **common,
            "floor": {
                "value": native["events_per_s"],
                "unit": "events/s",
                "data": "the native /api/v1/events/batch in the same run, alternating rounds (bench/ingest.py's mix)",
                "ratio": ratio,
            },
            "native_events_per_s_same_run": native["events_per_s"],
            "segment_vs_native": ratio,
            "native_same_people_events_per_s_same_run": same["events_per_s"],
            "segment_vs_native_same_people": ratio_same,
            "segment": seg,
            "native": native,
            "native_same_people": same,
        },
        "ingestion through /v1/batch with 100-message batches, p99, postgresql": {
            "value": seg["p99_ms"],
            "unit": "ms",
            "target": "<= 200",
            **common,
            "p50_ms": seg["p50_ms"],
            "floor": {
                "value": native["p99_ms"],
                "unit": "ms",
                "data": "the native /api/v1/events/batch's worst-round p99 in the same run",
                "ratio": round(native["p99_ms"] / seg["p99_ms"], 3) if seg["p99_ms"] else None,
            },
            "native_p99_ms_same_run": native["p99_ms"],
        },
    }
    out = ROOT / "bench" / "results" / "segment.json"
    out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
