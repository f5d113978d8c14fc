from django.core.management.base import BaseCommand

from kervan.predictions.calibration import calibration_report


class Command(BaseCommand):
    help = (
        "Fit BG/NBD on the shop's orders up to N days ago, predict each customer's orders in the last N days, compare "
        "with the orders they placed, and store the report the Analytics → calibration page shows. The scheduler "
        "runs it each night."
    )

    def handle(self, *args, **options):
        report = calibration_report()
        if report.basis != "fit":
            self.stdout.write(
                f"Too little data: {report.history_days} days of history, {report.customers} customers; about "
                f"{report.days_needed} more days and {report.customers_needed} more customers needed."
            )
            return
        self.stdout.write(
            f"{report.customers} customers, calibration until {report.calibration_end:%Y-%m-%d}, holdout "
            f"{report.holdout_days} days: predicted {report.predicted_total:.1f} orders, actual {report.actual_total}; "
            f"{report.seconds:.2f}s"
        )
