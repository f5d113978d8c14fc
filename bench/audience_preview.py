"""Audience preview for a campaign to a 1M-customer segment (issue 12, "Figures": <= 2 s): how many it reaches after
consent, suppression and the frequency cap, and how many each reason excludes
(kervan.campaigns.selectors.audience_preview, the same rules the sender applies to each message).

    .venv/bin/python bench/audience_preview.py --database-url postgres://postgres@127.0.0.1:5432/kervan_msgbench_1m

The database is one made by `manage.py demo_load` (1M customers; orders not needed): its consents as the generator
drew them (about 46 % granted for email, 6 % without an email). Once, the script adds what makes every check do work:
a static list holding every customer, ~10k email suppressions (every 97th customer with an email; reasons mixed) and
~50k marketing emails sent within the last 16 hours (every 20th customer, so the frequency cap excludes them). The
campaign is a draft on that list. Timed: `--repeat` calls after one warm-up; the median and the slowest are reported,
and the plan (EXPLAIN ANALYZE, BUFFERS) of the one statement it runs is printed. Writes bench/results/messaging.json.
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "messaging.json"
TARGET_S = 2.0
FIGURE = "audience preview, 1M customers, postgresql"


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    os.environ.setdefault("KERVAN_SECRET_KEY", "bench-secret-key-not-for-production")
    os.environ.setdefault("KERVAN_SSL_REDIRECT", "0")
    os.environ.setdefault("KERVAN_CACHE_BACKEND", "kervan.core.redis_cache.RedisCache")
    os.environ.setdefault("KERVAN_CACHE_LOCATION", "redis://127.0.0.1:6379/9")
    import django

    django.setup()


def prepare():
    """The list of everybody, the suppressions, the recent sends and the draft campaign (made once, reused).
    Written with SQL and plain model saves: a million memberships and 50k sent messages through the actions would
    take longer than the benchmark."""
    from django.db import connection

    from kervan.campaigns.models import Campaign
    from kervan.messaging.models import Template
    from kervan.segments.models import Segment

    template = Template.objects.filter(name="bench: preview").first()
    if template is None:
        template = Template.objects.create(
            name="bench: preview",
            channel="email",
            purpose="marketing",
            content={"tr": {"subject": "Merhaba {{ customer.first_name }}", "html": "<p>Merhaba</p>"}},
        )
    segment = Segment.objects.filter(name="bench: everybody").first()
    with connection.cursor() as cursor:
        if segment is None:
            segment = Segment.objects.create(name="bench: everybody", kind="static")
            cursor.execute(
                "INSERT INTO segments_segmentmembership (segment_id, customer_id, entered_at) "
                "SELECT %s, id, now() FROM customers_customer",
                [segment.pk],
            )
            Segment.objects.filter(pk=segment.pk).update(member_count=cursor.rowcount)
        cursor.execute("SELECT count(*) FROM messaging_suppression")
        if not cursor.fetchone()[0]:
            cursor.execute(
                "INSERT INTO messaging_suppression (created_at, updated_at, channel, address, reason, note) "
                "SELECT now(), now(), 'email', email_key, "
                "(ARRAY['hard_bounce','soft_bounces','complaint','manual','import'])[1 + id %% 5], '' "
                "FROM customers_customer WHERE email_key <> '' AND id %% 97 = 0 ON CONFLICT DO NOTHING",
                [],
            )
        cursor.execute("SELECT count(*) FROM messaging_message WHERE origin = 'bench:earlier'")
        if not cursor.fetchone()[0]:
            cursor.execute(
                "INSERT INTO messaging_message (leased_by, attempts, origin, channel, purpose, variant, status, "
                "skip_reason, to_address, subject, error, provider_id, created_at, sent_at, opens, machine_opens, "
                "clicks, customer_id, template_id) "
                "SELECT '', 1, 'bench:earlier', 'email', 'marketing', '', 'sent', '', email, 'Önceki kampanya', '', "
                "'', now() - interval '8 hours', now() - (id %% 900) * interval '1 minute', 0, 0, 0, id, %s "
                "FROM customers_customer WHERE id %% 20 = 1",
                [template.pk],
            )
        cursor.execute("ANALYZE")
    campaign = Campaign.objects.filter(name="bench: preview").first()
    if campaign is None:
        campaign = Campaign.objects.create(name="bench: preview", channel="email", template=template)
        campaign.segments.set([segment])
    return campaign


def sizes() -> dict[str, int]:
    from django.db import connection

    out = {}
    with connection.cursor() as cursor:
        for table in ("customers_customer", "segments_segmentmembership", "messaging_suppression", "messaging_message"):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
            out[table] = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM customers_customer WHERE consent_email = 'granted'")
        out["email consent granted"] = cursor.fetchone()[0]
    return out


REWRITE = """
SELECT CASE WHEN c.email = '' THEN 'no_address'
  WHEN c.email_key IN (SELECT address FROM messaging_suppression WHERE channel = 'email') THEN 'suppressed'
  WHEN c.consent_email <> 'granted' THEN 'no_consent'
  WHEN c.id IN (SELECT customer_id FROM messaging_message WHERE channel = 'email' AND purpose = 'marketing'
                AND status = 'sent' AND sent_at >= %s) THEN 'capped'
  ELSE '' END AS blocked, count(*)
FROM customers_customer c
WHERE EXISTS (SELECT 1 FROM segments_segmentmembership m WHERE m.customer_id = c.id AND m.segment_id = ANY(%s))
  AND c.merged_into_id IS NULL
GROUP BY 1
"""


def rewrite(campaign, repeat: int) -> tuple[list[float], dict]:
    """A hand-written statement for the same counts, for comparison: the list's segment ids resolved first, the
    suppression and cap checks as uncorrelated IN (hashed once, not probed per customer), one GROUP BY."""
    import datetime as dt

    from django.db import connection

    from kervan.core import clock

    ids = list(campaign.segments.values_list("pk", flat=True))
    since = clock.now() - dt.timedelta(hours=16)
    times, counts = [], {}
    with connection.cursor() as cursor:
        for _ in range(repeat + 1):
            started = time.perf_counter()
            cursor.execute(REWRITE, [since, ids])
            counts = dict(cursor.fetchall())
            times.append(time.perf_counter() - started)
    return times[1:], counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/kervan_msgbench_1m")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-explain", action="store_true")
    args = parser.parse_args()
    setup_django(args.database_url)

    from kervan.campaigns.selectors import audience_preview

    started = time.monotonic()
    campaign = prepare()
    print(f"prepared in {time.monotonic() - started:.1f} s; {sizes()}", flush=True)
    preview = audience_preview(campaign)  # warm-up: caches, plans
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        again = audience_preview(campaign)
        times.append(time.perf_counter() - started)
        assert again == preview
    print(json.dumps(preview), [round(t, 3) for t in times], flush=True)
    rewrite_times, rewrite_counts = rewrite(campaign, args.repeat)
    reachable = rewrite_counts.pop("", 0)
    same = {"audience": reachable + sum(rewrite_counts.values()), "reachable": reachable, "excluded": rewrite_counts}
    print("hand-written statement:", [round(t, 3) for t in rewrite_times], "same counts:", same == preview, flush=True)
    plan = ""
    if not args.no_explain:
        # The plan of the statement audience_preview runs, whatever form the code gives it: the slowest one it
        # sends, captured, then explained.
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            audience_preview(campaign)
        slowest = max(captured.captured_queries, key=lambda q: float(q["time"]))
        print(slowest["sql"], flush=True)
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"].replace("%", "%%"))
            plan = "\n".join(row[0] for row in cursor.fetchall())
        print(plan, flush=True)
    median = statistics.median(times)
    figure = {
        "value": round(median, 3),
        "unit": "s",
        "target": f"<= {TARGET_S:g}",
        "slowest_s": round(max(times), 3),
        "runs_s": [round(t, 3) for t in times],
        "preview": preview,
        "data": f"demo_load 1M customers (no orders), their generated consents; a static list of every customer; "
        f"~10k email suppressions; ~50k marketing emails sent in the last 16 h (the cap); table sizes {sizes()}; "
        f"median of {args.repeat} calls after a warm-up, in-process, production settings; 2 shared cores",
        "db": "postgresql",
        "command": "python bench/audience_preview.py --database-url " + args.database_url,
        "plan": plan.splitlines(),
        "hand_written_sql": {
            "median_s": round(statistics.median(rewrite_times), 3),
            "runs_s": [round(t, 3) for t in rewrite_times],
            "same_counts": same == preview,
            "sql": " ".join(REWRITE.split()),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[FIGURE] = figure
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"{FIGURE}: {figure['value']} s (slowest {figure['slowest_s']} s)")


if __name__ == "__main__":
    main()
