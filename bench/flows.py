"""Flows (issue 13, "Figures"): due-step latency at 1M customers / 500k waiting runs, 100k abandoned carts through
event ingestion to due sends, and a worker SIGKILLed mid-flow (zero duplicate sends).

    .venv/bin/python bench/flows.py --database-url postgres://postgres@127.0.0.1:5432/kervan_flowbench   # all three
    .venv/bin/python bench/flows.py --due [--rate 1000 --duration 60 --workers 2]
    .venv/bin/python bench/flows.py --carts [--carts-count 100000 --cart-rate 1000 --unless-hours 0.02]
    .venv/bin/python bench/flows.py --kill [--kill-runs 20000]
    .venv/bin/python bench/flows.py --floor [--floor-runs 20000]     # the same work by hand-written SQL
    .venv/bin/python bench/flows.py --profile [--profile-runs 2000]    # cProfile of run_due calls, in-process
    .venv/bin/python bench/flows.py --due --suggested [--suggest both|update|claim]   # see suggest_run_update

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
- --suggested runs the workers (or --profile) with changes this bench suggests for the engine, made in those
  processes only (Kervan's code is not touched); the figures are recorded under names that say so.

Results: bench/results/flows.json (merged with what is there).
"""

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from serving import start_server, stop_server  # bench/ is the script's folder

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "flows.json"
PG = "postgres://postgres@127.0.0.1:5432"
DEFAULT_URL = f"{PG}/kervan_flowbench"
CUSTOMERS = 1_000_000
WAITING_RUNS = 500_000
WAIT_HOURS = 24 * 7
CART_FIRST = 500_001  # customers 500,001… take the carts, 600,001… the kill test: none of them has another run
KILL_FIRST = 600_001
TICK = os.sysconf("SC_CLK_TCK")
CONTENT = {"tr": {"subject": "Bench", "html": "<p>Merhaba {{ customer.first_name }}</p>"}}


# --- set-up ------------------------------------------------------------------------------------------------------


def psql(database: str, sql: str) -> str:
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def environment(url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "KERVAN_SECRET_KEY": "bench-secret-key-not-for-production",
        "KERVAN_SSL_REDIRECT": "0",
        "KERVAN_CACHE_BACKEND": "kervan.core.redis_cache.RedisCache",
        "KERVAN_CACHE_LOCATION": "redis://127.0.0.1:6379/10",
        "KERVAN_PUBLIC_URL": "https://crm.example.com",
        "KERVAN_API_RATE_LIMIT": "100000000",
    }


def setup_django(url: str) -> dict:
    name = url.rsplit("/", 1)[1]
    env = environment(url)
    if not psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
        psql("postgres", f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # workers do the work
    return env


def sql(statement: str, params=None) -> list:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchall() if cursor.description else []


def ensure_customers() -> None:
    """1M customers and their stats rows, written once (the same INSERT … SELECT a generator would do by COPY)."""
    have = sql("SELECT count(*) FROM customers_customer")[0][0]
    if have >= CUSTOMERS:
        return
    started = time.monotonic()
    sql(
        """
        INSERT INTO customers_customer (id, created_at, updated_at, first_name, last_name, email, phone, gender, city,
            country, language, time_zone, custom_fields, consent_email, consent_sms, consent_call, consent_push,
            consent_whatsapp, search_key, name_key, email_key)
        SELECT g, now() - g * interval '20 seconds', now(), 'Ad' || g, 'Soyad' || g,
            'musteri' || g || '@example.net', '', '', (ARRAY['İstanbul','Ankara','İzmir','Bursa'])[1 + g %% 4], 'TR',
            'tr', 'Europe/Istanbul', '{}', CASE WHEN g %% 2 = 0 THEN 'granted' ELSE '' END, '', '', '', '',
            lower('ad' || g || ' soyad' || g || ' musteri' || g || '@example.net'), lower('ad' || g || ' soyad' || g),
            'musteri' || g || '@example.net'
        FROM generate_series(%s, %s) g
        """,
        [have + 1, CUSTOMERS],
    )
    sql(
        """
        INSERT INTO customers_customerstats (customer_id, currency, total_spent, order_count, average_order_value,
            returns_count, refunded_total)
        SELECT id, 'TRY', 0, 0, 0, 0, 0 FROM customers_customer ON CONFLICT DO NOTHING
        """
    )
    sql("SELECT setval(pg_get_serial_sequence('customers_customer', 'id'), (SELECT max(id) FROM customers_customer))")
    sql("VACUUM ANALYZE customers_customer")
    sql("VACUUM ANALYZE customers_customerstats")
    print(f"bench: {CUSTOMERS:,} customers written in {time.monotonic() - started:.0f} s", flush=True)


def template(purpose: str):
    from kervan.accounts.actors import Actor
    from kervan.messaging.actions import template_save
    from kervan.messaging.models import Template

    name = f"bench flows {purpose}"
    return Template.objects.filter(name=name).first() or template_save(
        actor=Actor.system(), name=name, channel="email", purpose=purpose, content=CONTENT
    )


def drop_flow(name: str) -> None:
    """An earlier run's flow of this name, its runs, their step logs and messages (set-based: runs are many)."""
    from kervan.flows.models import Flow

    for flow in Flow.objects.filter(name=name):
        sql("DELETE FROM messaging_message WHERE origin LIKE %s", [f"flow:{flow.pk}:%"])
        sql("DELETE FROM flows_flowsteplog WHERE flow_id = %s", [flow.pk])
        sql("DELETE FROM flows_flowrun WHERE flow_id = %s", [flow.pk])
        Flow.objects.filter(pk=flow.pk).update(live_version=None)
        flow.delete()


def make_flow(name: str, steps: dict, start: str = "s1"):
    from kervan.accounts.actors import Actor
    from kervan.flows.actions import flow_create, flow_publish

    drop_flow(name)
    actor = Actor.system()
    trigger = {"type": "event", "event": f"Bench never {uuid.uuid4().hex[:6]}"}  # nobody enters by itself
    flow = flow_create(actor=actor, name=name, trigger=trigger, graph={"start": start, "steps": steps})
    version = flow_publish(actor=actor, flow=flow)
    return flow, version


def insert_runs(flow, version, *, first_customer: int, count: int, step: str, due_sql: str, waited_sql: str) -> None:
    """`count` active runs for customers first_customer…, one INSERT … SELECT: due at `due_sql` (g is 1…count in
    it), entered (and at their step since) `waited_sql` (an interval) before that."""
    sql(
        f"""
        INSERT INTO flows_flowrun (due_at, leased_by, attempts, entry_key, status, step, seq, step_started_at,
            waiting_for, entered_at, exit_reason, context, customer_id, flow_id, version_id)
        SELECT d.due, '', 0, 'bench:' || d.g, 'active', %s, 0, d.due - {waited_sql}, '', d.due - {waited_sql}, '',
            '{{}}', %s + d.g - 1, %s, %s
        FROM (SELECT g, {due_sql} AS due FROM generate_series(1, %s) g) d
        """,
        [step, first_customer, flow.pk, version.pk, count],
    )


# --- processes ---------------------------------------------------------------------------------------------------


def start_workers(
    env: dict, n: int, *, batch: int, read_events: list[bool], log, suggested: str = ""
) -> list[subprocess.Popen]:
    workers = []
    for i in range(n):
        if suggested:  # the same command with the changes this bench suggests (see suggest_run_update)
            args = [sys.executable, "bench/flows.py", "--database-url", env["DATABASE_URL"], "--worker"]
            args += [
                "--batch",
                str(batch),
                "--suggest",
                suggested,
                *(["--worker-reads-events"] if read_events[i] else []),
            ]
        else:
            args = [sys.executable, "manage.py", "flows_run", "--batch", str(batch)]
            if not read_events[i]:
                args.append("--no-events")
        workers.append(subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=log))
    return workers


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def stop_workers(workers: list[subprocess.Popen]) -> list[float]:
    cpu = [cpu_seconds(w.pid) for w in workers]
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGINT)
    for w in workers:
        try:
            w.wait(timeout=20)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()
    return cpu


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_s": round(pct(values, 50), 3),
        "p95_s": round(pct(values, 95), 3),
        "p99_s": round(pct(values, 99), 3),
        "max_s": round(max(values), 3),
        "mean_s": round(statistics.fmean(values), 3),
    }


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def commit_ms() -> float:
    """One committed one-row write (a table of the bench's own, outside the schema), as the messaging bench reads
    how busy the machine's disk and PostgreSQL are."""
    from django.db import transaction

    sql("CREATE TABLE IF NOT EXISTS bench_commit (n int)")
    started = time.perf_counter()
    with transaction.atomic():
        sql("INSERT INTO bench_commit VALUES (1)")
    return round((time.perf_counter() - started) * 1000, 2)


def record(figures: dict) -> None:
    current = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    current.update(figures)
    RESULTS.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n")
    for name, figure in figures.items():
        print(f"bench: {name}: {figure['value']} {figure['unit']} (target {figure['target']})", flush=True)


def variant(args) -> str:
    """The figure's name says when its workers ran with the changes this bench suggests (not Kervan's code)."""
    if not args.suggested:
        return ""
    which = {"both": "changes", "update": "run update only", "claim": "claim read-back only"}[args.suggest]
    return f", workers with the suggested {which} (bench/flows.py --suggested)"


def command(args, part: str) -> str:
    return f"python bench/flows.py --database-url {args.database_url} {part}"


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
        suggested=args.suggested and args.suggest,
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
        f"flows: due step latency p95{variant(args)}, postgresql": {
            "value": value,
            "unit": "s",
            "target": "<= 5 s",
            "data": data,
            "db": "postgresql",
            "command": command(
                args,
                f"--due --rate {args.rate} --duration {args.duration} --workers {args.workers}"
                + (f" --suggested --suggest {args.suggest}" if args.suggested else ""),
            ),
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
    workers = start_workers(
        env, 2, batch=args.batch, read_events=[True, False], log=log, suggested=args.suggested and args.suggest
    )
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
        f"flows: abandoned carts to due sends, max{variant(args)}, postgresql": {
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
                f"--unless-hours {args.unless_hours}"
                + (f" --suggested --suggest {args.suggest}" if args.suggested else ""),
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
        "flows: worker kill, duplicate sends, postgresql": {
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


# --- profile ---------------------------------------------------------------------------------------------------

RUN_COLUMNS = {  # FlowRun fields run_due writes back, with their PostgreSQL types
    "status": "varchar",
    "step": "varchar",
    "seq": "int",
    "step_started_at": "timestamptz",
    "waiting_for": "varchar",
    "due_at": "timestamptz",
    "ended_at": "timestamptz",
    "exit_reason": "varchar",
    "context": "jsonb",
    "leased_by": "varchar",
    "leased_until": "timestamptz",
    "lease_token": "uuid",
}


def suggest_run_update() -> None:
    """For --suggested, in this process only: the change this bench suggests for kervan/flows/engine.py, FlowRun's
    bulk_update (a CASE per field per row) replaced by one UPDATE … FROM unnest(arrays)."""
    from django.db import connection

    from kervan.flows.models import FlowRun

    def bulk_update(objs, fields, batch_size=None):
        if not objs:
            return 0
        names = list(fields)
        columns = ", ".join(f"{n} = v.{n}" for n in names)
        arrays = ", ".join(f"%s::{RUN_COLUMNS[n]}[]" for n in names)
        values = [[o.pk for o in objs]]
        for n in names:
            column = [getattr(o, n) for o in objs]
            values.append([json.dumps(v) for v in column] if n == "context" else column)
        aliases = ", ".join(names)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE flows_flowrun r SET {columns} FROM unnest(%s::bigint[], {arrays}) AS v(id, {aliases}) "
                "WHERE r.id = v.id",
                values,
            )
            return cursor.rowcount

    FlowRun.objects.bulk_update = bulk_update


def suggest_claim() -> None:
    """For --suggested, in this process only: kervan.core.claim.claim_due reads its rows back by `lease_token`, which
    has no index (a sequential scan of every run, ~60-90 ms at 500k runs); by their ids it is an index scan. The
    same function otherwise, as the engine imports it."""
    from django.db import transaction
    from django.db.models import F, Q

    from kervan.core import clock
    from kervan.flows import engine

    def claim_due(work, *, worker: str, limit: int = 10, lease: dt.timedelta = engine.LEASE):
        now = clock.now()
        claimable = work.filter(Q(leased_until__isnull=True) | Q(leased_until__lte=now), due_at__lte=now)
        token = uuid.uuid4()
        with transaction.atomic():
            candidates = claimable.order_by("due_at", "pk").select_for_update(skip_locked=True, of=("self",))
            ids = list(candidates.values_list("pk", flat=True)[:limit])
            if not ids:
                return []
            claimable.filter(pk__in=ids).update(
                leased_by=worker, leased_until=now + lease, lease_token=token, attempts=F("attempts") + 1
            )
            rows = work.model._default_manager.filter(pk__in=ids, lease_token=token)
            return list(rows.order_by("due_at", "pk"))

    engine.claim_due = claim_due


def suggest(args) -> None:
    if args.suggest in ("both", "update"):
        suggest_run_update()
    if args.suggest in ("both", "claim"):
        suggest_claim()


def suggested_worker(args) -> None:
    """A flows_run worker with the suggested changes (suggest_run_update) applied in its process."""
    from django.core.management import call_command

    suggest(args)
    call_command("flows_run", "--batch", str(args.batch), *([] if args.worker_reads_events else ["--no-events"]))


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

    if args.suggested:
        suggest(args)
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
    name = "flows: due step latency p95, postgresql"
    if name in current:
        current[name]["floor"] = result
        RESULTS.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--due", action="store_true")
    parser.add_argument("--carts", action="store_true")
    parser.add_argument("--kill", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--floor", action="store_true", help="hand-written SQL doing run_due's work")
    parser.add_argument("--suggested", action="store_true", help="workers (or --profile) with the suggested changes")
    parser.add_argument(
        "--suggest", choices=("both", "update", "claim"), default="both", help="which suggested change (--suggested)"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker-reads-events", action="store_true", help=argparse.SUPPRESS)
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
    if args.worker:
        os.environ.update(environment(args.database_url))
        import django

        django.setup()
        suggested_worker(args)
        return
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
