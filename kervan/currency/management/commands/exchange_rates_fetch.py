import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from kervan.core import clock, http
from kervan.currency.actions import rates_fetch


class Command(BaseCommand):
    help = (
        "Fetch the TCMB's daily exchange rates (its XML bulletins) for today, a day, or every day since a date, and "
        "store them. Run it daily from cron after the bank publishes (~15:30 Istanbul time)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="one day, YYYY-MM-DD (default: today)")
        parser.add_argument("--since", help="every day from YYYY-MM-DD to today (back-fills history)")

    def handle(self, *args, date=None, since=None, **options):
        try:
            if since:
                first, today = dt.date.fromisoformat(since), clock.localdate()
                if first > today:
                    raise CommandError("--since is in the future.")
                days = [first + dt.timedelta(days=n) for n in range((today - first).days + 1)]
            else:
                days = [dt.date.fromisoformat(date)] if date else None
        except ValueError:
            raise CommandError("Dates are YYYY-MM-DD.") from None
        try:
            stored = rates_fetch(days=days)
        except http.HttpError as exc:
            raise CommandError(f"The TCMB could not be reached: {exc}") from None
        self.stdout.write(f"{stored} exchange rates stored.")
