"""How customers get into flows, and how what they do reaches the runs they are in.

One explicit path, no signals: `read_events()` reads the event store forward from a saved position (Event.id). The
store is where everything a customer does lands — the tracker and the API, the order actions ("Placed Order",
"Shipped Order" …), segment membership ("Entered Segment"), messages — so one reader serves every event-driven
trigger. For each new event it (1) lets the customer into each live flow the event triggers, (2) ends their active
runs in flows that exit on it (someone who ordered leaves the abandoned-cart flow at once), (3) marks the runs whose
goal it is as converted, and (4) wakes runs waiting for it. Each is idempotent, so the reader re-reads a margin of
ids behind its position: an event committed late with a smaller id (concurrent writers) is still seen.

The other triggers are scans run on a schedule (`scan_all()`): dates (birthdays, first-order anniversaries, custom
date fields) in each customer's time zone, no order for N days, no activity for N days (sunset), back in stock,
new products in a subscribed category, price drops on viewed or carted products.
"""

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import F, Max, Min

from kervan.core import clock
from kervan.customers.models import Customer, CustomerStats
from kervan.events.models import Event
from kervan.flows.graph import exit_events, step_delay_hours, trigger_event_names, trigger_where
from kervan.flows.models import Flow, FlowRun, FlowVersion, ProductSubscription, TriggerCursor
from kervan.flows.rules import event_matches, stable_percent

READ_BATCH = 5_000
REREAD_MARGIN = 2_000  # ids behind the position read again (see the module)
SCAN_SLACK = dt.timedelta(days=7)  # a scan that did not run for a while still catches up this far


@dataclass
class Entry:
    customer_id: int
    key: str  # unique per flow and customer: the same key never enters twice
    context: dict
    due_at: dt.datetime | None = None  # when the first step runs (default: on entry, plus the trigger's delay)
    at: dt.datetime | None = None  # when it happened (an event's time; default now): the run's entry time


def live_versions() -> list[FlowVersion]:
    """The version new entrants of each live flow follow (older versions only finish the runs they have)."""
    return list(
        FlowVersion.objects.filter(flow__status=Flow.Status.LIVE, flow__live_version=F("pk")).select_related("flow")
    )


def enroll(version: FlowVersion, entries: list[Entry], *, now: dt.datetime | None = None) -> int:
    """Let these customers into `version`'s flow, except those already in it, within its re-entry cooldown (or
    ever, for a flow one enters once), merged away, or entered under the same key before. A stable share of them
    (the flow's holdout) is recorded but receives nothing, to measure what the flow earns. Returns how many entered."""
    if not entries:
        return 0
    now = now or clock.now()
    flow, settings = version.flow, version.settings
    ids = {e.customer_id for e in entries}
    live_ids = set(Customer.objects.filter(pk__in=ids, merged_into__isnull=True).values_list("pk", flat=True))
    busy = set(
        FlowRun.objects.filter(flow=flow, customer_id__in=live_ids, status=FlowRun.Status.ACTIVE).values_list(
            "customer_id", flat=True
        )
    )
    reentry = settings.get("reentry_days")
    earlier = FlowRun.objects.filter(flow=flow, customer_id__in=live_ids)
    if reentry is not None:
        earlier = earlier.filter(entered_at__gt=now - dt.timedelta(days=float(reentry)))
    busy |= set(earlier.values_list("customer_id", flat=True))
    holdout = float(settings.get("holdout_percent") or 0)
    delay = dt.timedelta(hours=step_delay_hours(version.trigger))
    start = version.graph["start"]
    rows, seen = [], set()
    for entry in entries:
        if entry.customer_id not in live_ids or entry.customer_id in busy or entry.customer_id in seen:
            continue
        seen.add(entry.customer_id)
        held_out = holdout > 0 and stable_percent(f"holdout:{flow.pk}:{entry.customer_id}") < holdout
        entered = min(entry.at or now, now)
        rows.append(
            FlowRun(
                flow=flow,
                version=version,
                customer_id=entry.customer_id,
                entry_key=entry.key[:120],
                status=FlowRun.Status.HOLDOUT if held_out else FlowRun.Status.ACTIVE,
                step=start,
                entered_at=entered,
                step_started_at=entered,
                due_at=None if held_out else (entry.due_at or entered + delay),
                context=entry.context,
            )
        )
    FlowRun.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return len(rows)


# --- the event reader -------------------------------------------------------------------------------------------


def read_events(*, limit: int = READ_BATCH) -> int:
    """Read the event store forward from the saved position (see the module); returns how many events it read."""
    versions = live_versions()
    cursor, _created = TriggerCursor.objects.get_or_create(
        name="events", defaults={"position": Event.objects.aggregate(m=Max("id"))["m"] or 0}
    )
    entering: dict[str, list[FlowVersion]] = defaultdict(list)
    exiting: dict[str, list[FlowVersion]] = defaultdict(list)
    goals: dict[str, list[FlowVersion]] = defaultdict(list)
    for version in versions:
        for name in trigger_event_names(version.trigger):
            entering[name].append(version)
        for name in exit_events(version.trigger, version.settings):
            exiting[name].append(version)
        goals[version.settings.get("goal") or "Placed Order"].append(version)
    waiting = set(
        FlowRun.objects.exclude(waiting_for="")  # only active runs wait (flow_run_waiting_idx)
        .values_list("waiting_for", flat=True)
        .distinct()[:200]
    )
    names = set(entering) | set(exiting) | set(goals) | waiting | {SUBSCRIBED}
    total = 0
    while names:
        start = max(cursor.position - REREAD_MARGIN, 0) if total == 0 else cursor.position
        events = list(
            Event.objects.filter(id__gt=start, name__in=names, customer__isnull=False)
            .order_by("id")
            .values("id", "dedupe_key", "customer_id", "name", "occurred_at", "properties")[:limit]
        )
        if not events:
            break
        with transaction.atomic():
            _enter(events, entering)
            _exit(events, exiting)
            _convert(events, goals)
            _wake(events, waiting)
            _subscribe([e for e in events if e["name"] == SUBSCRIBED])
            newest = max(e["id"] for e in events)
            if newest > cursor.position:
                cursor.position = newest
            cursor.ran_at = clock.now()
            cursor.save(update_fields=["position", "ran_at"])
        total += len(events)
        if len(events) < limit:
            break
    return total


# An event from before a flow first went live does not let anyone in (the reader re-reads a margin, and a flow
# published now must not answer yesterday's checkouts); a few minutes either side allow for clocks that disagree.
BEFORE_LIVE = dt.timedelta(minutes=5)


def _enter(events: list[dict], entering: dict[str, list[FlowVersion]]) -> None:
    by_version: dict[int, list[Entry]] = defaultdict(list)
    versions = {}
    flows = {v.flow_id for vs in entering.values() for v in vs}
    first_live = dict(
        FlowVersion.objects.filter(flow_id__in=flows)
        .values("flow_id")
        .annotate(first=Min("published_at"))
        .values_list("flow_id", "first")
    )
    for event in events:
        for version in entering.get(event["name"], ()):
            if event["occurred_at"] < first_live[version.flow_id] - BEFORE_LIVE:
                continue
            if event_matches(event["properties"], trigger_where(version.trigger)):
                versions[version.pk] = version
                by_version[version.pk].append(
                    Entry(
                        event["customer_id"],
                        f"event:{event['dedupe_key']}",
                        _trigger_context(event),
                        at=event["occurred_at"],
                    )
                )
    for version_id, entries in by_version.items():
        enroll(versions[version_id], entries)


def _trigger_context(event: dict) -> dict:
    """What a flow's messages may show of the event that let the customer in (a cart's items, a product)."""
    props = event["properties"] if isinstance(event["properties"], dict) else {}
    return {"event": event["name"], "properties": props, "occurred_at": event["occurred_at"].isoformat()}


def _exit(events: list[dict], exiting: dict[str, list[FlowVersion]]) -> None:
    """End the active runs of flows that exit on these events (one read of the runs, one update)."""
    hits = [(e, {v.flow_id for v in exiting[e["name"]]}) for e in events if e["name"] in exiting]
    if not hits:
        return
    flows = set().union(*(f for _e, f in hits))
    runs = defaultdict(list)
    for pk, customer_id, flow_id, entered_at in FlowRun.objects.filter(
        customer_id__in={e["customer_id"] for e, _f in hits},
        status=FlowRun.Status.ACTIVE,
        flow_id__in=flows,
        leased_until__isnull=True,  # a run a worker holds is checked again before its step runs
    ).values_list("pk", "customer_id", "flow_id", "entered_at"):
        runs[customer_id].append((pk, flow_id, entered_at))
    ended: dict[str, list[int]] = defaultdict(list)
    for event, flow_ids in hits:
        for pk, flow_id, entered_at in runs.get(event["customer_id"], ()):
            if flow_id in flow_ids and entered_at <= event["occurred_at"]:
                ended[event["name"]].append(pk)
    now = clock.now()
    for name, pks in ended.items():
        FlowRun.objects.filter(pk__in=pks, status=FlowRun.Status.ACTIVE).update(
            status=FlowRun.Status.EXITED, exit_reason=f"event:{name}"[:40], ended_at=now, due_at=None, waiting_for=""
        )


def _convert(events: list[dict], goals: dict[str, list[FlowVersion]]) -> None:
    """Mark the runs whose goal these events are (within the goal's days after entry) as converted, once."""
    hits = [e for e in events if e["name"] in goals]
    if not hits:
        return
    window = {
        v.flow_id: dt.timedelta(days=float(v.settings.get("goal_days") or 7)) for vs in goals.values() for v in vs
    }
    goal_of = {v.flow_id: name for name, vs in goals.items() for v in vs}
    earliest = min(e["occurred_at"] for e in hits) - max(window.values())
    by_customer = defaultdict(list)
    for e in hits:
        by_customer[e["customer_id"]].append(e)
    converted = []
    for run in FlowRun.objects.filter(
        customer_id__in=list(by_customer), converted_at__isnull=True, entered_at__gte=earliest, flow_id__in=list(window)
    ).only("pk", "customer_id", "flow_id", "entered_at"):
        times = [
            e["occurred_at"]
            for e in by_customer[run.customer_id]
            if e["name"] == goal_of[run.flow_id]
            and run.entered_at <= e["occurred_at"] <= run.entered_at + window[run.flow_id]
        ]
        if times:
            run.converted_at = min(times)
            converted.append(run)
    FlowRun.objects.bulk_update(converted, ["converted_at"], batch_size=500)


def _wake(events: list[dict], waiting: set[str]) -> None:
    customers = {e["customer_id"] for e in events if e["name"] in waiting}
    if customers:
        FlowRun.objects.filter(
            customer_id__in=customers,
            status=FlowRun.Status.ACTIVE,
            waiting_for__in=waiting,
            leased_until__isnull=True,
        ).update(due_at=clock.now())


SUBSCRIBED = "Subscribed to Back in Stock"


def _subscribe(events: list[dict]) -> None:
    """A storefront's "tell me when it is back" (the tracker's event): `sku`, or `product_id` (Kervan's id or the
    store's own), or `category_id` with `kind: "new_product"`. An event naming nothing known is left as an event."""
    from kervan.catalog.models import Category, Product, Variant
    from kervan.flows.actions import product_subscribe

    for event in events:
        props = event["properties"] if isinstance(event["properties"], dict) else {}
        customer = Customer.objects.filter(pk=event["customer_id"], merged_into__isnull=True).first()
        if customer is None:
            continue
        if props.get("kind") == ProductSubscription.Kind.NEW_PRODUCT:
            category = Category.objects.filter(pk=_int(props.get("category_id"))).first()
            if category:
                product_subscribe(customer=customer, kind=ProductSubscription.Kind.NEW_PRODUCT, category=category)
            continue
        variant = Variant.objects.filter(sku=str(props.get("sku") or "")).first() if props.get("sku") else None
        product = None
        if variant is None and props.get("product_id") not in (None, ""):
            raw = str(props["product_id"])
            product = Product.objects.filter(external_id=raw).first() or (
                Product.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
            )
        if variant or product:
            product_subscribe(
                customer=customer, kind=ProductSubscription.Kind.BACK_IN_STOCK, product=product, variant=variant
            )


# --- scans ------------------------------------------------------------------------------------------------------


def scan_all() -> dict[str, int]:
    """Run every scanned trigger of every live flow; returns how many entered per flow id."""
    now = clock.now()
    entered: dict[str, int] = {}
    for version in live_versions():
        kind = version.trigger.get("type")
        scan = SCANS.get(kind)
        if scan is None:
            continue
        cursor, _created = TriggerCursor.objects.get_or_create(name=f"scan:{version.flow_id}"[:40])
        since = cursor.ran_at or now - SCAN_SLACK
        with transaction.atomic():
            entered[str(version.flow_id)] = enroll(version, scan(version, since, now), now=now)
            cursor.ran_at = now
            cursor.save(update_fields=["ran_at"])
    return entered


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or django_settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(django_settings.TIME_ZONE)


def _scan_date(version: FlowVersion, since: dt.datetime, now: dt.datetime) -> list[Entry]:
    """Customers whose date (birthday, first order's anniversary, a custom date) comes `days_before` days from
    today in their own time zone; the first step runs at the trigger's time of day on their clock."""
    trigger = version.trigger
    field, ahead = trigger["field"], dt.timedelta(days=int(trigger.get("days_before") or 0))
    hour, minute = (int(x) for x in trigger.get("at", "10:00").split(":"))
    shop_today = now.astimezone(_zone("")).date()
    days = [shop_today + dt.timedelta(days=d) + ahead for d in (-1, 0, 1)]  # time zones reach a day either side
    entries = []
    for customer_id, value, zone_name in _dated(field, days):
        zone = _zone(zone_name)
        local_today = now.astimezone(zone).date()
        target = local_today + ahead
        if (value.month, value.day) != (target.month, target.day) and not _leap_day_falls(value, target):
            continue
        if field == "first_order" and value.year >= target.year:
            continue  # the first order itself is not an anniversary
        at = dt.datetime.combine(local_today, dt.time(hour, minute), tzinfo=zone)
        entries.append(Entry(customer_id, f"date:{field}:{target.year}", {"date": value.isoformat()}, max(at, now)))
    return entries


def _leap_day_falls(value: dt.date, target: dt.date) -> bool:
    """A 29 February date is kept on 28 February in other years."""
    if (value.month, value.day) != (2, 29):
        return False
    leap = target.year % 4 == 0 and (target.year % 100 != 0 or target.year % 400 == 0)
    return not leap and (target.month, target.day) == (2, 28)


def _dated(field: str, days: list[dt.date]):
    """(customer id, date, time zone) of customers whose date falls on one of `days` (by month and day)."""
    wanted = {(d.month, d.day) for d in days} | ({(2, 29)} if any((d.month, d.day) == (2, 28) for d in days) else set())
    if field == "birthday":
        rows = Customer.objects.active().filter(birth_date__isnull=False)
        for month, day in wanted:
            for pk, value, zone in rows.filter(birth_date__month=month, birth_date__day=day).values_list(
                "pk", "birth_date", "time_zone"
            ):
                yield pk, value, zone
    elif field == "first_order":
        for month, day in wanted:
            for pk, value, zone in (
                CustomerStats.objects.filter(first_order_at__month=month, first_order_at__day=day)
                .filter(customer__merged_into__isnull=True)
                .values_list("customer_id", "first_order_at", "customer__time_zone")
            ):
                yield pk, value.astimezone(_zone(zone)).date(), zone
    else:
        key = field[7:]
        for month, day in wanted:
            suffix = f"-{month:02d}-{day:02d}"
            for pk, raw, zone in (
                Customer.objects.active()
                .filter(**{f"custom_fields__{key}__endswith": suffix})
                .values_list("pk", f"custom_fields__{key}", "time_zone")
            ):
                try:
                    yield pk, dt.date.fromisoformat(str(raw)[:10]), zone
                except ValueError:
                    continue


def _scan_signup(version: FlowVersion, since: dt.datetime, now: dt.datetime) -> list[Entry]:
    """New profiles since the last scan (a welcome series)."""
    rows = Customer.objects.active().filter(created_at__gt=since, created_at__lte=now).values_list("pk", flat=True)
    return [Entry(pk, "signup", {}) for pk in rows]


def _scan_no_order(version: FlowVersion, since: dt.datetime, now: dt.datetime) -> list[Entry]:
    """Win-back: customers whose last order is now `days` old (each lapse once: the key is that order's date)."""
    days = dt.timedelta(days=float(version.trigger["days"]))
    rows = CustomerStats.objects.filter(
        last_order_at__lte=now - days, last_order_at__gt=min(since, now - SCAN_SLACK) - days
    ).values_list("customer_id", "last_order_at")
    return [Entry(pk, f"no_order:{at.date().isoformat()}", {"last_order_at": at.isoformat()}) for pk, at in rows]


def _scan_sunset(version: FlowVersion, since: dt.datetime, now: dt.datetime) -> list[Entry]:
    """Sunset: customers with no activity (event) for `days`."""
    days = dt.timedelta(days=float(version.trigger["days"]))
    rows = CustomerStats.objects.filter(
        last_event_at__lte=now - days, last_event_at__gt=min(since, now - SCAN_SLACK) - days
    ).values_list("customer_id", "last_event_at")
    return [Entry(pk, f"sunset:{at.date().isoformat()}", {"last_seen_at": at.isoformat()}) for pk, at in rows]


def _scan_back_in_stock(version: FlowVersion, since: dt.datetime, now: dt.datetime) -> list[Entry]:
    """Open back-in-stock subscriptions whose product (or variant) has stock again; each is answered once."""
    from kervan.catalog.models import StockLevel

    subs = list(
        ProductSubscription.objects.filter(
            kind=ProductSubscription.Kind.BACK_IN_STOCK, notified_at__isnull=True
        ).select_related("product", "variant")
    )
    if not subs:
        return []
    product_ids = {s.product_id or s.variant.product_id for s in subs}
    in_stock = list(
        StockLevel.objects.filter(quantity__gt=0, variant__product_id__in=product_ids).values_list(
            "variant_id", "variant__product_id"
        )
    )
    in_stock_variants = {variant_id for variant_id, _product_id in in_stock}
    in_stock_products = {product_id for _variant_id, product_id in in_stock}
    entries, answered = [], []
    for sub in subs:
        ok = sub.variant_id in in_stock_variants if sub.variant_id else sub.product_id in in_stock_products
        if ok:
            product = sub.product or sub.variant.product
            entries.append(Entry(sub.customer_id, f"back_in_stock:{sub.pk}", {"product": _product(product)}))
            answered.append(sub.pk)
    ProductSubscription.objects.filter(pk__in=answered).update(notified_at=now)
    return entries


def _scan_new_product(version: FlowVersion, since: dt.datetime, now: dt.datetime) -> list[Entry]:
    """New products in a category someone subscribed to (created since the last scan)."""
    from kervan.catalog.models import Product

    new = list(
        Product.objects.filter(created_at__gt=since, created_at__lte=now, is_active=True, category__isnull=False)
    )
    if not new:
        return []
    by_category = defaultdict(list)
    for product in new:
        by_category[product.category_id].append(product)
    entries = []
    for sub in ProductSubscription.objects.filter(
        kind=ProductSubscription.Kind.NEW_PRODUCT, notified_at__isnull=True, category_id__in=list(by_category)
    ):
        for product in by_category[sub.category_id]:
            if product.created_at > sub.created_at:
                entries.append(Entry(sub.customer_id, f"new_product:{product.pk}", {"product": _product(product)}))
    return entries


def _scan_price_drop(version: FlowVersion, since: dt.datetime, now: dt.datetime) -> list[Entry]:
    """Customers who viewed or carted a product in the last `days` at a price at least `percent` above its price
    now (the event's `price` property against the lowest variant price), for products changed since the last scan."""
    from kervan.catalog.models import Product, Variant

    percent = Decimal(str(version.trigger["percent"]))
    changed = set(Variant.objects.filter(updated_at__gt=since).values_list("product_id", flat=True))
    if not changed:
        return []
    prices = dict(
        Variant.objects.filter(product_id__in=changed)
        .values("product_id")
        .annotate(p=Min("price"))
        .values_list("product_id", "p")
    )
    products = {p.pk: p for p in Product.objects.filter(pk__in=changed)}
    window = now - dt.timedelta(days=float(version.trigger["days"]))
    entries = []
    seen = set()
    events = Event.objects.filter(
        name__in=("Viewed Product", "Added to Cart"), occurred_at__gte=window, customer__isnull=False
    ).values_list("customer_id", "properties")
    for customer_id, props in events.iterator(chunk_size=5000):
        product_id = _int(props.get("product_id")) if isinstance(props, dict) else None
        if product_id not in prices or (customer_id, product_id) in seen:
            continue
        try:
            seen_price = Decimal(str(props.get("price")))
        except (InvalidOperation, ValueError):
            continue
        now_price = prices[product_id]
        if seen_price > 0 and now_price <= seen_price * (1 - percent / 100):
            seen.add((customer_id, product_id))
            context = {"product": _product(products[product_id]), "old_price": str(seen_price), "price": str(now_price)}
            entries.append(Entry(customer_id, f"price_drop:{product_id}:{now_price}", context))
    return entries


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _product(product) -> dict:
    return {"id": product.pk, "title": product.title, "brand": product.brand}


SCANS = {
    "signup": _scan_signup,
    "date": _scan_date,
    "no_order": _scan_no_order,
    "sunset": _scan_sunset,
    "back_in_stock": _scan_back_in_stock,
    "new_product": _scan_new_product,
    "price_drop": _scan_price_drop,
}
