from django.core.management.base import BaseCommand

from kervan.reports.rollup import REFRESH_DAYS, analytics_refresh, cohorts_refresh


class Command(BaseCommand):
    help = (
        "Re-sum the Analytics page's daily rollup (orders, revenue, new and returning customers per sales channel) "
        "for the last --days closed days, recount the repeat-purchase rate and the CLV histogram, and recount the "
        "monthly cohort table. Idempotent; the scheduler runs the first part every hour and the cohorts every night."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=REFRESH_DAYS, help="closed days to re-sum (default 35)")
        parser.add_argument("--no-cohorts", action="store_true", help="leave the cohort table as it is")

    def handle(self, *args, days, no_cohorts, **options):
        import time

        started = time.perf_counter()
        analytics_refresh(days)
        rollup_s = time.perf_counter() - started
        cells = 0 if no_cohorts else cohorts_refresh()
        cohorts_s = time.perf_counter() - started - rollup_s
        self.stdout.write(f"{days} days re-summed in {rollup_s:.2f}s; {cells} cohort cells in {cohorts_s:.2f}s")
