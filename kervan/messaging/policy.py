"""Who may get a message, decided the same way for a campaign's audience preview (counts over a whole segment, in
SQL) and for each message at send time (the few customers of a worker's batch): one annotation, `blocked`, that
names the first reason a customer is excluded, or "" when the message may go.

Reasons, in order: no address on the channel; the address is suppressed; no consent (marketing needs a granted
marketing consent for the address, from the ledger's cache on the customer; transactional needs only that the
customer has not refused transactional messages); the message's topic turned off in the preference centre; the
marketing frequency cap is reached. Quiet hours do not
exclude anyone: a message due inside them is held until the recipient's window opens (`quiet_until`).
"""

import datetime as dt
import zoneinfo

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from kervan.customers.consent_state import LATEST_FIRST
from kervan.customers.models import ConsentRecord, Customer
from kervan.messaging.models import Message, Policy, Purpose, PushSubscription, Suppression, TopicOptOut

# The customer field a channel's messages go to, and the one its suppressions and consents are matched on.
ADDRESS_FIELD = {"email": "email", "sms": "phone", "push": None}
MATCH_FIELD = {"email": "email_key", "sms": "phone", "push": None}
NO_ADDRESS, SUPPRESSED, NO_CONSENT, TOPIC, CAPPED = (
    Message.Skip.NO_ADDRESS,
    Message.Skip.SUPPRESSED,
    Message.Skip.NO_CONSENT,
    Message.Skip.TOPIC,
    Message.Skip.CAPPED,
)


def current_policy() -> Policy:
    return Policy.objects.order_by("pk").first() or Policy.objects.create()


def with_blocked(
    customers: QuerySet[Customer],
    *,
    channel: str,
    purpose: str,
    now: dt.datetime,
    topic_id: int | None = None,
    whole_audience: bool = False,
) -> QuerySet[Customer]:
    """`customers` annotated with `blocked`: the first reason (a Message.Skip value) they may not get a `purpose`
    message on `channel` now, or "".

    The same rules in two forms. For a worker's batch (a few hundred customers) each check is a lookup per customer
    (a correlated EXISTS on an index). For a whole audience (`whole_audience`: a campaign's preview, up to millions)
    each is a set computed once and probed per customer (an uncorrelated IN, which PostgreSQL hashes): a lookup per
    customer inside CASE cannot become a join, and costs seconds at a million."""
    policy = current_policy()
    address, match = ADDRESS_FIELD[channel], MATCH_FIELD[channel]
    whens = []
    if channel == "push":  # no address: the customer's browsers that subscribed
        if whole_audience:
            subscribed = Q(pk__in=PushSubscription.objects.filter(customer__isnull=False).values("customer_id"))
        else:
            subscribed = Q(Exists(PushSubscription.objects.filter(customer=OuterRef("pk"))))
        whens.append(When(~subscribed, then=Value(NO_ADDRESS)))
    if address:
        whens.append(When(Q(**{address: ""}), then=Value(NO_ADDRESS)))
        suppressions = Suppression.objects.filter(channel=channel)
        if whole_audience:
            suppressed = Q(**{f"{match}__in": suppressions.values("address")})
        else:
            suppressed = Q(Exists(suppressions.filter(address=OuterRef(match))))
        whens.append(When(suppressed, then=Value(SUPPRESSED)))
    if purpose == Purpose.MARKETING:
        whens.append(When(~Q(**{f"consent_{channel}": ConsentRecord.Status.GRANTED}), then=Value(NO_CONSENT)))
        if topic_id is not None:  # the customer turned the message's topic off in the preference centre
            opted_out = TopicOptOut.objects.filter(topic_id=topic_id)
            if whole_audience:
                turned_off = Q(pk__in=opted_out.values("customer_id"))
            else:
                turned_off = Q(Exists(opted_out.filter(customer=OuterRef("pk"))))
            whens.append(When(turned_off, then=Value(TOPIC)))
        cap, hours = policy.cap(channel)
        if cap:
            recent = Message.objects.filter(
                channel=channel,
                purpose=Purpose.MARKETING,
                status=Message.Status.SENT,
                sent_at__gte=now - dt.timedelta(hours=hours),
            )
            if whole_audience:
                at_cap = recent.order_by().values("customer_id")
                if cap > 1:
                    at_cap = at_cap.annotate(n=Count("pk")).filter(n__gte=cap)
                capped = Q(pk__in=at_cap.values("customer_id"))
            elif cap == 1:
                capped = Q(Exists(recent.filter(customer=OuterRef("pk"))))
            else:
                sent = Subquery(
                    recent.filter(customer=OuterRef("pk"))
                    .order_by()
                    .values("customer")
                    .annotate(n=Count("pk"))
                    .values("n")[:1],
                    output_field=IntegerField(),
                )
                customers = customers.annotate(_recent_sent=Coalesce(sent, 0))
                capped = Q(_recent_sent__gte=cap)
            whens.append(When(capped, then=Value(CAPPED)))
    else:
        latest = ConsentRecord.objects.filter(
            customer=OuterRef("pk"), channel=channel, purpose=ConsentRecord.Purpose.TRANSACTIONAL
        ).order_by(*LATEST_FIRST)
        if match:
            latest = latest.filter(address=OuterRef(match))
        refused = Subquery(latest.values("status")[:1])
        customers = customers.annotate(_transactional=refused)
        whens.append(When(Q(_transactional=ConsentRecord.Status.REFUSED), then=Value(NO_CONSENT)))
    return customers.annotate(blocked=Case(*whens, default=Value("")))


def quiet_until(policy: Policy, channel: str, time_zone: str, now: dt.datetime) -> dt.datetime | None:
    """When an SMS or push due `now` may go, if now is inside the recipient's quiet hours; None when it may go now.
    Email has no quiet hours (it waits in the inbox)."""
    if channel == "email" or policy.quiet_start == policy.quiet_end:
        return None
    try:
        zone = zoneinfo.ZoneInfo(time_zone or "Europe/Istanbul")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("Europe/Istanbul")
    local = now.astimezone(zone)
    start, end, clock_time = policy.quiet_start, policy.quiet_end, local.time()
    inside = (start <= clock_time or clock_time < end) if start > end else (start <= clock_time < end)
    if not inside:
        return None
    opens = dt.datetime.combine(local.date(), end, tzinfo=zone)
    if opens <= local:
        opens = dt.datetime.combine(local.date() + dt.timedelta(days=1), end, tzinfo=zone)
    return opens.astimezone(dt.UTC)


def blocked_counts(
    customers: QuerySet[Customer], *, channel: str, purpose: str, now: dt.datetime, topic_id: int | None = None
) -> dict[str, int]:
    """reason → how many of `customers` it excludes ("" → how many may get the message). One GROUP BY over the
    reasons: with the audience and each exclusion as hashed sets, PostgreSQL aggregates the five groups by hash."""
    blocked = with_blocked(customers, channel=channel, purpose=purpose, now=now, topic_id=topic_id, whole_audience=True)
    rows = blocked.order_by().values("blocked").annotate(n=Count("pk"))
    return {row["blocked"]: row["n"] for row in rows}


__all__ = ["blocked_counts", "current_policy", "quiet_until", "with_blocked"]
