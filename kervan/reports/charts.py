"""The Analytics page's charts as Chart.js configurations (drawn by workspace/charts.js from json_script blocks:
no inline script). A "currency" on an axis makes charts.js show its ticks as money."""

from __future__ import annotations

from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _

from kervan.orders.models import SalesChannel
from kervan.reports.selectors import Histogram, Overview

BRAND = "rgba(180, 84, 26, 0.6)"
BLUE = "#2f6fdb"
PALETTE = ["#b4541a", "#2f6fdb", "#3a9d5d", "#8e44ad", "#d4a017", "#7f8c8d"]
_BASE = {"responsive": True, "maintainAspectRatio": False, "animation": False}


def revenue_orders(view: Overview, currency: str) -> dict[str, Any]:
    days = view.days
    return {
        "type": "bar",
        "data": {
            "labels": [formats.date_format(d.day, "j M") for d in days],
            "datasets": [
                {"type": "bar", "label": _("Revenue"), "data": [float(d.revenue) for d in days],
                 "backgroundColor": BRAND, "yAxisID": "revenue", "order": 2},
                {"type": "line", "label": _("Orders"), "data": [d.orders for d in days], "borderColor": BLUE,
                 "backgroundColor": BLUE, "pointRadius": 0, "tension": 0.25, "yAxisID": "orders", "order": 1},
            ],
        },
        "options": {
            **_BASE,
            "interaction": {"mode": "index", "intersect": False},
            "plugins": {"legend": {"position": "bottom"}},
            "scales": {
                "revenue": {"type": "linear", "position": "left", "beginAtZero": True, "currency": currency},
                "orders": {"type": "linear", "position": "right", "beginAtZero": True,
                           "grid": {"drawOnChartArea": False}, "ticks": {"precision": 0}},
            },
        },
    }  # fmt: skip


def new_returning(view: Overview) -> dict[str, Any]:
    days = view.days
    return {
        "type": "bar",
        "data": {
            "labels": [formats.date_format(d.day, "j M") for d in days],
            "datasets": [
                {"label": _("New customers"), "data": [d.new_orders for d in days], "backgroundColor": BLUE},
                {"label": _("Returning customers' orders"), "data": [d.orders - d.new_orders for d in days],
                 "backgroundColor": BRAND},
            ],
        },
        "options": {**_BASE, "plugins": {"legend": {"position": "bottom"}},
                    "scales": {"x": {"stacked": True},
                               "y": {"stacked": True, "beginAtZero": True, "ticks": {"precision": 0}}}},
    }  # fmt: skip


def channels(view: Overview, currency: str) -> dict[str, Any]:
    labels = dict(SalesChannel.choices)
    codes = list(view.now.by_channel)
    return {
        "type": "bar",
        "data": {
            "labels": [str(labels.get(c, c)) for c in codes],
            "datasets": [
                {"label": _("This period"), "data": [float(view.now.by_channel[c]) for c in codes],
                 "backgroundColor": BRAND},
                {"label": _("Previous period"), "data": [float(view.before.by_channel.get(c, 0)) for c in codes],
                 "backgroundColor": "rgba(47, 111, 219, 0.35)"},
            ],
        },
        "options": {**_BASE, "indexAxis": "y", "plugins": {"legend": {"position": "bottom"}},
                    "scales": {"x": {"beginAtZero": True, "currency": currency}}},
    }  # fmt: skip


def clv(histogram: Histogram, currency: str) -> dict[str, Any]:
    return {
        "type": "bar",
        "data": {
            "labels": [f"{label} {currency}" for label in histogram.labels],
            "datasets": [{"label": _("Customers"), "data": histogram.counts, "backgroundColor": BRAND}],
        },
        "options": {**_BASE, "plugins": {"legend": {"display": False}},
                    "scales": {"y": {"beginAtZero": True, "ticks": {"precision": 0}}}},
    }  # fmt: skip


def segments(days: list[Any], series: list[Any]) -> dict[str, Any]:
    return {
        "type": "line",
        "data": {
            "labels": [formats.date_format(d, "j M") for d in days],
            "datasets": [
                {"label": s.name, "data": s.sizes, "borderColor": PALETTE[i % len(PALETTE)],
                 "backgroundColor": PALETTE[i % len(PALETTE)], "pointRadius": 0, "tension": 0.2}
                for i, s in enumerate(series)
            ],
        },
        "options": {**_BASE, "interaction": {"mode": "index", "intersect": False},
                    "plugins": {"legend": {"position": "bottom"}},
                    "scales": {"y": {"beginAtZero": True, "ticks": {"precision": 0}}}},
    }  # fmt: skip
