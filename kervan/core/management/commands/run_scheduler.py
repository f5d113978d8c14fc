import time

from django.core.management.base import BaseCommand

from kervan.core.schedule import scheduler_tick


class Command(BaseCommand):
    help = (
        "Run the registered schedules (kervan.core.schedule): enqueue each task when it falls due. Runs until stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")
        parser.add_argument("--interval", type=float, default=30.0, help="seconds between passes (default 30)")

    def handle(self, *args, once=False, interval=30.0, **options):
        while True:
            for name in scheduler_tick():
                self.stdout.write(f"enqueued {name}")
            if once:
                return
            time.sleep(interval)
