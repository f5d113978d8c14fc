"""Send due messages in this process until none is due (or for ever with --loop), as many of these as you like at
once: each claims its own rows (kervan.core.claim)."""

import time

from django.core.management.base import BaseCommand

from kervan.core.claim import worker_name
from kervan.messaging.sending import deliver_due


class Command(BaseCommand):
    help = "Send the messages that are due (email, SMS, push)."

    def add_arguments(self, parser):
        parser.add_argument("--worker", default=worker_name(), help="this worker's name")
        parser.add_argument("--batch", type=int, default=200, help="messages claimed at a time")
        parser.add_argument("--loop", action="store_true", help="keep waiting for more instead of ending")

    def handle(self, *args, worker: str, batch: int, loop: bool, **options):
        totals: dict[str, int] = {}
        while True:
            outcome = deliver_due(worker=worker[:100], limit=batch)
            for key, n in outcome.items():
                totals[key] = totals.get(key, 0) + n
            if sum(outcome.values()) < batch:
                if not loop:
                    break
                time.sleep(1)
        self.stdout.write(" ".join(f"{k}={v}" for k, v in sorted(totals.items())) or "nothing due")
