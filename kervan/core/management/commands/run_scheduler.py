import time

from django.core.management.base import BaseCommand

from kervan.core.schedule import scheduler_tick


class Command(BaseCommand):
    help = (
        "Run the registered schedules (kervan.core.schedule): enqueue each task when it falls due. Runs until stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")
        # Every few seconds: a pass is one small query when nothing is due; segments' safety nets run every 5-20 s.
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between passes (default 5)")

    def handle(self, *args, once=False, interval=5.0, **options):
        while True:
            for name in scheduler_tick():
                self.stdout.write(f"enqueued {name}")
            if once:
                return
            time.sleep(interval)
