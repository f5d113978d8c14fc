"""Analytics → RFM: the 5×5 R×F grid (table and chart), the segments with their month-over-month movement, the
latest fit, and the customers of one segment (or the VIPs at risk), highest 12-month CLV first."""

from __future__ import annotations

from typing import Any

from django.shortcuts import render
from django.utils.translation import gettext as _

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError
from kervan.currency.selectors import reporting_currency
from kervan.predictions import selectors
from kervan.predictions.models import Segment

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
