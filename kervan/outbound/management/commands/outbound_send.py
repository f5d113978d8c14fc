"""Send due webhook deliveries in this process: until none is due (--once), or for ever. Run as many as you like at
once: each claims its own rows (kervan.core.claim)."""

import time

from django.core.management.base import BaseCommand

from kervan.core.claim import worker_name
from kervan.outbound.sending import deliver_due


class Command(BaseCommand):
    help = "Send the webhook deliveries that are due (and keep doing so unless --once)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="send what is due now, then end")
        parser.add_argument("--worker", default=worker_name(), help="this worker's name")
        parser.add_argument("--batch", type=int, default=50, help="deliveries claimed at a time")

    def handle(self, *args, once: bool, worker: str, batch: int, **options):
        totals: dict[str, int] = {}
        while True:
            outcome = deliver_due(worker=worker[:100], limit=batch)
            for key, n in outcome.items():
                totals[key] = totals.get(key, 0) + n
            if sum(outcome.values()) < batch:
                if once:
                    break
                time.sleep(1)
        self.stdout.write(" ".join(f"{k}={v}" for k, v in sorted(totals.items())) or "nothing due")
