"""Reads of flows: the list, per-step counts, attributed revenue per flow and step, and the holdout uplift."""

import bisect
import datetime as dt
import math
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.errors import NotFound
from kervan.flows.models import Flow, FlowRun, FlowStepLog
from kervan.messaging.models import Message
from kervan.orders.models import Order

PASSED = ("passed", "yes", "no", "sent", "skipped", "failed")
# Attribution windows (days) by channel: an order within this long after the message was opened or clicked.
WINDOW_DAYS = {"email": 5, "sms": 1, "push": 1}
Z95 = 1.96


def flow_list(*, actor: Actor) -> QuerySet[Flow]:
    return actor.scope("flows", Flow.objects.all()).annotate(
        active=Count("runs", filter=Q(runs__status=FlowRun.Status.ACTIVE))
    )


def flow_get(*, actor: Actor, flow_id) -> Flow:
    flow = actor.scope("flows", Flow.objects.all()).filter(pk=flow_id).first()
    if flow is None:
        raise NotFound(_("No such flow."), "not_found")
    return flow


def step_counts(flow: Flow) -> dict[str, dict[str, int]]:
    """Per step of the flow (any version): waiting there now, passed on, exited there, and converted (runs that
    passed the step and then reached the flow's goal)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"waiting": 0, "passed": 0, "exited": 0, "converted": 0})
    for step, status, n in (
        FlowRun.objects.filter(flow=flow, status__in=[FlowRun.Status.ACTIVE, FlowRun.Status.EXITED])
        .values_list("step", "status")
        .annotate(n=Count("pk"))
    ):
        counts[step]["waiting" if status == FlowRun.Status.ACTIVE else "exited"] += n
    logs = FlowStepLog.objects.filter(flow=flow, outcome__in=PASSED)
    for step, n in logs.values_list("step").annotate(n=Count("pk")).values_list("step", "n"):
        counts[step]["passed"] += n
    converted = logs.filter(run__converted_at__isnull=False)
    for step, n in converted.values_list("step").annotate(n=Count("run", distinct=True)).values_list("step", "n"):
        counts[step]["converted"] += n
    return dict(counts)


def flow_summary(flow: Flow) -> dict:
    runs = FlowRun.objects.filter(flow=flow)
    row = runs.aggregate(
        entered=Count("pk"),
        active=Count("pk", filter=Q(status=FlowRun.Status.ACTIVE)),
        completed=Count("pk", filter=Q(status=FlowRun.Status.COMPLETED)),
        exited=Count("pk", filter=Q(status=FlowRun.Status.EXITED)),
        holdout=Count("pk", filter=Q(status=FlowRun.Status.HOLDOUT)),
        converted=Count("converted_at"),
    )
    return row


def attributed_revenue(flow: Flow) -> dict:
    """Orders attributed to the flow's messages: an order goes to the last message (of any flow or campaign) its
    customer opened or clicked within the channel's window before placing it — so an order counts once, for one
    message. Per step, and in total: revenue, orders, recipients, conversion rate, revenue per recipient."""
    prefix = f"flow:{flow.pk}:"
    mine = Message.objects.filter(origin__startswith=prefix, sent_at__isnull=False)
    recipients = defaultdict(int)
    for origin, n in mine.values_list("origin").annotate(n=Count("pk")).values_list("origin", "n"):
        recipients[origin.split(":")[2]] += n
    customers = mine.filter(opened_at__isnull=False).values("customer_id")
    orders = list(
        Order.objects.filter(customer_id__in=customers)
        .exclude(status="cancelled")
        .values_list("customer_id", "placed_at", "reporting_total")
    )
    per_step: dict[str, dict] = defaultdict(lambda: {"revenue": Decimal("0"), "orders": 0})
    if orders:
        longest = dt.timedelta(days=max(WINDOW_DAYS.values()))
        # Every message those customers engaged with (any flow or campaign) in the orders' span, in one read.
        touches: dict[int, list[tuple[dt.datetime, int, str, str]]] = defaultdict(list)
        for customer_id, opened, pk, origin, channel in (
            Message.objects.filter(
                customer_id__in=customers,
                opened_at__gte=min(o[1] for o in orders) - longest,
                opened_at__lte=max(o[1] for o in orders),
            )
            .order_by("customer_id", "opened_at", "id")
            .values_list("customer_id", "opened_at", "id", "origin", "channel")
        ):
            touches[customer_id].append((opened, pk, origin, channel))
        for customer_id, placed_at, total in orders:
            history = touches.get(customer_id, [])
            # the customer's messages opened at or before the order, newest first, back to the longest window
            i = bisect.bisect_right(history, (placed_at, float("inf"))) - 1
            while i >= 0 and history[i][0] >= placed_at - longest:
                opened, _pk, origin, channel = history[i]
                if opened >= placed_at - dt.timedelta(days=WINDOW_DAYS.get(channel, 1)):
                    if origin.startswith(prefix):
                        step = per_step[origin.split(":")[2]]
                        step["revenue"] += total or Decimal("0")
                        step["orders"] += 1
                    break
                i -= 1
    steps = {}
    for step_id in set(recipients) | set(per_step):
        sent = recipients.get(step_id, 0)
        revenue, n = per_step[step_id]["revenue"], per_step[step_id]["orders"]
        steps[step_id] = {
            "recipients": sent,
            "orders": n,
            "revenue": revenue,
            "conversion_rate": round(n / sent, 4) if sent else 0.0,
            "revenue_per_recipient": (revenue / sent).quantize(Decimal("0.01")) if sent else Decimal("0"),
        }
    total_sent = sum(recipients.values())
    total_revenue = sum((s["revenue"] for s in steps.values()), Decimal("0"))
    total_orders = sum(s["orders"] for s in steps.values())
    return {
        "steps": steps,
        "recipients": total_sent,
        "orders": total_orders,
        "revenue": total_revenue,
        "conversion_rate": round(total_orders / total_sent, 4) if total_sent else 0.0,
        "revenue_per_recipient": (total_revenue / total_sent).quantize(Decimal("0.01")) if total_sent else Decimal("0"),
    }


def uplift(flow: Flow, *, now: dt.datetime | None = None) -> dict:
    """Treatment (entered and went through the flow) against holdout (entered, received nothing): conversion rate
    and revenue per person within the goal window after entry, the difference with a 95% confidence interval, and
    whether it is significant yet. Only entries whose window has closed count, so both groups had the same time."""
    from kervan.core import clock

    now = now or clock.now()
    days = float((flow.live_version.settings if flow.live_version else flow.settings).get("goal_days") or 7)
    closed = FlowRun.objects.filter(flow=flow, entered_at__lte=now - dt.timedelta(days=days))
    revenue = (
        Order.objects.filter(
            customer_id=OuterRef("customer_id"),
            placed_at__gte=OuterRef("entered_at"),
            placed_at__lte=OuterRef("entered_at") + dt.timedelta(days=days),
        )
        .exclude(status="cancelled")
        .order_by()
        .values("customer_id")
        .annotate(total=Sum("reporting_total"))
        .values("total")
    )
    groups = {}
    for name, rows in (
        ("treatment", closed.exclude(status=FlowRun.Status.HOLDOUT)),
        ("holdout", closed.filter(status=FlowRun.Status.HOLDOUT)),
    ):
        values = []
        converted = 0
        for ordered, total in rows.annotate(
            ordered=Exists(
                Order.objects.filter(
                    customer_id=OuterRef("customer_id"),
                    placed_at__gte=OuterRef("entered_at"),
                    placed_at__lte=OuterRef("entered_at") + dt.timedelta(days=days),
                ).exclude(status="cancelled")
            ),
            total=revenue,
        ).values_list("ordered", "total"):
            converted += bool(ordered)
            values.append(float(total or 0))
        groups[name] = _group(values, converted)
    t, h = groups["treatment"], groups["holdout"]
    result = {"goal_days": days, "treatment": t, "holdout": h, "conversion": None, "revenue": None}
    if t["people"] and h["people"]:
        result["conversion"] = _difference(
            t["conversion_rate"],
            h["conversion_rate"],
            t["conversion_rate"] * (1 - t["conversion_rate"]) / t["people"]
            + h["conversion_rate"] * (1 - h["conversion_rate"]) / h["people"],
        )
        result["revenue"] = _difference(
            t["revenue_per_person"], h["revenue_per_person"], t["variance"] / t["people"] + h["variance"] / h["people"]
        )
    return result


def _group(values: list[float], converted: int) -> dict:
    n = len(values)
    mean = sum(values) / n if n else 0.0
    variance = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return {
        "people": n,
        "converted": converted,
        "conversion_rate": converted / n if n else 0.0,
        "revenue_per_person": mean,
        "variance": variance,
    }


def _difference(treatment: float, holdout: float, variance: float) -> dict:
    """The difference with its 95% interval (normal approximation: Wald for rates, Welch for means)."""
    diff = treatment - holdout
    half = Z95 * math.sqrt(max(variance, 0.0))
    low, high = diff - half, diff + half
    return {
        "difference": diff,
        "relative": diff / holdout if holdout else None,
        "low": low,
        "high": high,
        "significant": variance > 0 and (low > 0 or high < 0),
    }
