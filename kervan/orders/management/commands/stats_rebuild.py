import time

from django.core.management.base import BaseCommand, CommandError

from kervan.orders.stats_rebuild import BATCH_SIZE, customer_sample, stats_rebuild


class Command(BaseCommand):
    help = (
        "Recompute every customer's totals (CustomerStats: total spent, order count, average order value, first and "
        "last order dates, returns, refunded total) from their orders, refunds and returns, and rewrite those that "
        "differ; one line per customer that differed. Safe while the shop runs: it locks only the rows it rewrites. "
        "last_event_at (the 'last seen' time, from events) is neither recomputed nor checked. With --check nothing "
        "changes and the exit status is 1 if any customer differs: `stats_rebuild --check --sample 1000` is the "
        "cron entry for a daily sampled check."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="only report the customers that differ")
        parser.add_argument(
            "--customer", type=int, action="append", metavar="ID", help="only this customer (repeatable)"
        )
        parser.add_argument("--sample", type=int, metavar="N", help="only N customers drawn at random")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=f"customers per batch ({BATCH_SIZE})")

    def handle(self, *args, check=False, customer=None, sample=None, batch_size=BATCH_SIZE, **options):
        if customer and sample:
            raise CommandError("--customer and --sample exclude each other.")
        if batch_size < 1 or (sample is not None and sample < 1):
            raise CommandError("--batch-size and --sample must be at least 1.")
        customer_ids = customer
        if sample:
            customer_ids = customer_sample(sample)
        started = time.monotonic()
        report = stats_rebuild(
            customer_ids=customer_ids,
            check=check,
            batch_size=batch_size,
            on_drift=lambda drift: self.stdout.write(str(drift)),
        )
        verb = "differ" if check else "differed and were rewritten"
        summary = (
            f"{report.customers} customers checked in {time.monotonic() - started:.1f} s: {report.drifted} {verb}."
        )
        if check and report.drifted:
            raise CommandError(summary, returncode=1)
        self.stdout.write(summary)
