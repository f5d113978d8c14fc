"""The same definition evaluated in plain Python over in-memory rows: the reference the compiled SQL is tested
against (tests/test_compiler_matches_python.py). Not used to serve members."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from kervan.core.text import search_fold
from kervan.segments.compiler import date_bounds, integer_holds, text_matches, window_bounds, window_measure
from kervan.segments.definition import PREDICTION_FIELDS, Group, Leaf


class OrderRow(NamedTuple):
    channel: str
    placed_at: dt.datetime
    status: str
    reporting_total: Decimal | None  # None: awaiting its exchange rate
    reporting_refunded: Decimal | None
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""


class ConsentRow(NamedTuple):
    channel: str
    purpose: str
    status: str
    occurred_at: dt.datetime
    id: int
    address: str


@dataclass
class Row:
    pk: int
    profile: dict[str, Any]  # column → value (Customer fields)
    custom: dict[str, Any]
    stats: dict[str, Any] | None
    tags: set[str] = field(default_factory=set)
    events: list[tuple[str, dt.datetime, dict]] = field(default_factory=list)
    lines: list[tuple[int | None, int | None, dt.datetime, str]] = field(default_factory=list)  # product, category
    orders: list[OrderRow] = field(default_factory=list)
    segments: set[int] = field(default_factory=set)
    returns: int = 0
    consents: list[ConsentRow] = field(default_factory=list)
    prediction: dict[str, Any] | None = None
    email_key: str = ""


def evaluate(node, row: Row, now: dt.datetime) -> bool:
    if isinstance(node, Group):
        results = (evaluate(child, row, now) for child in node.children)
        if not node.children:
            return True
        return all(results) if node.match == "all" else any(results)
    return _leaf(node, row, now)


def _in(value, low, high) -> bool:
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value < high)


def _compare(op: str, value, v) -> bool:
    if value is None:
        return False
    if op == "between":
        return v[0] <= value <= v[1]
    return {
        "eq": value == v,
        "neq": value != v,
        "gt": value > v,
        "gte": value >= v,
        "lt": value < v,
        "lte": value <= v,
    }[op]


def _leaf(leaf: Leaf, row: Row, now: dt.datetime) -> bool:
    op, v, t = leaf.op, leaf.value, leaf.type
    if leaf.kind == "profile":
        value = row.profile[leaf.column]
        if t == "folded":
            if op == "is_set":
                return value != ""
            if op == "is_not_set":
                return value == ""
            hit = value != "" and text_matches(op, search_fold(value), search_fold(v))
            return not hit if op == "neq" else hit
        if t == "words":
            return all(word in value for word in search_fold(v).split())
        if t in ("code", "choice", "consent"):
            hit = value == ("" if v == "unknown" else v)
            return not hit if op == "neq" else hit
        if t == "bool":
            return (value != "") == (op == "is_true")
        return _date(t, op, v, value, now)
    if leaf.kind == "stats":
        if row.stats is None:
            return False
        value = row.stats[leaf.column]
        if t == "datetime":
            return _date(t, op, v, value, now)
        return _compare(op, Decimal(value), v)
    if leaf.kind == "custom":
        present = leaf.column in row.custom
        value = row.custom.get(leaf.column)
        if op == "is_set":
            return present
        if op == "is_not_set":
            return not present
        if t == "text":
            hit = isinstance(value, str) and value == v
            return hit if op == "eq" else present and not hit
        if t == "boolean":
            return isinstance(value, bool) and value == (op == "is_true")
        if t == "number":
            number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
            if op == "neq":
                return present and not (number is not None and Decimal(str(number)) == v)
            return number is not None and _compare(op, Decimal(str(number)), v)
        if not isinstance(value, str):
            return False
        low, high = date_bounds("date", op, v, now)
        return _in(value, low and low.isoformat(), high and high.isoformat())
    if leaf.kind == "tag":
        return (v in row.tags) == (op == "has")
    if leaf.kind == "event":
        low, high = window_bounds(leaf, now)
        n = sum(
            1
            for name, at, props in row.events
            if name == leaf.name
            and _in(at, low, high)
            and all(json_equal(props.get(p), want) for p, want in leaf.where)
        )
        if op == "none":
            return n == 0
        return n >= leaf.count if op == "at_least" else n <= leaf.count
    if leaf.kind == "bought":
        low, high = window_bounds(leaf, now)
        if leaf.field in ("sales_channel", "utm_source", "utm_medium", "utm_campaign"):
            attr = "channel" if leaf.field == "sales_channel" else leaf.field
            hit = any(
                getattr(o, attr) == v and o.status != "cancelled" and _in(o.placed_at, low, high) for o in row.orders
            )
        else:
            index = 0 if leaf.field == "bought_product" else 1
            hit = any(line[index] == v and line[3] != "cancelled" and _in(line[2], low, high) for line in row.lines)
        return hit == (op == "yes")
    if leaf.kind == "window":
        low, high = window_bounds(leaf, now)
        counted = [
            o
            for o in row.orders
            if o.status != "cancelled" and o.reporting_total is not None and _in(o.placed_at, low, high)
        ]
        if leaf.field == "spent":
            n = sum(
                int(((o.reporting_total - (o.reporting_refunded or 0)) * 100).to_integral_value(ROUND_HALF_UP))
                for o in counted
            )
        else:
            n = len(counted)
        return integer_holds(*_swap(window_measure(leaf), n))
    if leaf.kind == "returned":
        return (row.returns > 0) == (op == "is_true")
    if leaf.kind == "consent":
        address = {"email": row.email_key, "push": None}.get(leaf.channel, row.profile["phone"])
        mine = [
            c
            for c in row.consents
            if c.channel == leaf.channel and c.purpose == leaf.purpose and (address is None or c.address == address)
        ]
        # customers.consent_state.LATEST_FIRST: newest first, a refusal first at the same instant, then the later id.
        mine.sort(key=lambda c: (-c.occurred_at.timestamp(), c.status != "refused", -c.id))
        state = mine[0].status if mine else "unknown"
        return (state == v) == (op == "eq")
    if leaf.kind == "prediction":
        if row.prediction is None:
            return False
        value = row.prediction[leaf.column]
        if t == "rfm":
            return (value == v) == (op == "eq")
        if t == "future":
            return _date("datetime", op, v, value, now)
        if t in ("ratio", "float"):
            v = (float(v[0]), float(v[1])) if op == "between" else float(v)
            return _compare(op, float(value), v)
        return _compare(op, Decimal(value), v)
    if leaf.kind == "segment":
        return (v in row.segments) == (op == "in")
    raise ValueError(leaf.kind)


def _swap(measure, n: int):
    op, bound = measure
    return op, n, bound


def json_equal(value, want) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(want, str) or isinstance(value, str):
        return type(value) is type(want) and value == want
    return value == want


def _date(t: str, op: str, v, value, now) -> bool:
    if op == "is_set":
        return value is not None
    if op == "is_not_set":
        return value is None
    low, high = date_bounds(t, op, v, now)
    return _in(value, low, high)


def load_rows(customer_ids=None) -> list[Row]:
    """Every active customer (or `customer_ids`) with what a definition can look at, read plainly."""
    from kervan.customers.models import ConsentRecord, Customer, CustomerStats
    from kervan.events.models import Event
    from kervan.orders.models import Order, OrderLine, Return
    from kervan.predictions.models import CustomerPrediction
    from kervan.segments.definition import PROFILE_FIELDS, STATS_FIELDS
    from kervan.segments.models import SegmentMembership

    customers = Customer.objects.active()
    if customer_ids is not None:
        customers = customers.filter(pk__in=customer_ids)
    columns = sorted({c for _t, c in PROFILE_FIELDS.values()})
    rows = {
        c.pk: Row(
            pk=c.pk,
            profile={col: getattr(c, col) for col in columns},
            custom=c.custom_fields or {},
            stats=None,
            email_key=c.email_key,
        )
        for c in customers
    }
    for s in CustomerStats.objects.filter(customer_id__in=rows):
        rows[s.customer_id].stats = {col: getattr(s, col) for _t, col in STATS_FIELDS.values()}
    for cid, name in Customer.tags.through.objects.filter(customer_id__in=rows).values_list("customer_id", "tag__name"):
        rows[cid].tags.add(name)
    for e in Event.objects.filter(customer_id__in=rows):
        rows[e.customer_id].events.append((e.name, e.occurred_at, e.properties or {}))
    for o in Order.objects.filter(customer_id__in=rows):
        rows[o.customer_id].orders.append(
            OrderRow(
                o.sales_channel,
                o.placed_at,
                o.status,
                o.reporting_total,
                o.reporting_refunded,
                o.utm_source,
                o.utm_medium,
                o.utm_campaign,
            )
        )
    for cid in Return.objects.filter(customer_id__in=rows).values_list("customer_id", flat=True):
        rows[cid].returns += 1
    for r in ConsentRecord.objects.filter(customer_id__in=rows):
        rows[r.customer_id].consents.append(ConsentRow(r.channel, r.purpose, r.status, r.occurred_at, r.pk, r.address))
    for p in CustomerPrediction.objects.filter(customer_id__in=rows):
        rows[p.customer_id].prediction = {col: getattr(p, col) for _t, col in PREDICTION_FIELDS.values()}
    for cid, product, category, placed, status in OrderLine.objects.filter(order__customer_id__in=rows).values_list(
        "order__customer_id",
        "variant__product_id",
        "variant__product__category_id",
        "order__placed_at",
        "order__status",
    ):
        rows[cid].lines.append((product, category, placed, status))
    for sid, cid in SegmentMembership.objects.filter(customer_id__in=rows).values_list("segment_id", "customer_id"):
        rows[cid].segments.add(sid)
    return list(rows.values())
