"""`manage.py integrations_run`: a dedicated integrations worker (stored deliveries, backfill pages, polls)."""

import time

from django.core.management.base import BaseCommand

from kervan.core.claim import worker_name
from kervan.integrations.backfill import backfills_run, connections_poll
from kervan.integrations.worker import deliveries_process


class Command(BaseCommand):
    help = "Process webhook deliveries and backfills in a loop (--once: one pass; --poll: also read OpenCart)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--poll", action="store_true", help="also read the platforms without webhooks")
        parser.add_argument("--batch", type=int, default=100, help="deliveries claimed at a time")
        parser.add_argument("--no-backfill", action="store_true", help="only process deliveries")
        parser.add_argument("--idle", type=float, default=0.2, help="seconds to sleep when nothing was due")

    def handle(self, *args, **options):
        name = worker_name()
        while True:
            polled = connections_poll() if options["poll"] else 0
            taken = deliveries_process(limit=options["batch"], worker=name)
            pages = 0 if options["no_backfill"] else backfills_run(budget=2.0, worker=name)
            if options["once"]:
                self.stdout.write(f"deliveries {taken}, backfill pages {pages}, polled {polled}")
                return
            if not (taken or pages):
                time.sleep(options["idle"])
