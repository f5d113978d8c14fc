"""Flows (issue 13, "Figures"): due-step latency at 1M customers / 500k waiting runs, 100k abandoned carts through
event ingestion to due sends, and a worker SIGKILLed mid-flow (zero duplicate sends).

    .venv/bin/python bench/flows.py --database-url postgres://postgres@127.0.0.1:5432/kervan_flowbench   # all three
    .venv/bin/python bench/flows.py --due [--rate 1000 --duration 60 --workers 2]
    .venv/bin/python bench/flows.py --carts [--carts-count 100000 --cart-rate 1000 --unless-hours 0.02]
    .venv/bin/python bench/flows.py --kill [--kill-runs 20000]
    .venv/bin/python bench/flows.py --floor [--floor-runs 20000]     # the same work by hand-written SQL
    .venv/bin/python bench/flows.py --profile [--profile-runs 2000]    # cProfile of run_due calls, in-process

The database is created and migrated if it is missing; 1M customers (and their stats rows) are written with one
INSERT … SELECT from generate_series (not measured). Workers are `manage.py flows_run` processes with production
settings, as `make run` starts them.

- Due steps (--due): a flow "wait 7 days, then send" (a transactional template) and 500k runs in its wait, written
  with one INSERT … SELECT: `--rate` x `--duration` of them fall due one after another from a moment just after
  the workers start (a steady stream), the rest at random times 10 minutes to 7 days ahead. Per run: from the due
  time (entered_at + 7 days) to its step's log row (`FlowStepLog.at`, the time the worker took the batch) and to its
  message row (`Message.created_at`, written just before the batch commits).
- Abandoned carts (--carts): the library's "abandoned_cart" flow, holdout 0, its "unless Placed Order within N
  hours" set to --unless-hours. Kervan is served with granian; "Started Checkout" events for 100k distinct customers
  are posted to POST /api/v1/events/batch (100 a request) at --cart-rate events per second, while two flows_run
  workers run (one reads the events, both execute due steps). Per customer: from the end of its wait
  (entered_at + N hours) to its first message row (origin flow:<id>:s1:…).
- Worker kill (--kill): --kill-runs due runs of a "send" flow, two workers; one is SIGKILLed once a quarter of the
  messages exist and it holds a claim (mid-batch); the other goes on, and takes over the dead one's claim when its
  2-minute lease (engine.LEASE, not configurable) runs out. Then: message rows per (customer, step) and missing ones.

Results: bench/results/flows.json (merged with what is there).
"""

import argparse
import datetime as dt
import json
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

from flows_floor import floor, profile
from flows_setup import (  # the set-up both scripts share
    CART_FIRST,
    CARTS_FIGURE,
    CUSTOMERS,
    DEFAULT_URL,
    DUE_FIGURE,
    KILL_FIGURE,
    KILL_FIRST,
    ROOT,
    WAIT_HOURS,
    WAITING_RUNS,
    command,
    commit_ms,
    drop_flow,
    ensure_customers,
    insert_runs,
    load,
    make_flow,
    record,
    setup_django,
    sql,
    start_workers,
    stop_workers,
    summary,
    template,
)
from serving import start_server, stop_server  # bench/ is the script's folder

# --- 1. due steps ------------------------------------------------------------------------------------------------


def due(args, env: dict) -> None:
    from kervan.flows.models import FlowRun

    send = template("transactional")
    flow, version = make_flow(
        "bench flows: due",
        {
            "s1": {"type": "wait", "hours": WAIT_HOURS, "next": "s2"},
            "s2": {"type": "send", "template": send.pk, "channel": "email", "next": None},
        },
    )
    stream = args.rate * args.duration
    lead = 20.0  # seconds between writing the stream's due times and its first run falling due
    started = time.monotonic()
    # Waiting runs: due 10 minutes to 7 days from now (entered up to 7 days ago); the stream's get their times below.
    insert_runs(
        flow,
        version,
        first_customer=1,
        count=WAITING_RUNS,
        step="s1",
        due_sql="now() + interval '10 minutes' + random() * (interval '7 days' - interval '10 minutes')",
        waited_sql=f"interval '{WAIT_HOURS} hours'",
    )
    sql("VACUUM ANALYZE flows_flowrun")
    print(f"bench: {WAITING_RUNS:,} waiting runs written in {time.monotonic() - started:.0f} s", flush=True)
    log = open(ROOT / "var" / "bench_flows_due.log", "w")  # noqa: SIM115 (open for the workers' lifetime)
    t0 = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=lead)
    # The stream: the runs with the lowest ids fall due at `rate` a second.
    sql(
        """
        UPDATE flows_flowrun r SET due_at = s.due, entered_at = s.due - %s * interval '1 hour',
            step_started_at = s.due - %s * interval '1 hour'
        FROM (SELECT id, %s::timestamptz + (row_number() OVER (ORDER BY id) - 1) * (1.0 / %s) * interval '1 second'
              AS due FROM flows_flowrun WHERE flow_id = %s ORDER BY id LIMIT %s) s
        WHERE r.id = s.id
        """,
        [WAIT_HOURS, WAIT_HOURS, t0, args.rate, flow.pk, stream],
    )
    commit_before = commit_ms()
    workers = start_workers(
        env,
        args.workers,
        batch=args.batch,
        read_events=[False] * args.workers,
        log=log,
    )
    loads = []
    deadline = t0 + dt.timedelta(seconds=args.duration + args.drain)
    active = FlowRun.objects.filter(flow=flow, status=FlowRun.Status.ACTIVE)
    while dt.datetime.now(dt.UTC) < deadline:
        time.sleep(2)
        loads.append(float(load()))
        if dt.datetime.now(dt.UTC) > t0 + dt.timedelta(seconds=args.duration):
            if not active.filter(due_at__lte=t0 + dt.timedelta(seconds=args.duration)).exists():
                break
    cpu = stop_workers(workers)
    log.close()
    left = active.filter(due_at__lte=t0 + dt.timedelta(seconds=args.duration)).count()
    wait_end = f"r.entered_at + {WAIT_HOURS} * interval '1 hour'"
    logged = [
        row[0]
        for row in sql(
            f"SELECT EXTRACT(EPOCH FROM l.at - ({wait_end}))::float FROM flows_flowsteplog l "
            "JOIN flows_flowrun r ON r.id = l.run_id WHERE l.flow_id = %s AND l.step = 's1'",
            [flow.pk],
        )
    ]
    written = [
        row[0]
        for row in sql(
            f"SELECT EXTRACT(EPOCH FROM m.created_at - ({wait_end}))::float FROM messaging_message m "
            "JOIN flows_flowrun r ON r.id = split_part(split_part(m.origin, ':', 4), '.', 1)::bigint "
            "WHERE m.origin LIKE %s",
            [f"flow:{flow.pk}:s2:%"],
        )
    ]
    executed = len(logged)
    by_log, by_message = summary(logged), summary(written)
    value = by_message.get("p95_s")
    data = (
        f"{CUSTOMERS / 1e6:g}M customers, {WAITING_RUNS // 1000}k runs in a 7-day wait of a 'wait, then send' flow "
        f"(transactional template); {stream:,} of them falling due at {args.rate}/s for {args.duration} s, the rest "
        f"10 min-7 days ahead; {args.workers} `flows_run --no-events --batch {args.batch}` worker(s), production "
        "settings; 2 shared cores; latency per run from its due time to its message row (Message.created_at, "
        "written just before the batch commits)"
    )
    figures = {
        DUE_FIGURE: {
            "value": value,
            "unit": "s",
            "target": "<= 5 s",
            "data": data,
            "db": "postgresql",
            "command": command(args, f"--due --rate {args.rate} --duration {args.duration} --workers {args.workers}"),
            "due_to_message_written": by_message,
            "due_to_step_log_at": by_log,
            "step_log_note": "FlowStepLog.at is the time the worker took the batch (clock.now() after the claim)",
            "runs_due": stream,
            "runs_executed": executed,
            "due_runs_left_unexecuted": left,
            "rate_per_s": args.rate,
            "worker_cpu_s": [round(c, 1) for c in cpu],
            "worker_cpu_ms_per_run": round(1000 * sum(cpu) / executed, 2) if executed else None,
            "load_max": max(loads) if loads else None,
            "commit_ms_before": commit_before,
        }
    }
    record(figures)


# --- 2. abandoned carts ------------------------------------------------------------------------------------------


class Poster:
    def __init__(self, base: str, key: str):
        self.base, self.key = base, key

    def post(self, items: list[dict]) -> None:
        request = urllib.request.Request(
            self.base + "/api/v1/events/batch",
            data=json.dumps({"batch": items}).encode(),
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                if response.status != 202:
                    raise RuntimeError(f"events answered {response.status}: {response.read()[:300]!r}")
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"events refused: {error.code} {error.read()[:500]!r}") from None


def checkout(customer_id: int) -> dict:
    product = random.randint(1, 500)
    return {
        "type": "track",
        "event_id": str(uuid.uuid4()),
        "name": "Started Checkout",
        "customer_id": customer_id,
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        "properties": {
            "value": 349.9,
            "currency": "TRY",
            "items": [{"product_id": product, "title": f"Ürün {product}", "price": 349.9, "quantity": 1}],
        },
    }


def carts(args, env: dict) -> None:
    from kervan.accounts.actions import api_key_create
    from kervan.accounts.actors import Actor
    from kervan.events.models import Event
    from kervan.flows.actions import flow_publish, flow_update
    from kervan.flows.library import library_start
    from kervan.flows.models import Flow, FlowRun, TriggerCursor

    name = "bench flows: abandoned cart"
    drop_flow(name)
    for stale in Flow.objects.filter(library_key="abandoned_cart"):  # an earlier run's, under the library's name
        drop_flow(stale.name)
    actor = Actor.system()
    flow = library_start(actor=actor, key="abandoned_cart", publish=False)
    trigger = {**flow.trigger, "unless": {**flow.trigger["unless"], "hours": args.unless_hours}}
    flow_update(actor=actor, flow=flow, name=name, trigger=trigger, settings={**flow.settings, "holdout_percent": 0})
    flow_publish(actor=actor, flow=flow)
    wait = dt.timedelta(hours=args.unless_hours)
    customers = list(range(CART_FIRST, CART_FIRST + args.carts_count))
    random.shuffle(customers)
    _, key = api_key_create(actor=actor, name=f"bench flows {uuid.uuid4().hex[:6]}", scopes={"events": "write"})
    # An earlier run's checkouts of these customers would be read again (the reader re-reads a margin of ids behind
    # its position) and let them in with their old times: the bench's events are its own, so they go.
    sql(
        "DELETE FROM events_event WHERE name = 'Started Checkout' AND customer_id BETWEEN %s AND %s",
        [CART_FIRST, CART_FIRST + args.carts_count - 1],
    )
    newest = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    TriggerCursor.objects.update_or_create(name="events", defaults={"position": newest})
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"], cwd=ROOT, check=True, env=env
    )
    log = open(ROOT / "var" / "bench_flows_carts.log", "w")  # noqa: SIM115 (open for the processes' lifetime)
    server, base = start_server(port=args.port, workers=1, env=env, ready_path="/accounts/login/", threads=4, log=log)
    workers = start_workers(env, 2, batch=args.batch, read_events=[True, False], log=log)
    poster = Poster(base, key)
    failed: list[str] = []
    senders = 2
    batch = 100
    chunks = [customers[i : i + batch] for i in range(0, len(customers), batch)]
    interval = batch * senders / args.cart_rate
    commit_before = commit_ms()
    posted_started = time.monotonic()
    posted_at = dt.datetime.now(dt.UTC)

    def send(k: int) -> None:
        try:
            next_at = time.monotonic()
            for chunk in chunks[k::senders]:
                poster.post([checkout(c) for c in chunk])
                next_at += interval
                pause = next_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
        except Exception as error:  # noqa: BLE001 - reported and stops the figure
            failed.append(repr(error))

    threads = [threading.Thread(target=send, args=(k,)) for k in range(senders)]
    for t in threads:
        t.start()
    loads = []
    while any(t.is_alive() for t in threads):
        time.sleep(2)
        loads.append(float(load()))
    posting_s = time.monotonic() - posted_started
    print(f"bench: {len(customers):,} checkouts posted in {posting_s:.1f} s", flush=True)
    origin = f"flow:{flow.pk}:s1:%"
    deadline = time.monotonic() + wait.total_seconds() + args.drain
    while time.monotonic() < deadline and not failed:
        time.sleep(2)
        loads.append(float(load()))
        if sql("SELECT count(*) FROM messaging_message WHERE origin LIKE %s", [origin])[0][0] >= len(customers):
            break
    cpu = stop_workers(workers)
    stop_server(server)
    log.close()
    if failed:
        sys.exit(f"bench: posting failed: {failed[:3]}")
    entered = FlowRun.objects.filter(flow=flow).count()
    entered_before = FlowRun.objects.filter(flow=flow, entered_at__lt=posted_at).count()  # must be 0
    rows = sql(
        "SELECT EXTRACT(EPOCH FROM m.created_at - (r.entered_at + %s))::float FROM flows_flowrun r "
        "LEFT JOIN messaging_message m ON m.customer_id = r.customer_id AND m.origin LIKE %s WHERE r.flow_id = %s",
        [wait, origin, flow.pk],
    )
    latencies = [row[0] for row in rows if row[0] is not None]
    missing = len(customers) - len(latencies)
    within = sum(1 for v in latencies if v <= 60)
    stats = summary(latencies)
    figures = {
        CARTS_FIGURE: {
            "value": round(max(latencies), 1) if latencies and not missing else None,
            "unit": "s",
            "target": "<= 60 s (every cart)",
            "data": (
                f"{len(customers) // 1000}k 'Started Checkout' events for as many customers (1M customers, "
                f"{WAITING_RUNS // 1000}k runs of another flow waiting) posted to POST /api/v1/events/batch, 100 a "
                f"request, at {args.cart_rate} events/s (granian 1 worker x 4 threads, production settings); the "
                f"library's abandoned-cart flow, holdout 0, its wait ('unless Placed Order within N hours') "
                f"{args.unless_hours} h = {wait.total_seconds():.0f} s; 2 `flows_run --batch {args.batch}` workers "
                "(one reads events); 2 shared cores; latency per customer from the end of its wait (entered_at + "
                "the wait) to its first message row (Message.created_at)"
            ),
            "db": "postgresql",
            "command": command(
                args,
                f"--carts --carts-count {args.carts_count} --cart-rate {args.cart_rate} "
                f"--unless-hours {args.unless_hours}",
            ),
            "latency": stats,
            "within_60_s_share": round(within / len(customers), 4),
            "carts": len(customers),
            "runs_entered": entered,
            "runs_entered_before_posting": entered_before,
            "messages_missing": missing,
            "posting_s": round(posting_s, 1),
            "worker_cpu_s": [round(c, 1) for c in cpu],
            "load_max": max(loads) if loads else None,
            "commit_ms_before": commit_before,
        }
    }
    record(figures)


# --- 3. worker kill ----------------------------------------------------------------------------------------------


def kill(args, env: dict) -> None:
    from kervan.flows.engine import LEASE
    from kervan.flows.models import FlowRun, FlowStepLog

    send = template("transactional")
    flow, version = make_flow(
        "bench flows: kill", {"s1": {"type": "send", "template": send.pk, "channel": "email", "next": None}}
    )
    count = args.kill_runs
    insert_runs(
        flow,
        version,
        first_customer=KILL_FIRST,
        count=count,
        step="s1",
        due_sql="now() - interval '1 second'",
        waited_sql="interval '1 minute'",
    )
    sql("ANALYZE flows_flowrun")
    origin = f"flow:{flow.pk}:s1:%"
    log = open(ROOT / "var" / "bench_flows_kill.log", "w")  # noqa: SIM115 (open for the workers' lifetime)
    workers = start_workers(env, 2, batch=args.batch, read_events=[False, False], log=log)
    messages = 0
    give_up = time.monotonic() + 120
    while messages < count // 4:
        if time.monotonic() > give_up or any(w.poll() is not None for w in workers):
            stop_workers(workers)
            sys.exit("bench: the workers did not get a quarter of the way (see var/bench_flows_kill.log)")
        time.sleep(0.05)
        messages = sql("SELECT count(*) FROM messaging_message WHERE origin LIKE %s", [origin])[0][0]
    victim = workers[0]
    # Mid-batch: once it holds a claim (runs leased, their effects not yet committed), after a random part of a second.
    holding = FlowRun.objects.filter(flow=flow, leased_by__endswith=f":{victim.pid}", status=FlowRun.Status.ACTIVE)
    while not holding.exists():
        if time.monotonic() > give_up:
            stop_workers(workers)
            sys.exit("bench: the worker to kill never held a claim")
        time.sleep(0.01)
    time.sleep(random.uniform(0, 0.2))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = time.monotonic()
    name_prefix = f":{victim.pid}"
    held = FlowRun.objects.filter(flow=flow, leased_by__endswith=name_prefix, status=FlowRun.Status.ACTIVE).count()
    print(f"bench: worker {victim.pid} killed at {messages:,} messages, holding {held} runs", flush=True)
    active = FlowRun.objects.filter(flow=flow, status=FlowRun.Status.ACTIVE)
    deadline = killed_at + LEASE.total_seconds() + args.drain
    while time.monotonic() < deadline and active.exists():
        time.sleep(1)
    finished_s = time.monotonic() - killed_at
    stop_workers(workers[1:])
    log.close()
    per_customer = sql(
        "SELECT customer_id, count(*) FROM messaging_message WHERE origin LIKE %s GROUP BY customer_id", [origin]
    )
    duplicates = sum(n - 1 for _, n in per_customer if n > 1)
    missing = count - len(per_customer)
    log_duplicates = sql(
        "SELECT count(*) FROM (SELECT run_id, step FROM flows_flowsteplog WHERE flow_id = %s GROUP BY run_id, step "
        "HAVING count(*) > 1) d",
        [flow.pk],
    )[0][0]
    figures = {
        KILL_FIGURE: {
            "value": duplicates,
            "unit": "duplicates",
            "target": "0 duplicates, 0 missing",
            "data": (
                f"{count:,} due runs of a one-step 'send' flow (transactional template), 2 `flows_run --no-events "
                f"--batch {args.batch}` workers; one SIGKILLed once {messages:,} messages existed, holding a claim "
                f"of {held} runs; the other went on and took those over when the {LEASE.total_seconds() / 60:.0f}-"
                "minute lease ran out; message rows counted per (customer, step)"
            ),
            "db": "postgresql",
            "command": command(args, f"--kill --kill-runs {count}"),
            "missing": missing,
            "messages": sum(n for _, n in per_customer),
            "runs_held_by_killed_worker": held,
            "runs_claimed_twice": FlowRun.objects.filter(flow=flow, attempts__gte=2).count(),
            "step_log_duplicates": log_duplicates,
            "runs_left_active": active.count(),
            "seconds_from_kill_to_all_done": round(finished_s, 1),
            "logs": FlowStepLog.objects.filter(flow=flow).count(),
        }
    }
    record(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--due", action="store_true")
    parser.add_argument("--carts", action="store_true")
    parser.add_argument("--kill", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--floor", action="store_true", help="hand-written SQL doing run_due's work")
    parser.add_argument("--rate", type=int, default=1000, help="runs falling due per second (--due)")
    parser.add_argument("--duration", type=int, default=60, help="seconds of the due stream (--due)")
    parser.add_argument("--workers", type=int, default=2, choices=(1, 2))
    parser.add_argument("--batch", type=int, default=500, help="flows_run --batch")
    parser.add_argument("--drain", type=int, default=120, help="seconds allowed after the load for the backlog")
    parser.add_argument("--carts-count", type=int, default=100_000)
    parser.add_argument("--cart-rate", type=int, default=1000, help="checkout events posted per second")
    parser.add_argument("--unless-hours", type=float, default=0.02)
    parser.add_argument("--port", type=int, default=8437)
    parser.add_argument("--kill-runs", type=int, default=20_000)
    parser.add_argument("--profile-runs", type=int, default=2000)
    parser.add_argument("--floor-runs", type=int, default=20_000)
    args = parser.parse_args()
    if not (args.due or args.carts or args.kill or args.profile or args.floor):
        args.due = args.carts = args.kill = True
    env = setup_django(args.database_url)
    (ROOT / "var").mkdir(exist_ok=True)
    ensure_customers()
    if args.profile:
        profile(args)
    if args.due:
        due(args, env)
    if args.floor:
        floor(args)
    if args.carts:
        carts(args, env)
    if args.kill:
        kill(args, env)


if __name__ == "__main__":
    main()
