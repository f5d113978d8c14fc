"""The same definition evaluated in plain Python over in-memory rows: the reference the compiled SQL is tested
against (tests/test_compiler_matches_python.py). Not used to serve members."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kervan.core.text import search_fold
from kervan.segments.compiler import date_bounds, text_matches, window_bounds
from kervan.segments.definition import Group, Leaf


@dataclass
class Row:
    pk: int
    profile: dict[str, Any]  # column → value (Customer fields)
    custom: dict[str, Any]
    stats: dict[str, Any] | None
    tags: set[str] = field(default_factory=set)
    events: list[tuple[str, dt.datetime, dict]] = field(default_factory=list)
    lines: list[tuple[int | None, int | None, dt.datetime, str]] = field(default_factory=list)  # product, category
    orders: list[tuple[str, dt.datetime, str]] = field(default_factory=list)  # channel, placed_at, status
    segments: set[int] = field(default_factory=set)


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
            and all(_json_equal(props.get(p), want) for p, want in leaf.where)
        )
        if op == "none":
            return n == 0
        return n >= leaf.count if op == "at_least" else n <= leaf.count
    if leaf.kind == "bought":
        low, high = window_bounds(leaf, now)
        if leaf.field == "sales_channel":
            hit = any(ch == v and st != "cancelled" and _in(at, low, high) for ch, at, st in row.orders)
        else:
            index = 0 if leaf.field == "bought_product" else 1
            hit = any(line[index] == v and line[3] != "cancelled" and _in(line[2], low, high) for line in row.lines)
        return hit == (op == "yes")
    if leaf.kind == "segment":
        return (v in row.segments) == (op == "in")
    raise ValueError(leaf.kind)


def _json_equal(value, want) -> bool:
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
    from kervan.customers.models import Customer, CustomerStats
    from kervan.events.models import Event
    from kervan.orders.models import Order, OrderLine
    from kervan.segments.definition import PROFILE_FIELDS, STATS_FIELDS
    from kervan.segments.models import SegmentMembership

    customers = Customer.objects.active()
    if customer_ids is not None:
        customers = customers.filter(pk__in=customer_ids)
    columns = sorted({c for _t, c in PROFILE_FIELDS.values()})
    rows = {
        c.pk: Row(pk=c.pk, profile={col: getattr(c, col) for col in columns}, custom=c.custom_fields or {}, stats=None)
        for c in customers
    }
    for s in CustomerStats.objects.filter(customer_id__in=rows):
        rows[s.customer_id].stats = {col: getattr(s, col) for _t, col in STATS_FIELDS.values()}
    for cid, name in Customer.tags.through.objects.filter(customer_id__in=rows).values_list("customer_id", "tag__name"):
        rows[cid].tags.add(name)
    for e in Event.objects.filter(customer_id__in=rows):
        rows[e.customer_id].events.append((e.name, e.occurred_at, e.properties or {}))
    for o in Order.objects.filter(customer_id__in=rows):
        rows[o.customer_id].orders.append((o.sales_channel, o.placed_at, o.status))
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
