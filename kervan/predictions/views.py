"""Analytics → RFM: the 5×5 R×F grid (table and chart), the segments with their month-over-month movement, the
latest fit, and the customers of one segment (or the VIPs at risk), highest 12-month CLV first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.shortcuts import render
from django.utils.translation import gettext as _

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError
from kervan.currency.selectors import reporting_currency
from kervan.predictions import selectors
from kervan.predictions.actions import MIN_CUSTOMERS
from kervan.predictions.calibration import latest_report
from kervan.predictions.models import CalibrationReport, Segment

CUSTOMERS_SHOWN = 100
CHART_SCRIPTS = ("vendor/chartjs/chart.min.js", "workspace/charts.js")


def _grid_chart(grid: list[list[int]]) -> dict[str, Any]:
    """A stacked bar per R score (5 first), one colour per F score: the grid's counts as Chart.js draws them."""
    colours = ["#f3d9c7", "#e8b594", "#d98f60", "#c4692f", "#9a4a17"]
    return {
        "type": "bar",
        "data": {
            "labels": [_("R %(score)s") % {"score": 5 - i} for i in range(5)],
            "datasets": [
                {"label": _("F %(score)s") % {"score": f + 1}, "data": [row[f] for row in grid],
                 "backgroundColor": colours[f]}
                for f in range(5)
            ],
        },
        "options": {
            "responsive": True,
            "maintainAspectRatio": False,
            "animation": False,
            "plugins": {"legend": {"position": "bottom"}},
            "scales": {"x": {"stacked": True}, "y": {"stacked": True, "beginAtZero": True, "ticks": {"precision": 0}}},
        },
    }  # fmt: skip


@require_access("analytics", "read")
def rfm_page(request):
    actor = request.actor
    segment = request.GET.get("segment", "")
    vip = request.GET.get("vip", "") == "1"
    error = ""
    try:
        customers = list(selectors.customers_in(actor, segment=segment, vip=vip)[:CUSTOMERS_SHOWN])
    except KervanError as exc:
        error, customers, segment = exc.detail, [], ""
    grid = selectors.rfm_grid(actor)
    context = {
        "fit": selectors.latest_fit(),
        "grid": [(5 - i, row) for i, row in enumerate(grid)],
        "chart": _grid_chart(grid),
        "segments": selectors.segment_table(actor),
        "segment": segment,
        "segment_label": Segment(segment).label if segment else "",
        "vip": vip,
        "customers": customers if (segment or vip) else [],
        "customers_shown": CUSTOMERS_SHOWN,
        "error": error,
        "currency": reporting_currency(),
        "scripts": CHART_SCRIPTS,
    }
    status = 400 if error else 200
    return render(request, "predictions/rfm.html", context, status=status)


def _calibration_chart(report: CalibrationReport) -> dict[str, Any]:
    labels = [str(row["repeat"]) if row["repeat"] < 6 else "6+" for row in report.rows]
    return {
        "type": "bar",
        "data": {
            "labels": labels,
            "datasets": [
                {"type": "bar", "label": _("Actual"), "data": [row["actual"] for row in report.rows],
                 "backgroundColor": "rgba(180, 84, 26, 0.6)"},
                {"type": "line", "label": _("Predicted"), "data": [row["predicted"] for row in report.rows],
                 "borderColor": "#2f6fdb", "backgroundColor": "#2f6fdb", "tension": 0.2},
            ],
        },
        "options": {
            "responsive": True, "maintainAspectRatio": False, "animation": False,
            "plugins": {"legend": {"position": "bottom"}},
            "scales": {
                "x": {"title": {"display": True, "text": _("Repeat orders in the calibration period")}},
                "y": {"beginAtZero": True, "title": {"display": True, "text": _("Orders per customer in the holdout")}},
            },
        },
    }  # fmt: skip


@require_access("analytics", "read")
def calibration_page(request):
    report = latest_report()
    context: dict[str, Any] = {"report": report, "scripts": CHART_SCRIPTS, "min_customers": MIN_CUSTOMERS}
    if report is not None and report.basis == "fit":
        context["chart"] = _calibration_chart(report)
        context["holdout_end"] = report.calibration_end + dt.timedelta(days=report.holdout_days)
        context["ratio_pct"] = (
            round(report.predicted_total * 100 / report.actual_total) if report.actual_total else None
        )
    return render(request, "predictions/calibration.html", context)
