"""The ticket list with SLA timers at 100k tickets (issue 14's figure: p95 ≤ 200 ms), and the support reports page
at the same size.

Fills a database of its own with 100,000 tickets made with bulk_create over the last 365 days: 20,000 generated
customers (80% of tickets; the rest from unknown senders), 10 support agents, four SLA policies (one per priority)
with due and warning times, a realistic mix of statuses (recent tickets open more often), priorities, channels
and assignees, one agent reply per answered ticket, CSAT answers for a third of the solved tickets and 20,000
chats. Then times, through Django's test Client logged in as a support agent (the whole request: middleware,
selector, SLA timers, template), the ticket list's default view and its common filters, 50 requests each after 3
untimed ones, and the reports page for 30 and 90 days.

    .venv/bin/python bench/support_tickets.py --database-url postgres://postgres@127.0.0.1:5432/kervan_bench_tickets
    .venv/bin/python bench/support_tickets.py --database-url sqlite:////tmp/kervan_bench_tickets.sqlite3

Writes bench/results/support_tickets.json (merged with the other database's figures). --rebuild refills the data;
--explain prints the query plans of the list's queries.
"""

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "support_tickets.json"
TICKETS = 100_000
CUSTOMERS = 20_000
AGENTS = 10
CHATS = 20_000
REQUESTS = 50
WARM_UP = 3
REPORT_REQUESTS = 10


def setup(database_url: str) -> None:
    from bench.scratch_db import create_if_missing

    create_if_missing(database_url)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the test Client's host
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def pick(rng: random.Random, weighted: dict[str, float]) -> str:
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


PRIORITIES = {"low": 20, "normal": 55, "high": 20, "urgent": 5}
CHANNELS = {"email": 50, "web_form": 20, "chat": 20, "api": 5, "agent": 5}
# (first response, resolution) targets in wall-clock hours — the policies count business hours; the generated due
# times only need to be spread like real ones.
TARGETS = {"low": (8, 72), "normal": (4, 48), "high": (2, 24), "urgent": (1, 8)}
OPEN_STATUSES = {"new": 30, "open": 40, "pending": 20, "on_hold": 10}


def fill(rebuild: bool) -> float:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from kervan.core import clock
    from kervan.customers.models import Customer
    from kervan.support.models import ChatConversation, CsatSurvey, SlaPolicy, Ticket, TicketMessage

    if Ticket.objects.count() == TICKETS and not rebuild:
        return 0.0
    started = time.perf_counter()
    rng = random.Random(14)
    now = clock.now()
    users = get_user_model()
    with transaction.atomic():
        ChatConversation.objects.all().delete()
        CsatSurvey.objects.all().delete()
        TicketMessage.objects.all().delete()
        Ticket.objects.all().delete()
        SlaPolicy.objects.all().delete()
        Customer.objects.filter(email__endswith="@bench.example").delete()
        users.objects.filter(username__startswith="bench-agent").delete()
        agents = [
            users.objects.create_user(username=f"bench-agent{i}", password="kervan-bench-pw", role="support",
                                     first_name=f"Agent{i}", last_name="Destek", language="en")
            for i in range(AGENTS)
        ]  # fmt: skip
        policies = {
            priority: SlaPolicy.objects.create(
                name=f"{priority} SLA", priority=priority, first_response_minutes=fr * 60, resolution_minutes=res * 60
            )
            for priority, (fr, res) in TARGETS.items()
        }
        customers = Customer.objects.bulk_create(
            (
                Customer(first_name=f"Müşteri{i}", last_name=f"Soyadı{i % 997}", email=f"musteri{i}@bench.example",
                         email_key=f"musteri{i}@bench.example", name_key=f"müşteri{i} soyadı{i % 997}")
                for i in range(CUSTOMERS)
            ),
            batch_size=2000,
        )  # fmt: skip
        tickets = []
        for i in range(TICKETS):
            age = dt.timedelta(seconds=rng.random() ** 1.3 * 365 * 86400)  # more recent tickets than old ones
            created = now - age
            priority = pick(rng, PRIORITIES)
            fr_hours, res_hours = TARGETS[priority]
            fr_due = created + dt.timedelta(hours=fr_hours)
            res_due = created + dt.timedelta(hours=res_hours)
            recent = age < dt.timedelta(days=14)
            is_open = rng.random() < (0.45 if recent else 0.04)
            status = pick(rng, OPEN_STATUSES) if is_open else ("closed" if rng.random() < 0.3 else "solved")
            responded = None
            if status != "new":
                responded = created + dt.timedelta(hours=rng.lognormvariate(0.3, 1.1) * fr_hours / 2)
                if responded > now:
                    responded = None
            solved = None
            if status in ("solved", "closed"):
                solved = created + dt.timedelta(hours=rng.lognormvariate(0.0, 0.9) * res_hours / 2)
                solved = min(solved, now)
                responded = min(responded or solved, solved)
            customer = customers[rng.randrange(CUSTOMERS)] if rng.random() < 0.8 else None
            assignee = None if status == "new" and rng.random() < 0.6 else agents[rng.randrange(AGENTS)]
            tickets.append(Ticket(
                subject=f"Sipariş {rng.randrange(10**6)} hakkında: kargo, iade ya da ödeme",
                customer=customer,
                requester_email=customer.email if customer else f"yeni{i}@misafir.example",
                requester_name=f"{customer.first_name} {customer.last_name}" if customer else "",
                status=status, priority=priority, channel=pick(rng, CHANNELS),
                tags=rng.sample(["kargo", "iade", "ödeme", "fatura", "vip"], rng.randrange(3)),
                assignee=assignee, created_at=created, updated_at=solved or responded or created,
                first_responded_at=responded, solved_at=solved, closed_at=solved if status == "closed" else None,
                pending_since=responded if status == "pending" else None, sla_policy=policies[priority],
                first_response_due_at=fr_due, resolution_due_at=res_due,
                first_response_warn_at=created + (fr_due - created) * 0.8,
                resolution_warn_at=created + (res_due - created) * 0.8,
                breached_first_response=bool(responded and responded > fr_due) or (not responded and now > fr_due),
                breached_resolution=bool(solved and solved > res_due) or (not solved and now > res_due
                                                                          and status != "pending"),
            ))  # fmt: skip
        tickets = Ticket.objects.bulk_create(tickets, batch_size=2000)
        TicketMessage.objects.bulk_create(
            (
                TicketMessage(ticket=t, direction="outbound", author_user=t.assignee or agents[0], body="Merhaba…",
                              created_at=t.first_responded_at, delivery="sent", sent_at=t.first_responded_at)
                for t in tickets if t.first_responded_at
            ),
            batch_size=2000,
        )  # fmt: skip
        CsatSurvey.objects.bulk_create(
            (
                CsatSurvey(ticket=t, agent=t.assignee, customer=t.customer, email=t.requester_email,
                           due_at=t.solved_at, sent_at=t.solved_at, created_at=t.solved_at,
                           score=rng.choices([1, 2, 3, 4, 5], weights=[5, 5, 10, 30, 50])[0],
                           answered_at=t.solved_at + dt.timedelta(hours=rng.randrange(1, 48)))
                for t in tickets if t.solved_at and rng.random() < 0.33
            ),
            batch_size=2000,
        )  # fmt: skip
        chats = []
        for i in range(CHATS):
            started_at = now - dt.timedelta(seconds=rng.random() * 365 * 86400)
            answered = rng.random() < 0.9
            first = started_at + dt.timedelta(seconds=rng.lognormvariate(4.0, 1.0)) if answered else None
            chats.append(ChatConversation(
                visitor_key=f"bench-{i}", started_at=started_at, last_message_at=first or started_at,
                first_agent_message_at=first, status="closed", closed_at=first or started_at,
                assignee=agents[rng.randrange(AGENTS)] if answered else None,
                ticket=tickets[rng.randrange(TICKETS)] if not answered and rng.random() < 0.7 else None,
            ))  # fmt: skip
        ChatConversation.objects.bulk_create(chats, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def timed(client, path: str, query: dict, count: int) -> list[float]:
    for _ in range(WARM_UP):
        assert client.get(path, query).status_code == 200
    out = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path, query)
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, query, response.status_code)
    return out


def explain(agent) -> None:
    from django.db import connection

    from kervan.accounts.actors import Actor
    from kervan.support import ticket_selectors

    actor = Actor.for_user(agent)
    for name, filters in list_views(agent):
        rows = ticket_selectors.ticket_list(actor=actor, status=filters.get("status", "active"),
                                            assignee=filters.get("assignee", ""), sla=filters.get("sla", ""),
                                            text=filters.get("q", ""))[:100]  # fmt: skip
        options = {"analyze": True} if connection.vendor == "postgresql" else {}
        print(f"--- {name}\n{rows.explain(**options)}\n")


def list_views(agent) -> list[tuple[str, dict]]:
    from kervan.support.models import Ticket

    sample = Ticket.objects.filter(customer__isnull=False).order_by("-created_at")[500]
    return [
        ("default (active)", {}),
        ("mine", {"assignee": str(agent.pk)}),
        ("status open", {"status": "open"}),
        ("breached", {"sla": "breached"}),
        ("at risk", {"sla": "at_risk"}),
        ("search by number", {"q": sample.number, "status": ""}),
        ("search by email", {"q": sample.requester_email, "status": ""}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--label", default="", help="a suffix for the figure names (e.g. 'with the index')")
    args = parser.parse_args()
    setup(args.database_url)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from kervan.support.models import Ticket

    fill_s = fill(args.rebuild)
    agent = get_user_model().objects.get(username="bench-agent0")
    if args.explain:
        explain(agent)
    client = Client()
    client.force_login(agent)
    vendor = connection.vendor
    load_before = os.getloadavg()[0]
    open_count = Ticket.objects.exclude(status__in=("solved", "closed")).count()
    views = {}
    everything = []
    for name, query in list_views(agent):
        timings = timed(client, "/support/tickets/", query, REQUESTS)
        everything += timings
        views[name] = {"p50_ms": round(statistics.median(timings), 1), "p95_ms": round(percentile(timings, 95), 1)}
        print(name, views[name], flush=True)
    suffix = f", {args.label}" if args.label else ""
    data = (
        f"{TICKETS:,} tickets over 365 days ({open_count:,} open), {CUSTOMERS:,} customers, {AGENTS} agents, SLA due "
        "and warning times, one reply per answered ticket; GET /support/tickets/ through Django's test Client logged "
        f"in as a support agent (whole request: selector, 100 rows with SLA timers, template), {REQUESTS} requests per "
        f"view after {WARM_UP} untimed, views: {', '.join(views)}; config.settings.test, 2 shared cores"
    )
    figures = {
        f"ticket list with SLA timers at 100k tickets p95, {vendor}{suffix}": {
            "value": round(percentile(everything, 95), 1),
            "unit": "ms",
            "target": "<= 200 ms",
            "data": data,
            "db": vendor,
            "command": f"python bench/support_tickets.py --database-url {args.database_url}",
            "p50_ms": round(statistics.median(everything), 1),
            "max_ms": round(max(everything), 1),
            "views": views,
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # other work on the 2 cores
            "fill_s": round(fill_s, 1) if fill_s else "(data already there)",
        }
    }
    for period in ("30d", "90d"):
        timings = timed(client, "/support/reports/", {"period": period}, REPORT_REQUESTS)
        figures[f"support reports page at 100k tickets ({period}) p95, {vendor}{suffix}"] = {
            "value": round(percentile(timings, 95), 1),
            "unit": "ms",
            "target": "<= 2000 ms",
            "data": (
                f"the same data ({TICKETS:,} tickets, {CHATS:,} chats); GET /support/reports/?period={period} "
                f"through the test Client, {REPORT_REQUESTS} requests after {WARM_UP} untimed"
            ),
            "db": vendor,
            "command": f"python bench/support_tickets.py --database-url {args.database_url}",
            "p50_ms": round(statistics.median(timings), 1),
        }
        print(period, figures[f"support reports page at 100k tickets ({period}) p95, {vendor}{suffix}"], flush=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update(figures)
    RESULTS.write_text(json.dumps(dict(sorted(results.items())), indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
