"""A checked definition (definition.Group) → a Django Q over Customer. Values always travel as query parameters; the
same Q gives the same members on SQLite and PostgreSQL (tests/test_compiler_matches_python.py proves it against the
plain Python evaluation in evaluator.py)."""

import datetime as dt
from decimal import Decimal

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual

from kervan.core import clock
from kervan.core.filters import day_start
from kervan.core.text import search_fold
from kervan.customers.models import Customer, CustomerStats
from kervan.events.models import Event
from kervan.orders.models import Order, OrderLine
from kervan.segments.definition import Group, Leaf

CANCELLED = "cancelled"


def compile_tree(tree: Group, *, now: dt.datetime | None = None) -> Q:
    now = now or clock.now()
    return _node(tree, Context(now))


class Context:
    def __init__(self, now: dt.datetime):
        self.now = now
        self.today = now.astimezone(day_start(dt.date(2000, 1, 1)).tzinfo).date()
        self._distinct: dict[str, list[str]] = {}

    def distinct(self, column: str) -> list[str]:
        if column not in self._distinct:
            self._distinct[column] = list(
                Customer.objects.exclude(**{column: ""}).order_by().values_list(column, flat=True).distinct()
            )
        return self._distinct[column]


def _node(node, ctx: Context) -> Q:
    if isinstance(node, Leaf):
        return leaf_q(node, ctx)
    if not node.children:
        return Q(pk__isnull=False)  # an empty group holds for everyone (Q() would vanish inside an OR)
    parts = [_node(child, ctx) for child in node.children]
    q = parts[0]
    for part in parts[1:]:
        q = (q & part) if node.match == "all" else (q | part)
    return q


def leaf_q(leaf: Leaf, ctx: Context) -> Q:
    return _COMPILERS[leaf.kind](leaf, ctx)


def _pk_in(qs) -> Q:
    return Q(pk__in=qs)


def text_matches(op: str, folded_value: str, folded_wanted: str) -> bool:
    """The one Turkish-blind text comparison (both sides already search_fold-ed)."""
    if op in ("eq", "neq"):
        return folded_value == folded_wanted
    if op == "contains":
        return folded_wanted in folded_value
    if op == "starts_with":
        return folded_value.startswith(folded_wanted)
    raise ValueError(op)


def _profile(leaf: Leaf, ctx: Context) -> Q:
    col, op, v, t = leaf.column, leaf.op, leaf.value, leaf.type
    if t == "folded":
        if op == "is_set":
            return ~Q(**{col: ""})
        if op == "is_not_set":
            return Q(**{col: ""})
        # The stored values that match, folded the Turkish way in Python (a few thousand distinct cities or names):
        # the database then compares plainly, the same on every engine, through the column's index.
        wanted = search_fold(v)
        matching = [raw for raw in ctx.distinct(col) if text_matches(op, search_fold(raw), wanted)]
        q = Q(**{f"{col}__in": matching})
        return ~q if op == "neq" else q
    if t == "words":
        q = Q()
        for word in search_fold(v).split():
            q &= Q(search_key__contains=word)
        return q
    if t in ("code", "choice", "consent"):
        stored = "" if v == "unknown" else v
        q = Q(**{col: stored})
        return ~q if op == "neq" else q
    if t == "bool":
        q = ~Q(**{col: ""})
        return q if op == "is_true" else ~q
    return _dates(col, t, op, v, ctx)


def _dates(col: str, t: str, op: str, v, ctx: Context, *, as_text: bool = False) -> Q:
    """Date/datetime comparisons; `as_text` for a custom date field stored as "YYYY-MM-DD"."""
    if op == "is_set":
        return Q(**{f"{col}__isnull": False})
    if op == "is_not_set":
        return Q(**{f"{col}__isnull": True})
    low, high = date_bounds(t, op, v, ctx.now)
    if as_text:
        low, high = (b.isoformat() if b is not None else None for b in (low, high))
    q = Q()
    if low is not None:
        q &= Q(**{f"{col}__gte": low})
    if high is not None:
        q &= Q(**{f"{col}__lt": high})
    return q


def date_bounds(t: str, op: str, v, now: dt.datetime):
    """[low, high) for a date operator: dates for a date field, aware datetimes (shop's days) for a datetime."""
    today = now.astimezone(day_start(dt.date(2000, 1, 1)).tzinfo).date()
    one = dt.timedelta(days=1)
    if t == "date":
        if op == "before":
            return None, v
        if op == "after":
            return v + one, None
        if op == "on":
            return v, v + one
        if op == "between":
            return v[0], v[1] + one
        if op == "within_last_days":
            return today - dt.timedelta(days=v), None
        if op == "more_than_days_ago":
            return None, today - dt.timedelta(days=v)
    else:
        if op == "before":
            return None, day_start(v)
        if op == "after":
            return day_start(v + one), None
        if op == "on":
            return day_start(v), day_start(v + one)
        if op == "between":
            return day_start(v[0]), day_start(v[1] + one)
        if op == "within_last_days":
            return now - dt.timedelta(days=v), None
        if op == "more_than_days_ago":
            return None, now - dt.timedelta(days=v)
    raise ValueError(op)


def _numbers(col: str, op: str, v) -> Q:
    if op == "between":
        return Q(**{f"{col}__gte": v[0], f"{col}__lte": v[1]})
    if op == "neq":
        return ~Q(**{col: v})
    lookup = {"eq": "exact", "gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte"}[op]
    return Q(**{f"{col}__{lookup}": v})


def _stats(leaf: Leaf, ctx: Context) -> Q:
    """A customer without a stats row matches no stats condition. A positive comparison is a filter on the joined
    stats row (the database joins the stats table once for all of them); a negation ("is not", "is empty") is read
    from the stats table by customer, so a missing row cannot turn it true."""
    if leaf.op in ("neq", "is_not_set"):
        if leaf.type == "datetime":
            cond = _dates(leaf.column, "datetime", leaf.op, leaf.value, ctx)
        else:
            cond = _numbers(leaf.column, leaf.op, leaf.value)
        return _pk_in(CustomerStats.objects.filter(cond).values("customer_id"))
    column = f"stats__{leaf.column}"
    if leaf.type == "datetime":
        return _dates(column, "datetime", leaf.op, leaf.value, ctx)
    return _numbers(column, leaf.op, leaf.value)


def _json_number(v: Decimal):
    return int(v) if v == v.to_integral_value() else float(v)


def _custom(leaf: Leaf, ctx: Context) -> Q:
    key = f"custom_fields__{leaf.column}"
    has = Q(custom_fields__has_key=leaf.column)
    op, v = leaf.op, leaf.value
    if op == "is_set":
        return has
    if op == "is_not_set":
        return ~has
    if leaf.type == "text":
        q = _pk_in(Customer.objects.filter(**{key: v}).values("pk"))
        return q if op == "eq" else has & ~q
    if leaf.type == "boolean":
        q = _pk_in(Customer.objects.filter(**{key: op == "is_true"}).values("pk"))
        return q
    if leaf.type == "number":
        if op == "between":
            cond = Q(**{f"{key}__gte": _json_number(v[0]), f"{key}__lte": _json_number(v[1])})
        elif op == "neq":
            eq = _pk_in(Customer.objects.filter(**{key: _json_number(v)}).values("pk"))
            return has & ~eq
        else:
            lookup = {"eq": "exact", "gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte"}[op]
            cond = Q(**{f"{key}__{lookup}": _json_number(v)})
        return _pk_in(Customer.objects.filter(cond).values("pk"))
    # date, stored as "YYYY-MM-DD"
    cond = _dates(key, "date", op, v, ctx, as_text=True)
    return _pk_in(Customer.objects.filter(has & cond).values("pk"))


def _tag(leaf: Leaf, ctx: Context) -> Q:
    exists = Exists(Customer.tags.through.objects.filter(customer_id=OuterRef("pk"), tag__name=leaf.value))
    return Q(exists) if leaf.op == "has" else ~Q(exists)


def window_bounds(leaf: Leaf, now: dt.datetime):
    if leaf.within_days is not None:
        return now - dt.timedelta(days=leaf.within_days), None
    low = day_start(leaf.date_from) if leaf.date_from else None
    high = day_start(leaf.date_to + dt.timedelta(days=1)) if leaf.date_to else None
    return low, high


def _event(leaf: Leaf, ctx: Context) -> Q:
    low, high = window_bounds(leaf, ctx.now)
    events = Event.objects.filter(customer_id=OuterRef("pk"), name=leaf.name)
    if low is not None:
        events = events.filter(occurred_at__gte=low)
    if high is not None:
        events = events.filter(occurred_at__lt=high)
    for prop, value in leaf.where:
        events = events.filter(**{f"properties__{prop}": value})
    if leaf.op == "none" or (leaf.op == "at_most" and leaf.count == 0):
        return ~Q(Exists(events))
    if leaf.op == "at_least" and leaf.count == 1:
        return Q(Exists(events))
    counted = Coalesce(
        Subquery(events.order_by().values("customer_id").annotate(n=Count("id")).values("n")[:1]),
        Value(0),
        output_field=IntegerField(),
    )
    if leaf.op == "at_least":
        return Q(GreaterThanOrEqual(counted, leaf.count))
    return Q(LessThanOrEqual(counted, leaf.count))


def _bought(leaf: Leaf, ctx: Context) -> Q:
    low, high = window_bounds(leaf, ctx.now)
    if leaf.field == "sales_channel":
        rows = Order.objects.filter(customer_id=OuterRef("pk"), sales_channel=leaf.value).exclude(status=CANCELLED)
        prefix = ""
    else:
        rows = OrderLine.objects.filter(order__customer_id=OuterRef("pk")).exclude(order__status=CANCELLED)
        if leaf.field == "bought_product":
            rows = rows.filter(variant__product_id=leaf.value)
        else:
            rows = rows.filter(variant__product__category_id=leaf.value)
        prefix = "order__"
    if low is not None:
        rows = rows.filter(**{f"{prefix}placed_at__gte": low})
    if high is not None:
        rows = rows.filter(**{f"{prefix}placed_at__lt": high})
    exists = Exists(rows)
    return Q(exists) if leaf.op == "yes" else ~Q(exists)


def _segment(leaf: Leaf, ctx: Context) -> Q:
    from kervan.segments.models import SegmentMembership

    exists = Exists(SegmentMembership.objects.filter(segment_id=leaf.value, customer_id=OuterRef("pk")))
    return Q(exists) if leaf.op == "in" else ~Q(exists)


_COMPILERS = {
    "profile": _profile,
    "stats": _stats,
    "custom": _custom,
    "tag": _tag,
    "event": _event,
    "bought": _bought,
    "segment": _segment,
}
