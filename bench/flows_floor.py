"""bench/flows.py --profile and --floor: a cProfile of run_due in-process, and the same work done by hand-written SQL
(the floor the due-step figure is compared with, recorded on it)."""

import cProfile
import datetime as dt
import io
import json
import pstats
import time
import uuid

from flows_setup import (  # the set-up both scripts share
    DUE_FIGURE,
    RESULTS,
    drop_flow,
    insert_runs,
    make_flow,
    sql,
    template,
)

# --- profile ---------------------------------------------------------------------------------------------------


def profile(args) -> None:
    """cProfile of run_due over --profile-runs due runs of a 'wait, then send' flow, in this process."""
    from django.db import connection

    from kervan.flows.engine import run_due

    send = template("transactional")
    flow, version = make_flow(
        "bench flows: profile",
        {
            "s1": {"type": "wait", "hours": 1, "next": "s2"},
            "s2": {"type": "send", "template": send.pk, "channel": "email", "next": None},
        },
    )
    insert_runs(
        flow,
        version,
        first_customer=700_001,
        count=args.profile_runs,
        step="s1",
        due_sql="now() - interval '1 second'",
        waited_sql="interval '1 hour'",
    )
    sql("ANALYZE flows_flowrun")
    queries: list[tuple[float, str]] = []

    def timed(execute, statement, params, many, context):
        started = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            queries.append((time.perf_counter() - started, statement))

    profiler = cProfile.Profile()
    wall = []
    with connection.execute_wrapper(timed):
        while True:
            started = time.perf_counter()
            profiler.enable()
            outcome = run_due(worker="bench-profile", limit=args.batch)
            profiler.disable()
            wall.append(time.perf_counter() - started)
            if not outcome:
                break
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
    print(out.getvalue())
    by_kind: dict[str, list[float]] = {}
    for seconds, statement in queries:
        head = " ".join(statement.split()[:6])[:90]
        by_kind.setdefault(head, []).append(seconds)
    print("SQL time by statement (first words), whole profile:")
    for head, times in sorted(by_kind.items(), key=lambda kv: -sum(kv[1]))[:15]:
        print(f"  {sum(times) * 1000:9.1f} ms  {len(times):5d}x  {head}")
    runs = args.profile_runs
    print(f"run_due calls: {len(wall)}, wall {sum(wall):.2f} s for {runs} runs = {1000 * sum(wall) / runs:.2f} ms/run")
    drop_flow("bench flows: profile")


# --- floor -------------------------------------------------------------------------------------------------------

FLOOR_CLAIM = """
UPDATE flows_flowrun SET leased_by = %(worker)s, leased_until = now() + interval '2 minutes', lease_token = %(token)s,
    attempts = attempts + 1
WHERE id IN (SELECT r.id FROM flows_flowrun r JOIN flows_flow f ON f.id = r.flow_id
             WHERE r.status = 'active' AND f.status = 'live' AND r.due_at <= now()
               AND (r.leased_until IS NULL OR r.leased_until <= now())
             ORDER BY r.due_at, r.id LIMIT %(limit)s FOR UPDATE OF r SKIP LOCKED)
RETURNING id, customer_id, flow_id, seq, context
"""
FLOOR_LOGS = """
INSERT INTO flows_flowsteplog (run_id, flow_id, seq, step, kind, outcome, detail, done, at)
SELECT r, f, s + k, (ARRAY['s1','s2'])[k + 1], (ARRAY['wait','send'])[k + 1], (ARRAY['passed','sent'])[k + 1], '',
    true, %(now)s
FROM unnest(%(runs)s::bigint[], %(flows)s::bigint[], %(seqs)s::int[]) AS u(r, f, s), generate_series(0, 1) k
ON CONFLICT DO NOTHING
"""
FLOOR_MESSAGES = """
INSERT INTO messaging_message (due_at, leased_by, attempts, origin, channel, purpose, variant, status, skip_reason,
    to_address, subject, error, provider_id, created_at, opens, machine_opens, clicks, customer_id, template_id, data)
SELECT %(now)s, '', 0, 'flow:' || f || ':s2:' || r || '.' || (s + 1), 'email', 'transactional', '', 'queued', '', '',
    '', '', '', now(), 0, 0, 0, c, %(template)s, d
FROM unnest(%(runs)s::bigint[], %(flows)s::bigint[], %(seqs)s::int[], %(customers)s::bigint[], %(contexts)s::jsonb[])
    AS u(r, f, s, c, d)
ON CONFLICT DO NOTHING
"""
FLOOR_FINISH = """
UPDATE flows_flowrun SET status = 'completed', step = 's2', seq = seq + 2, step_started_at = %(now)s, due_at = NULL,
    ended_at = %(now)s, leased_by = '', leased_until = NULL, lease_token = NULL
WHERE id = ANY(%(runs)s) AND lease_token = %(token)s
"""


def floor(args) -> None:
    """The same work as run_due for due runs of 'wait, then send', by hand-written SQL: claim (one UPDATE … FOR
    UPDATE SKIP LOCKED … RETURNING), then in one transaction the two log rows, the message and the runs' new state,
    each one statement over arrays. One process; runs per second and milliseconds per run."""
    from django.db import connection, transaction

    send = template("transactional")
    flow, version = make_flow(
        "bench flows: floor",
        {
            "s1": {"type": "wait", "hours": 1, "next": "s2"},
            "s2": {"type": "send", "template": send.pk, "channel": "email", "next": None},
        },
    )
    count = args.floor_runs
    insert_runs(
        flow,
        version,
        first_customer=700_001,
        count=count,
        step="s1",
        due_sql="now() - interval '1 second'",
        waited_sql="interval '1 hour'",
    )
    sql("ANALYZE flows_flowrun")
    done = 0
    cpu_before = time.process_time()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        while True:
            token = uuid.uuid4()
            with transaction.atomic():
                cursor.execute(FLOOR_CLAIM, {"worker": "bench-floor", "token": token, "limit": args.batch})
                rows = cursor.fetchall()
            if not rows:
                break
            now = dt.datetime.now(dt.UTC)
            params = {
                "now": now,
                "token": token,
                "template": send.pk,
                "runs": [r[0] for r in rows],
                "customers": [r[1] for r in rows],
                "flows": [r[2] for r in rows],
                "seqs": [r[3] for r in rows],
                "contexts": [json.dumps(r[4]) for r in rows],
            }
            with transaction.atomic():
                cursor.execute(FLOOR_LOGS, params)
                cursor.execute(FLOOR_MESSAGES, params)
                cursor.execute(FLOOR_FINISH, params)
            done += len(rows)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    messages = sql("SELECT count(*) FROM messaging_message WHERE origin LIKE %s", [f"flow:{flow.pk}:s2:%"])[0][0]
    drop_flow("bench flows: floor")
    result = {
        "value": round(done / wall, 1),
        "unit": "runs/s",
        "what": (
            f"hand-written SQL doing run_due's work for {count:,} due 'wait, then send' runs, {args.batch} a batch, "
            "one process: claim (UPDATE … FOR UPDATE SKIP LOCKED … RETURNING), then in one transaction 2 log rows, "
            "1 message and the runs' new state, each one statement over arrays (no re-check of filters, exit "
            "events or the daily cap: this flow has none)"
        ),
        "ms_per_run": round(1000 * wall / done, 3),
        "python_cpu_ms_per_run": round(1000 * cpu / done, 3),
        "messages": messages,
    }
    print(f"bench: floor {result}", flush=True)
    current = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    name = DUE_FIGURE
    if name in current:
        current[name]["floor"] = result
        RESULTS.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n")
