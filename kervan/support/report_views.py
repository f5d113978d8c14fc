"""The support reports page (/support/reports/): the period and filter picker, each report as a chart (Chart.js
configurations drawn by workspace/charts.js from json_script blocks) and a table, and the tables as CSV."""

from __future__ import annotations

import csv
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import formats
from django.utils.translation import gettext as _

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError
from kervan.support import reports
from kervan.support.models import Ticket
from kervan.support.ticket_actions import agents

CHART_SCRIPTS = ("vendor/chartjs/chart.min.js", "workspace/charts.js")
PALETTE = ["#b4541a", "#2f6fdb", "#3a9d5d", "#8e44ad", "#d4a017", "#7f8c8d"]
_BASE = {"responsive": True, "maintainAspectRatio": False, "animation": False}
_LEGEND = {"legend": {"position": "bottom"}}


def _stacked() -> dict[str, Any]:
    return {"x": {"stacked": True}, "y": {"stacked": True, "beginAtZero": True, "ticks": {"precision": 0}}}


def _day_labels(report: reports.SupportReport) -> list[str]:
    return [formats.date_format(day, "j M") for day in report.period.dates]


def charts(report: reports.SupportReport) -> dict[str, dict[str, Any]]:
    volume, times, backlog = report.volume, report.times, report.backlog
    compliance = report.compliance
    return {
        "volume": {
            "type": "bar",
            "data": {"labels": _day_labels(report), "datasets": [
                {"label": label, "data": volume.series(code), "backgroundColor": PALETTE[i % len(PALETTE)]}
                for i, (code, label) in enumerate(volume.channels)
            ]},
            "options": {**_BASE, "plugins": _LEGEND, "scales": _stacked()},
        },
        "times": {
            "type": "bar",
            "data": {"labels": [_("First response"), _("Resolution")], "datasets": [
                {"label": _("Median (hours)"), "backgroundColor": PALETTE[0],
                 "data": [times.first_response.median_hours, times.resolution.median_hours]},
                {"label": _("90th percentile (hours)"), "backgroundColor": PALETTE[1],
                 "data": [times.first_response.p90_hours, times.resolution.p90_hours]},
            ]},
            "options": {**_BASE, "plugins": _LEGEND, "scales": {"y": {"beginAtZero": True}}},
        },
        "sla": {
            "type": "bar",
            "data": {"labels": [_("First response"), _("Resolution")], "datasets": [
                {"label": _("Met"), "backgroundColor": "#3a9d5d",
                 "data": [compliance["first_response"].met, compliance["resolution"].met]},
                {"label": _("Breached"), "backgroundColor": "#b42318",
                 "data": [compliance["first_response"].breached, compliance["resolution"].breached]},
                {"label": _("Still running"), "backgroundColor": "#7f8c8d",
                 "data": [compliance["first_response"].running, compliance["resolution"].running]},
            ]},
            "options": {**_BASE, "indexAxis": "y", "plugins": _LEGEND, "scales": {
                "x": {"stacked": True, "beginAtZero": True, "ticks": {"precision": 0}}, "y": {"stacked": True}}},
        },
        "csat": {
            "type": "bar",
            "data": {"labels": [row["agent_name"] for row in report.csat["by_agent"]], "datasets": [
                {"label": _("Average score (1–5)"), "backgroundColor": PALETTE[2],
                 "data": [row["average"] for row in report.csat["by_agent"]]},
            ]},
            "options": {**_BASE, "plugins": _LEGEND, "scales": {"y": {"beginAtZero": True, "max": 5}}},
        },
        "backlog_age": {
            "type": "bar",
            "data": {"labels": [str(label) for _k, label, _d in reports.AGE_BUCKETS], "datasets": [
                {"label": label, "data": counts, "backgroundColor": PALETTE[i % len(PALETTE)]}
                for i, (_status, label, counts) in enumerate(backlog.by_status)
            ]},
            "options": {**_BASE, "plugins": _LEGEND, "scales": _stacked()},
        },
        "backlog_days": {
            "type": "line",
            "data": {"labels": _day_labels(report), "datasets": [
                {"label": _("Open tickets"), "data": [n for _day, n in backlog.days], "borderColor": PALETTE[1],
                 "backgroundColor": PALETTE[1], "pointRadius": 0, "tension": 0.25},
            ]},
            "options": {**_BASE, "plugins": _LEGEND, "scales": {"y": {"beginAtZero": True, "ticks": {"precision": 0}}}},
        },
        "workload": {
            "type": "bar",
            "data": {"labels": [row.name for row in report.workload], "datasets": [
                {"label": _("Open assigned"), "data": [r.open_assigned for r in report.workload],
                 "backgroundColor": PALETTE[0]},
                {"label": _("Replies sent"), "data": [r.replies for r in report.workload],
                 "backgroundColor": PALETTE[1]},
                {"label": _("Solved"), "data": [r.solved for r in report.workload], "backgroundColor": PALETTE[2]},
            ]},
            "options": {**_BASE, "plugins": _LEGEND, "scales": {"y": {"beginAtZero": True, "ticks": {"precision": 0}}}},
        },
        "chat": {
            "type": "bar",
            "data": {"labels": [label for label, _n in report.chats.histogram], "datasets": [
                {"label": _("Answered chats"), "data": [n for _label, n in report.chats.histogram],
                 "backgroundColor": PALETTE[3]},
            ]},
            "options": {**_BASE, "plugins": _LEGEND, "scales": {"y": {"beginAtZero": True, "ticks": {"precision": 0}}}},
        },
    }  # fmt: skip


def _blank(value: Any) -> Any:
    return "" if value is None else value


def tables(report: reports.SupportReport) -> list[tuple[str, list[str], list[list[Any]]]]:
    """Every table of the page as (title, header, rows), for the CSV download."""
    volume, times, backlog = report.volume, report.times, report.backlog
    out = [
        (
            _("Tickets per day and channel"),
            [_("Day"), *[label for _code, label in volume.channels], _("Total")],
            [
                [day.isoformat(), *volume.row(day), volume.per_day(day)] for day in volume.days
            ],
        ),
        (
            _("Response times (wall-clock hours)"),
            [_("Measure"), _("Tickets"), _("Median"), _("90th percentile")],
            [
                [_("First response"), times.first_response.count, _blank(times.first_response.median_hours),
                 _blank(times.first_response.p90_hours)],
                [_("Resolution"), times.resolution.count, _blank(times.resolution.median_hours),
                 _blank(times.resolution.p90_hours)],
            ],
        ),
        (
            _("SLA compliance"),
            [_("Target"), _("Met"), _("Breached"), _("Still running"), _("Share met")],
            [
                [label, c.met, c.breached, c.running, _blank(c.pct)]
                for label, c in ((_("First response"), report.compliance["first_response"]),
                                 (_("Resolution"), report.compliance["resolution"]))
            ],
        ),
        (
            _("Customer satisfaction"),
            [_("Agent"), _("Answers"), _("Average score"), _("Share satisfied")],
            [[_("All"), report.csat["answered"], _blank(report.csat["average"]), _blank(report.csat["satisfied_pct"])]]
            + [[r["agent_name"], r["answered"], _blank(r["average"]), _blank(r["satisfied_pct"])]
               for r in report.csat["by_agent"]],
        ),
        (
            _("Open tickets by status and age"),
            [_("Status"), *[str(label) for _k, label, _d in reports.AGE_BUCKETS], _("Total")],
            [[label, *counts, sum(counts)] for _status, label, counts in backlog.by_status],
        ),
        (_("Open tickets per day"), [_("Day"), _("Open tickets")], [[d.isoformat(), n] for d, n in backlog.days]),
        (
            _("Agent workload"),
            [_("Agent"), _("Open assigned"), _("Replies sent"), _("Solved"), _("Median first response (hours)"),
             _("CSAT average")],
            [[r.name, r.open_assigned, r.replies, r.solved, _blank(r.first_response.median_hours),
              _blank(r.csat_average)] for r in report.workload],
        ),
        (
            _("Chat wait"),
            [_("Chats started"), _("Answered"), _("Median wait (minutes)"), _("90th percentile (minutes)"),
             _("Unanswered"), _("No answer yet")],
            [[report.chats.started, report.chats.wait.count, _blank(report.chats.wait.median_minutes),
              _blank(report.chats.wait.p90_minutes), report.chats.unanswered, report.chats.waiting_now]],
        ),
    ]  # fmt: skip
    return out


def _csv(report: reports.SupportReport) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"support-report-{report.period.first.isoformat()}-{report.period.last.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response.write("\ufeff")  # a byte-order mark: spreadsheet programs then read the Turkish letters right
    writer = csv.writer(response)
    for title, header, rows in tables(report):
        writer.writerow([title])
        writer.writerow(header)
        writer.writerows(rows)
        writer.writerow([])
    return response


def _with_download(request) -> str:
    query = request.GET.copy()
    query["download"] = "csv"
    return query.urlencode()


@require_access("support", "read")
def reports_page(request):
    given = {
        key: request.GET.get(key, "").replace("\x00", "")[:40] for key in ("period", "start", "end", "channel", "agent")
    }
    error = None
    try:
        period = reports.period_from(given["period"], given["start"], given["end"])
        filters = reports.filters_from(given["channel"], given["agent"])
    except KervanError as exc:
        error = exc
        period, filters = reports.period_from(""), reports.Filters()
    report = reports.support_report(actor=request.actor, period=period, filters=filters)
    if request.GET.get("download") == "csv" and error is None:
        return _csv(report)
    context = {
        "report": report,
        "charts": charts(report),
        "periods": reports.PERIODS.items(),
        "key": given["period"] if error is not None and given["period"] == "custom" else period.key,
        "given": given,
        "start": given["start"] or period.first.isoformat(),
        "end": given["end"] or period.last.isoformat(),
        "channels": Ticket.Channel.choices,
        "agents": agents().order_by("username"),
        "error": error.detail if error else "",
        "error_field": error.field if error else "",
        "age_buckets": [label for _k, label, _d in reports.AGE_BUCKETS],
        "scripts": CHART_SCRIPTS,
        "csv_query": _with_download(request),
    }
    return render(request, "support/reports.html", context, status=400 if error else 200)
