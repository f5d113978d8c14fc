"""What bench/flows.py and bench/flows_floor.py share: the database and its 1M customers, flows and runs written in
bulk, worker processes, statistics and the results file."""

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

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
DUE_FIGURE = "a due step executed after it is due, p95, 1M customers and 500k waiting runs, postgresql"
CARTS_FIGURE = "100k abandoned carts through event ingestion become due sends after their wait ends, max, postgresql"
KILL_FIGURE = "duplicate sends when a worker is killed mid-flow, postgresql"
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


def start_workers(env: dict, n: int, *, batch: int, read_events: list[bool], log) -> list[subprocess.Popen]:
    workers = []
    for i in range(n):
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
    for name, figure in figures.items():  # a floor measured apart (--floor) stays with its figure
        if "floor" not in figure and "floor" in current.get(name, {}):
            figure["floor"] = current[name]["floor"]
    current.update(figures)
    RESULTS.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n")
    for name, figure in figures.items():
        print(f"bench: {name}: {figure['value']} {figure['unit']} (target {figure['target']})", flush=True)


def command(args, part: str) -> str:
    return f"python bench/flows.py --database-url {args.database_url} {part}"
