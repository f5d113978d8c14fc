from django.core.management.base import BaseCommand

from kervan.predictions.actions import predictions_refresh


class Command(BaseCommand):
    help = (
        "Fit BG/NBD and Gamma-Gamma on the shop's orders (or use pooled priors when the shop has too little data), "
        "score every customer with an order (P(alive), expected orders, order value, 12-month CLV, churn risk, next "
        "order date), compute RFM scores and segments, and rewrite the predictions. Idempotent; the scheduler runs it "
        "each night."
    )

    def handle(self, *args, **options):
        report = predictions_refresh()
        fit = report.fit
        self.stdout.write(
            f"{report.customers} customers scored, basis {fit.basis}: r={fit.r:.4g} alpha={fit.alpha:.4g} "
            f"a={fit.a:.4g} b={fit.b:.4g} p={fit.p:.4g} q={fit.q:.4g} gamma={fit.gamma:.4g}; "
            f"extract {report.seconds_extract:.2f}s, fit {report.seconds_fit:.2f}s, score {report.seconds_score:.2f}s, "
            f"rfm {report.seconds_rfm:.2f}s, write {report.seconds_write:.2f}s"
        )
        if fit.customers_needed or fit.days_needed:
            self.stdout.write(
                f"Too little data for a fit: about {fit.customers_needed} more customers and "
                f"{fit.days_needed} more days of history needed; pooled priors used."
            )
