"""Analytics: the shop's figures for a period against the previous one, with charts, the cohort heat map, the RFM
grid, the CLV distribution and segment sizes; the reads are kervan.reports.selectors."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext as _

from kervan.accounts.decorators import require_access
from kervan.core import clock
from kervan.core.errors import KervanError
from kervan.currency.selectors import reporting_currency
from kervan.orders.models import SalesChannel
from kervan.predictions import selectors as predictions
from kervan.reports import charts, selectors

CHART_SCRIPTS = ("vendor/chartjs/chart.min.js", "workspace/charts.js")


@require_access("analytics", "read")
def analytics_page(request):
    actor = request.actor
    key = request.GET.get("period", "")
    start, end = request.GET.get("start", ""), request.GET.get("end", "")
    error = None
    try:
        period = selectors.period_from(key, start, end)
    except KervanError as exc:
        error = exc
        period = selectors.period_from(selectors.DEFAULT_PERIOD)
    currency = reporting_currency()
    view = selectors.overview(actor, period)
    histogram = selectors.clv_distribution(actor)
    days, series = selectors.segment_sizes(actor, period)
    grid = predictions.rfm_grid(actor)
    labels = dict(SalesChannel.choices)
    context = {
        "view": view,
        "period": period,
        "periods": selectors.PERIODS.items(),
        "key": "custom" if error is not None and key == "custom" else period.key,
        "start": start or period.first.isoformat(),
        "end": end or period.last.isoformat(),
        "error": error.detail if error else "",
        "error_field": error.field if error else "",
        "currency": currency,
        "deltas": {name: view.delta(name) for name in ("revenue", "orders", "aov", "new_orders", "returning_orders")},
        "channels": [
            (labels.get(code, code), amount, view.before.by_channel.get(code), view.now.orders_by_channel.get(code, 0))
            for code, amount in view.now.by_channel.items()
        ],
        "repeat": selectors.repeat_rate(actor),
        "cohorts": selectors.cohorts(actor),
        "histogram": histogram,
        "fit": predictions.latest_fit(),
        "grid": [(5 - i, row) for i, row in enumerate(grid)],
        "segment_series": series,
        "segment_days": days,
        "chart_sales": charts.revenue_orders(view, currency),
        "chart_customers": charts.new_returning(view),
        "chart_channels": charts.channels(view, currency),
        "chart_clv": charts.clv(histogram, currency),
        "chart_segments": charts.segments(days, series),
        "scripts": CHART_SCRIPTS,
        "title": _("Analytics"),
        "now": clock.now(),  # the figures' ages are told against the core clock
    }
    return render(request, "reports/analytics.html", context, status=400 if error else 200)
