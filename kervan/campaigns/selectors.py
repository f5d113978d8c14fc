"""Reads of campaigns: the real audience before sending, and the report after."""

import datetime as dt
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncHour

from kervan.campaigns.actions import audience
from kervan.campaigns.models import Campaign
from kervan.core import clock
from kervan.messaging.models import Message
from kervan.messaging.policy import blocked_counts
from kervan.orders.models import Order

COUNTED = ("sent", "delivered", "opened", "clicked", "bounced", "unsubscribed")


def audience_preview(campaign: Campaign) -> dict:
    """How many the campaign reaches after consent, suppression and frequency caps, and how many each reason
    excludes — the same rules the sender applies to each message (kervan.messaging.policy)."""
    template = campaign.template
    counts = blocked_counts(
        audience(campaign),
        channel=campaign.channel,
        purpose=template.purpose,
        now=clock.now(),
        topic_id=template.topic_id,
    )
    reachable = counts.pop("", 0)
    excluded = {reason: n for reason, n in counts.items() if n}
    return {"audience": reachable + sum(excluded.values()), "reachable": reachable, "excluded": excluded}


def campaign_report(campaign: Campaign) -> dict:
    """Counts, rates and attributed revenue, in total, per A/B variant and per hour."""
    messages = Message.objects.filter(origin=campaign.origin)
    totals = _counts(messages)
    variants = []
    for variant in sorted(set(messages.exclude(variant="").values_list("variant", flat=True))):
        row = _counts(messages.filter(variant=variant))
        row["variant"] = variant
        variants.append(row)
    skipped = dict(
        messages.filter(status=Message.Status.SKIPPED)
        .order_by()
        .values_list("skip_reason")
        .annotate(n=Count("pk"))
        .values_list("skip_reason", "n")
    )
    hours = list(
        messages.filter(sent_at__isnull=False)
        .annotate(hour=TruncHour("sent_at"))
        .order_by("hour")
        .values("hour")
        .annotate(sent=Count("pk"), opened=Count("opened_at"), clicked=Count("clicked_at"))
    )
    return {**totals, "variants": variants, "skipped": skipped, "hours": hours}


def _counts(messages) -> dict:
    row = messages.aggregate(
        queued=Count("pk", filter=Q(status__in=[Message.Status.QUEUED, Message.Status.HELD])),
        sent=Count("sent_at"),
        delivered=Count("delivered_at"),
        opened=Count("opened_at"),
        clicked=Count("clicked_at"),
        bounced=Count("bounced_at"),
        unsubscribed=Count("unsubscribed_at"),
        failed=Count("pk", filter=Q(status=Message.Status.FAILED)),
        machine_opens=Sum("machine_opens"),
    )
    sent = row["sent"] or 0
    revenue, orders = _attributed(messages)
    row["machine_opens"] = row["machine_opens"] or 0
    row["revenue"], row["orders"] = revenue, orders
    for name in ("opened", "clicked", "bounced", "unsubscribed"):
        row[f"{name}_rate"] = round(row[name] / sent, 4) if sent else 0.0
    row["opens_per_sent"] = row["opened_rate"]
    row["clicks_per_sent"] = row["clicked_rate"]
    row["revenue_per_sent"] = float(revenue / sent) if sent else 0.0
    return row


def _attributed(messages) -> tuple[Decimal, int]:
    """Revenue (reporting currency) of orders placed by a recipient after they opened or clicked (email) or clicked
    (SMS, push), within the campaign's attribution window. An order counts once even if several messages led to it."""
    campaign_days = {
        c.origin: c.attribution_days
        for c in Campaign.objects.filter(pk__in=_campaign_ids(messages)).only("pk", "attribution_days")
    }
    # A click also sets opened_at (kervan.messaging.actions.message_clicked), and an SMS has no open of its own: so
    # opened_at is the first engagement on every channel.
    engaged = messages.filter(opened_at__isnull=False)
    if not engaged.exists():
        return Decimal("0"), 0
    total, count = Decimal("0"), 0
    for origin, days in campaign_days.items():
        window = dt.timedelta(days=days)
        touched = engaged.filter(
            origin=origin,
            customer_id=OuterRef("customer_id"),
            opened_at__lte=OuterRef("placed_at"),
            opened_at__gte=OuterRef("placed_at") - window,
        )
        orders = Order.objects.filter(Exists(touched)).exclude(status="cancelled")
        row = orders.aggregate(revenue=Sum("reporting_total"), n=Count("pk"))
        total += row["revenue"] or Decimal("0")
        count += row["n"] or 0
    return total, count


def _campaign_ids(messages) -> list[int]:
    origins = messages.order_by().values_list("origin", flat=True).distinct()
    return [int(o.split(":", 1)[1]) for o in origins if o.startswith("campaign:")]
