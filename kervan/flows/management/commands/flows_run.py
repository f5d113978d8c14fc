"""`manage.py flows_run`: a flow worker (events into flows, then due steps), in a loop or once."""

import time

from django.core.management.base import BaseCommand

from kervan.core.claim import worker_name
from kervan.flows.engine import run_due
from kervan.flows.triggers import read_events, scan_all


class Command(BaseCommand):
    help = "Run flows: read new events into them and execute due steps (--once: one pass; --scan: dates, stock)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument(
            "--scan", action="store_true", help="also run the scanned triggers (dates, win-back, stock)"
        )
        parser.add_argument("--batch", type=int, default=500, help="runs claimed at a time")
        parser.add_argument("--no-events", action="store_true", help="only execute due steps (another worker reads)")
        parser.add_argument("--idle", type=float, default=0.5, help="seconds to sleep when nothing was due")

    def handle(self, *args, **options):
        name = worker_name()
        while True:
            if options["scan"]:
                scan_all()
            read = 0 if options["no_events"] else read_events()
            outcome = run_due(worker=name, limit=options["batch"])
            if options["once"]:
                self.stdout.write(f"events {read}, runs {outcome}")
                return
            if not read and not outcome:
                time.sleep(options["idle"])
