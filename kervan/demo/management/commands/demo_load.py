"""`manage.py demo_load --customers N --seed S`: fill an empty database with a realistic Turkish shop."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.demo.actions import DEMO_PASSWORD, demo_load
from kervan.demo.generator import DemoSettings
from kervan.demo.seasons import DEFAULT_UNTIL


class Command(BaseCommand):
    help = "Load a deterministic demo shop (customers, catalogue, orders, events) and the demo staff logins."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, required=True)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--orders", type=int, default=None, help="about this many orders (default 2.5/customer)")
        parser.add_argument("--events-per-customer", type=float, default=10.0, help="browsing events per customer")
        parser.add_argument(
            "--order-events",
            choices=["all", "placed", "none"],
            default="all",
            help='per order: "Placed Order" and one "Ordered Product" per line (all), only the first, or none',
        )
        parser.add_argument("--anonymous-share", type=float, default=0.3, help="anonymous visitors per customer")
        parser.add_argument(
            "--until", type=dt.date.fromisoformat, default=DEFAULT_UNTIL, help="last day of data (YYYY-MM-DD)"
        )
        parser.add_argument("--batch-size", type=int, default=2000, help="customers generated and written at a time")
        parser.add_argument("--if-empty", action="store_true", help="do nothing if customers already exist")
        bulk = parser.add_mutually_exclusive_group()
        bulk.add_argument("--bulk", dest="bulk", action="store_true", default=None, help="rebuild indexes at the end")
        bulk.add_argument("--no-bulk", dest="bulk", action="store_false", help="one transaction, indexes kept")

    def handle(self, *args, **options):
        settings = DemoSettings(
            customers=options["customers"],
            seed=options["seed"],
            orders=options["orders"],
            events_per_customer=options["events_per_customer"],
            order_events=options["order_events"],
            anonymous_share=options["anonymous_share"],
            until=options["until"],
            batch_size=options["batch_size"],
        )
        verbose = options["verbosity"] >= 1
        try:
            result = demo_load(
                actor=Actor.system(),
                settings=settings,
                if_empty=options["if_empty"],
                bulk=options["bulk"],
                progress=self.stdout.write if verbose else None,
            )
        except KervanError as exc:
            raise CommandError(exc.detail) from exc
        if not verbose:
            return
        if result.skipped:
            self.stdout.write("Demo data not loaded: the database already has customers.")
            return
        c = result.counts
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo shop loaded in {result.seconds:.1f}s (seed {settings.seed}, data up to {settings.until}): "
                f"{c['customer']:,} customers, {c['order']:,} orders ({c['line']:,} lines, {c['return']:,} returns), "
                f"{c['event']:,} events, {c['product']:,} products ({c['variant']:,} variants)."
            )
        )
        if result.users_created:
            self.stdout.write(f"Staff logins (password {DEMO_PASSWORD}): {', '.join(result.users_created)}")
