"""A 100k-recipient email campaign end to end (issue 12, "Figures"): campaign_start queues it, then `--workers`
processes of `manage.py messages_send` claim, check the policy, render (~5 KB personalised HTML: first name, a unique
coupon, a product grid, several links, CSS inlined, links tracked), send and record, to an aiosmtpd server on loopback
that runs in its own process (it does not share the workers' GIL) and counts what arrives by X-Kervan-Message.

    .venv/bin/python bench/campaign_send.py --database-url postgres://postgres@127.0.0.1:5432/kervan_msgbench \\
        --workers 1 --workers 2 --duration 60   # the figure, for 1 and for 2 workers, and the smtplib floor
    .venv/bin/python bench/campaign_send.py --database-url ... --kill --kill-size 10000   # one worker SIGKILLed
    .venv/bin/python bench/campaign_send.py --database-url ... --profile 5000   # cProfile of one worker
    .venv/bin/python bench/campaign_send.py --database-url ... --breakdown      # CPU per step of one message

With --duration the workers are stopped after that many seconds and the rate is what arrived meanwhile (a whole
100k campaign takes 12-70 minutes at the rates measured); without it they run until nothing is due.

The database is one made by `manage.py demo_load` (100k customers, orders not needed). Before the first run every
customer is given an email address (demo customers without one get musteriN@example.net) and a granted email consent
(a ledger record per address, and the consent_email cache column set, as kervan.customers.consent_state keeps them),
and a static list holds them all. Each run first deletes the messages and "Received Email" events of earlier runs: the
frequency cap (one marketing email in 16 hours) would otherwise hold everybody back.

Floor: --floor-count (20k) pre-rendered messages of about the same size (built before the clock starts) pushed by plain
smtplib over one connection to the same server. Writes bench/results/messaging.json (merged with what is there).
"""

import argparse
import collections
import json
import os
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

from smtp_sink import Server  # bench/smtp_sink.py: this script's folder is on the path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "messaging.json"
PYTHON = sys.executable
WORK = Path(os.environ.get("KERVAN_BENCH_TMP", "/tmp/kervan-campaign-send"))
TARGET = 500
KILL_DATA = (
    "; 2 workers, one SIGKILLed when a third had arrived, the other went on; the dead worker's rows were taken over "
    "once their 2-minute lease ran out (by the survivor while it still ran, else by a restarted worker, started after "
    "the lease's end)"
)

HTML = """<html><head><style>
body { margin: 0; background: #f4f4f4; font-family: Arial, Helvetica, sans-serif; color: #222; }
.wrap { max-width: 600px; margin: 0 auto; background: #ffffff; }
.hero { padding: 24px; background: #1d3557; color: #ffffff; text-align: center; }
.hero h1 { font-size: 26px; margin: 0 0 8px 0; }
.coupon { display: inline-block; padding: 10px 18px; border: 2px dashed #e63946; font-size: 20px; }
.grid td { width: 33%; padding: 8px; text-align: center; vertical-align: top; }
.grid img { width: 160px; height: 160px; border: 0; }
.btn { display: inline-block; padding: 12px 22px; background: #e63946; color: #ffffff; text-decoration: none; }
.foot { padding: 16px; font-size: 11px; color: #777; text-align: center; }
</style></head><body><div class="wrap">
<div class="hero"><h1>Merhaba {{ customer.first_name | default('değerli müşterimiz') }}!</h1>
<p>Kış indirimi başladı: seçili ürünlerde %30'a varan fırsatlar sizi bekliyor.</p>
<p>Size özel kupon kodunuz: <span class="coupon">{{ coupon('KIS30') }}</span></p>
<p><a class="btn" href="https://shop.example.com/kis-indirimi?kanal=eposta">Alışverişe başla</a></p></div>
<table class="grid" width="100%" cellpadding="0" cellspacing="0"><tr>
{% for p in products %}<td><a href="https://shop.example.com/urun/{{ p.id }}">
<img src="https://cdn.example.com/urun/{{ p.id }}/kapak.jpg" alt="{{ p.title }}"></a>
<p><strong>{{ p.title }}</strong><br>{{ p.brand }}</p>
<p><a href="https://shop.example.com/urun/{{ p.id }}?renk=tum">İncele</a></p></td>
{% if loop.index is divisibleby 3 and not loop.last %}</tr><tr>{% endif %}{% endfor %}
</tr></table>
<div style="padding: 16px 24px;"><p>{{ customer.first_name }}, {{ customer.city | default('Türkiye') }} için kargo
bu hafta ücretsiz. Sepetinize eklediğiniz ürünler için stoklar sınırlı; kupon kodu 31 Aralık'a kadar geçerli ve tek
kullanımlık. Ürün iadelerinde 30 gün koşulsuz iade hakkınız saklıdır.</p>
<p><a href="https://shop.example.com/yeni-gelenler">Yeni gelenler</a> ·
<a href="https://shop.example.com/cok-satanlar">Çok satanlar</a> ·
<a href="https://shop.example.com/magazalar">Mağazalarımız</a> ·
<a href="https://shop.example.com/yardim">Yardım</a></p></div>
<div class="foot"><p>Bu e-postayı {{ customer.email }} adresine, ticari ileti onayınız olduğu için gönderdik.</p>
<p><a href="{{ preferences_url }}">İleti tercihleriniz</a> · <a href="{{ unsubscribe_url }}">Abonelikten çık</a></p>
<p>Örnek Mağaza A.Ş. · Levent Mah. Büyükdere Cad. No:1 · 34330 Beşiktaş / İstanbul · Mersis 0123456789000015</p>
</div></div></body></html>"""
CONTENT = {"tr": {"subject": "{{ customer.first_name | default('Merhaba') }}, kış indirimi başladı", "html": HTML}}


# --- the database ------------------------------------------------------------------------------------------------


def setup_django(database_url: str) -> dict[str, str]:
    """Production settings, as bench/customer360.py runs them; the same environment is given to the workers."""
    env = {
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "KERVAN_SECRET_KEY": "bench-secret-key-not-for-production",
        "KERVAN_SSL_REDIRECT": "0",
        "KERVAN_CACHE_BACKEND": "kervan.core.redis_cache.RedisCache",
        "KERVAN_CACHE_LOCATION": "redis://127.0.0.1:6379/9",
        "KERVAN_PUBLIC_URL": "https://crm.example.com",
        "KERVAN_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "KERVAN_EMAIL_HOST": "127.0.0.1",
        "KERVAN_EMAIL_STARTTLS": "",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings

    # campaign_start wakes the sending task on commit; here only the worker processes send.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    return env


def prepare(size: int) -> tuple:
    """Everybody reachable by email (an address, a granted consent), the template, the sender, and a static list of
    `size` customers (made once, reused)."""
    from django.db import connection, transaction

    from kervan.accounts.actors import Actor
    from kervan.customers.models import ConsentRecord, Customer
    from kervan.messaging.actions import sender_save, template_save
    from kervan.messaging.models import SenderIdentity, Template
    from kervan.segments.actions import segment_create
    from kervan.segments.models import Segment

    system = Actor.system()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE customers_customer SET email = 'musteri' || id || '@example.net', "
            "email_key = 'musteri' || id || '@example.net' WHERE email = ''"
        )
        missing = list(Customer.objects.exclude(consent_email="granted").values_list("pk", "email_key"))
        if missing:
            from kervan.core import clock

            now = clock.now()
            ConsentRecord.objects.bulk_create(
                (
                    ConsentRecord(
                        customer_id=pk,
                        channel="email",
                        purpose="marketing",
                        status="granted",
                        source="bench",
                        occurred_at=now,
                        address=key,
                    )
                    for pk, key in missing
                ),
                batch_size=5000,
            )
            Customer.objects.exclude(consent_email="granted").update(consent_email="granted")
    template = Template.objects.filter(name="bench: kış indirimi").first()
    if template is None or template.content != CONTENT:
        template = template_save(
            actor=system, name="bench: kış indirimi", channel="email", purpose="marketing", content=CONTENT,
            template=template,
        )  # fmt: skip
    sender = SenderIdentity.objects.filter(channel="email", address="kampanya@shop.example.com").first()
    if sender is None:
        sender = sender_save(actor=system, channel="email", address="kampanya@shop.example.com", name="Örnek Mağaza")
    name = f"bench: {size} customers"
    segment = Segment.objects.filter(name=name).first()
    if segment is None:
        segment = segment_create(actor=system, name=name, kind="static")
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO segments_segmentmembership (segment_id, customer_id, entered_at) "
                "SELECT %s, id, now() FROM customers_customer WHERE merged_into_id IS NULL ORDER BY id LIMIT %s",
                [segment.pk, size],
            )
        Segment.objects.filter(pk=segment.pk).update(member_count=size)
    return template, sender, segment


def reset() -> None:
    """Forget earlier runs: their messages (they would cap everybody) and what they wrote on the timelines."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM events_event WHERE name = 'Received Email'")
        cursor.execute("DELETE FROM messaging_message")
        cursor.execute("DELETE FROM campaigns_campaign_segments")
        cursor.execute("DELETE FROM campaigns_campaign_excluded_segments")
        cursor.execute("DELETE FROM campaigns_campaign")
        cursor.execute("ANALYZE messaging_message")


def start_campaign(template, sender, segment) -> tuple:
    """Save, schedule and start (queue) the campaign; returns it and the seconds campaign_start took."""
    from kervan.accounts.actors import Actor
    from kervan.campaigns.actions import campaign_save, campaign_schedule, campaign_start

    system = Actor.system()
    campaign = campaign_save(actor=system, name="bench", template=template, segments=[segment], sender=sender)
    campaign_schedule(actor=system, campaign=campaign)
    started = time.monotonic()
    queued = campaign_start(campaign_id=campaign.pk)
    return campaign, queued, time.monotonic() - started


def worker(name: str, env: dict, port: int, *, batch: int, profile: Path | None = None) -> subprocess.Popen:
    args = [PYTHON, "manage.py", "messages_send", "--worker", name, "--batch", str(batch)]
    if profile is not None:
        args = [PYTHON, "-m", "cProfile", "-o", str(profile), *args[1:]]
    full = {**os.environ, **env, "KERVAN_EMAIL_PORT": str(port)}
    return subprocess.Popen(args, cwd=ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def outcome(campaign, server: Server) -> dict:
    """What the server got against what the database says: duplicates, lost, interrupted."""
    from django.utils import translation

    from kervan.messaging.models import Message
    from kervan.messaging.sending import _interrupted

    words = set()
    for language in ("en", "tr"):  # the worker writes it in the install's language
        with translation.override(language):
            words.add(_interrupted())
    keys = collections.Counter(server.keys())
    rows = list(Message.objects.filter(origin=campaign.origin).values_list("pk", "status", "error"))
    queued = {f"kervan-{pk}" for pk, _, _ in rows}
    interrupted = {f"kervan-{pk}" for pk, status, error in rows if status == "failed" and error in words}
    statuses = collections.Counter(status for _, status, _ in rows)
    return {
        "queued": len(queued),
        "received": len(keys),
        "duplicates": sum(n - 1 for n in keys.values() if n > 1),
        "lost": len(queued - set(keys) - interrupted),
        "interrupted": len(interrupted),
        "interrupted_and_received": len(interrupted & set(keys)),
        "foreign": len(set(keys) - queued),
        "statuses": dict(statuses),
    }


def run_send(args, env, server: Server, parts, workers: int) -> dict:
    """Queue the whole campaign (timed), then let `workers` processes send. With --duration they are stopped after
    that many seconds and the rate is what arrived in that time (the whole campaign's time is then projected from
    it); without, they run until nothing is due."""
    reset()
    server.clear()
    campaign, queued, queue_s = start_campaign(*parts)
    cpu_before = _children_cpu()
    started = time.monotonic()
    procs = [worker(f"bench-{i}", env, server.port, batch=args.batch) for i in range(workers)]
    if args.duration:
        time.sleep(args.duration)
        received = server.count()
        send_s = time.monotonic() - started
        for p in procs:
            p.send_signal(signal.SIGKILL)
        outputs = [p.communicate()[0] for p in procs]
    else:
        outputs = [p.communicate()[0] for p in procs]
        send_s = time.monotonic() - started
        received = server.count()
    rate_send = received / send_s
    worker_cpu = _children_cpu() - cpu_before
    commit_ms = commit_latency()
    result = {
        "workers": workers,
        "queued": queued,
        "received": received,
        "queue_s": round(queue_s, 2),
        "send_s": round(send_s, 2),
        "stopped_after_duration": bool(args.duration),
        "rate_send": round(rate_send, 1),
        # the whole campaign: queueing, then sending all of it at the measured rate
        "rate_end_to_end": round(queued / (queue_s + queued / rate_send), 1) if rate_send else 0.0,
        "outputs": [o.strip().splitlines()[-1] if o.strip() else "" for o in outputs],
        # the workers' own CPU (user + system), Django's start-up included: what one message costs in Python
        "worker_cpu_ms_per_message": round(1000 * worker_cpu / received, 1) if received else None,
        "commit_ms_after_run": commit_ms,
    }
    if not args.duration:
        result.update(outcome(campaign, server))
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return result


def commit_latency(n: int = 20) -> float:
    """Median milliseconds of one committed single-row UPDATE on this database now: what each synchronous commit
    of a worker waits for (the WAL flushed to disk), with whatever else the machine's disk is doing."""
    import statistics

    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_commit_probe (id int PRIMARY KEY, n int)")
        cursor.execute("INSERT INTO bench_commit_probe VALUES (1, 0) ON CONFLICT DO NOTHING")
    times = []
    for _ in range(n):
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE bench_commit_probe SET n = n + 1 WHERE id = 1")
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 2)


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_kill(args, env, server: Server, parts) -> dict:
    """Two workers; one SIGKILLed when a third has arrived; the other goes on; the dead worker's rows are taken over
    once their lease (sending.LEASE) has really run out: by the survivor if it still runs then, else by a worker
    restarted after the lease's end."""
    from django.db.models import Max

    from kervan.messaging.models import Message

    reset()
    server.clear()
    campaign, queued, _ = start_campaign(*parts)
    started = time.monotonic()
    victim = worker("bench-victim", env, server.port, batch=args.batch)
    survivor = worker("bench-survivor", env, server.port, batch=args.batch)
    while server.count() < queued // 3:
        if victim.poll() is not None:
            raise SystemExit("the victim ended before it was killed")
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = server.count()
    print(f"killed bench-victim with {killed_at} received", flush=True)
    survivor.communicate()
    lease_end = Message.objects.filter(leased_by="bench-victim").aggregate(end=Max("leased_until"))["end"]
    held = Message.objects.filter(leased_by="bench-victim").count()
    from kervan.core import clock

    wait = max(0.0, (lease_end - clock.now()).total_seconds() + 1) if lease_end else 0.0
    print(f"bench-victim held {held} rows; waiting {wait:.0f} s for its lease to run out", flush=True)
    time.sleep(wait)
    restarted = worker("bench-restarted", env, server.port, batch=args.batch)
    restarted_out = restarted.communicate()[0].strip().splitlines()[-1:]
    result = outcome(campaign, server)
    result.update(
        killed_at_received=killed_at,
        victim_held=held,
        lease_wait_s=round(wait, 1),
        restarted_output=restarted_out,
        wall_s=round(time.monotonic() - started, 1),
    )
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return result


def run_profile(args, env, server: Server, template, sender) -> None:
    import pstats

    _, _, segment = prepare(args.profile)
    reset()
    server.clear()
    start_campaign(template, sender, segment)
    out = WORK / "worker.prof"
    started = time.monotonic()
    worker("bench-profile", env, server.port, batch=args.batch, profile=out).communicate()
    seconds = time.monotonic() - started
    print(f"profiled worker: {server.count()} messages in {seconds:.1f} s (under cProfile)")
    stats = pstats.Stats(str(out))
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(45)


def run_breakdown(template, n: int = 1000) -> None:
    """The Python cost of one message's steps, in this process, no I/O: what a worker spends its CPU on."""
    from django.core.mail import EmailMultiAlternatives

    from kervan.customers.models import Customer
    from kervan.messaging import tracking
    from kervan.messaging.context import batch_context
    from kervan.messaging.models import Message
    from kervan.messaging.rendering import compile_template, html_to_text

    customers = {c.pk: c for c in Customer.objects.order_by("pk")[:n]}
    messages = [
        Message(pk=10_000_000 + i, origin="campaign:0", customer_id=pk, channel="email", purpose="marketing")
        for i, pk in enumerate(customers)
    ]
    compiled = compile_template(template)
    steps: dict[str, float] = collections.defaultdict(float)

    def timed(name, fn, *a, **k):
        started = time.perf_counter()
        out = fn(*a, **k)
        steps[name] += time.perf_counter() - started
        return out

    import inspect

    # newer code shares one click token per URL between the HTML and the text part of a message
    shares_clicks = "clicks" in inspect.signature(tracking.tracked_html).parameters

    def extra() -> dict:
        return {"clicks": {}} if shares_clicks else {}

    contexts = timed("context (batch, per message)", batch_context, messages, customers, compiled.reads)
    # warm-up, untimed: the URLconf, Jinja's and the email package's first-use costs
    warm = tracking.links_for(messages[0])
    tracking.tracked_html(
        compiled.render("tr", {**contexts[messages[0].pk], **warm}).html, messages[0], own_links=set(), **extra()
    )
    for message in messages:
        customer = customers[message.customer_id]
        links = timed("links_for (2 signed links)", tracking.links_for, message)
        rendered = timed(
            "render (jinja + css_inline + text part)", compiled.render, "tr", {**contexts[message.pk], **links}
        )
        timed("  of which css_inline", __import__("css_inline").inline, rendered.html)
        timed("  of which html_to_text", html_to_text, rendered.html)
        own, shared = set(links.values()), extra()
        html = timed(
            "tracked_html (click tokens, pixel)", tracking.tracked_html, rendered.html, message, own_links=own, **shared
        )
        text = timed(
            "tracked_text (click tokens)", tracking.tracked_text, rendered.text, message, own_links=own, **shared
        )
        email = EmailMultiAlternatives(rendered.subject, text, "kampanya@shop.example.com", [customer.email])
        email.attach_alternative(html, "text/html")
        timed("MIME message to bytes (Django)", lambda e=email: e.message().as_bytes())
    total = sum(v for k, v in steps.items() if not k.startswith("  "))
    for name, seconds in steps.items():
        print(f"{1000 * seconds / n:7.2f} ms  {name}")
    print(f"{1000 * total / n:7.2f} ms  total per message (the ORM writes and the SMTP exchange not included)")


# --- the floor ---------------------------------------------------------------------------------------------------


def floor(server: Server, count: int, size_like: int) -> dict:
    """Pre-rendered messages as large as the campaign's (`size_like` bytes as the server received them), one smtplib
    connection, only the sending timed."""
    # SMTP lines stay under 1000 bytes (RFC 5321), as Django's and every mailer's output does.
    body = "<p>Kış indirimi başladı, kupon kodunuz KIS30-XXXXXXXX; kargo bu hafta ücretsiz.</p>\r\n" * 30
    html = f"<html><body>\r\n{body}</body></html>"
    pad = max(0, size_like - 2 * len(body.encode()) - 600) // 72
    html = html.replace("</body>", "<p>" + ("x" * 70 + "\r\n") * pad + "</p></body>")
    messages = []
    for n in range(count):
        messages.append(
            (
                f"From: =?utf-8?q?=C3=96rnek_Ma=C4=9Faza?= <kampanya@shop.example.com>\r\n"
                f"To: musteri{n}@example.net\r\nSubject: =?utf-8?q?Ki=C5=9F_indirimi?=\r\n"
                f"X-Kervan-Message: floor-{n}\r\nMIME-Version: 1.0\r\n"
                f'Content-Type: multipart/alternative; boundary="b{n}"\r\n\r\n'
                f"--b{n}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                f"{body}\r\n--b{n}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                f"{html}\r\n--b{n}--\r\n"
            ).encode()
        )
    server.clear()
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", server.port) as smtp:
        for n, message in enumerate(messages):
            smtp.sendmail("kampanya@shop.example.com", [f"musteri{n}@example.net"], message)
    seconds = time.monotonic() - started
    received = server.count()
    return {
        "messages": count,
        "received": received,
        "seconds": round(seconds, 2),
        "rate": round(received / seconds, 1),
        "bytes_per_message": len(messages[0]),
        "campaign_bytes_per_message": size_like,
    }


# --- main --------------------------------------------------------------------------------------------------------


def record(figures: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update(figures)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/kervan_msgbench")
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, action="append", help="worker processes (repeat for several runs)")
    parser.add_argument("--batch", type=int, default=200, help="messages_send --batch")
    parser.add_argument("--kill", action="store_true", help="the worker-kill run instead of the timed ones")
    parser.add_argument("--profile", type=int, help="cProfile one worker sending a campaign of this many")
    parser.add_argument("--duration", type=float, help="stop the workers after this many seconds (rate over that time)")
    parser.add_argument("--floor-count", type=int, default=20_000, help="messages the smtplib floor sends")
    parser.add_argument("--kill-size", type=int, help="recipients of the worker-kill campaign (default --recipients)")
    parser.add_argument("--breakdown", action="store_true", help="time one message's steps in this process")
    parser.add_argument("--no-floor", action="store_true")
    args = parser.parse_args()
    env = setup_django(args.database_url)
    template, sender, segment = prepare(args.recipients)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        customers = cursor.fetchone()[0]
    server = Server(WORK)
    command = "python bench/campaign_send.py " + " ".join(sys.argv[1:])
    data = (
        f"{customers:,} customers (demo_load, no orders), all with an email and a granted email consent; a static "
        f"list of {args.recipients:,}; ~5 KB personalised HTML (first name, unique coupon, 6-product grid, 10 links, "
        f"CSS inlined, links tracked), marketing (policy checked per message); aiosmtpd on loopback in its own "
        f"process; production settings; 2 shared cores"
    )
    try:
        if args.breakdown:
            run_breakdown(template)
            return
        if args.profile:
            run_profile(args, env, server, template, sender)
            return
        if args.kill:
            size = args.kill_size or args.recipients
            kill_segment = prepare(size)[2] if size != args.recipients else segment
            result = run_kill(args, env, server, (template, sender, kill_segment))
            record(
                {
                    "worker kill, duplicates/lost, postgresql": {
                        "value": f"{result['duplicates']}/{result['lost']}",
                        "unit": "duplicate/lost messages",
                        "target": "0/0",
                        "data": data.replace(f"list of {args.recipients:,}", f"list of {size:,}") + KILL_DATA,
                        "db": "postgresql",
                        "command": command,
                        **result,
                    }
                }
            )
            return
        runs = [run_send(args, env, server, (template, sender, segment), n) for n in (args.workers or [1, 2])]
        size_like = server.mean_size()
        best = max(runs, key=lambda r: r["rate_end_to_end"])
        figures = {
            "campaign send, 100k recipients, postgresql": {
                "value": best["rate_end_to_end"],
                "unit": "messages/s",
                "target": f">= {TARGET}",
                "data": data + f"; best of {[r['workers'] for r in runs]} workers: {best['workers']}",
                "db": "postgresql",
                "command": command,
                "runs": runs,
            }
        }
        record(figures)
        if not args.no_floor:
            floor_result = floor(server, args.floor_count, size_like=size_like or 11_000)
            figures["campaign send floor (smtplib), postgresql"] = {
                "value": floor_result["rate"],
                "unit": "messages/s",
                "target": "(floor)",
                "data": f"{args.floor_count:,} pre-rendered messages of about the campaign's size, plain smtplib, one "
                "connection, to the same aiosmtpd server process",
                "db": "postgresql",
                "command": command,
                **floor_result,
            }
            figures["campaign send, 100k recipients, postgresql"]["ratio_to_floor"] = round(
                best["rate_end_to_end"] / floor_result["rate"], 2
            )
            figures["campaign send, 100k recipients, postgresql"]["ratio_goal"] = ">= 0.6"
        record(figures)
        print(json.dumps({k: v["value"] for k, v in figures.items()}, ensure_ascii=False))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
