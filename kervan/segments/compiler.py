"""A checked definition (definition.Group) → a Django Q over Customer. Values always travel as query parameters; the
same Q gives the same members on SQLite and PostgreSQL (tests/test_compiler_matches_python.py proves it against the
plain Python evaluation in evaluator.py)."""

import datetime as dt
import math
from decimal import Decimal

from django.db.models import Count, DecimalField, Exists, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Round
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual

from kervan.core import clock
from kervan.core.filters import day_start
from kervan.core.text import search_fold
from kervan.customers.consent_state import ADDRESS_FIELD, MATCH_FIELD
from kervan.customers.models import ConsentRecord, Customer, CustomerStats
from kervan.events.models import Event
from kervan.orders.models import Order, OrderLine, Return
from kervan.predictions.models import CustomerPrediction
from kervan.segments.definition import Group, Leaf

CANCELLED = "cancelled"


def compile_tree(tree: Group, *, now: dt.datetime | None = None, narrow: bool = False) -> Q:
    """`narrow`: the query will be limited to a few customers (an incremental refresh, the "why" view): aggregates
    over orders are then computed per customer (a probe of their orders each) rather than for everyone at once."""
    now = now or clock.now()
    return _node(tree, Context(now, narrow=narrow))


class Context:
    def __init__(self, now: dt.datetime, *, narrow: bool = False):
        self.now = now
        self.narrow = narrow
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
    merged, children = _merge_windows(node, ctx)
    parts = merged + [_node(child, ctx) for child in children]
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
        if op == "within_next_days":
            return now, now + dt.timedelta(days=v)
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


def _prediction(leaf: Leaf, ctx: Context) -> Q:
    """Like _stats: a customer without a prediction row (never ordered, or not refreshed yet) matches no prediction
    condition; a negation is read from the predictions table by customer."""
    col, op, v, t = leaf.column, leaf.op, leaf.value, leaf.type
    if t == "rfm":
        if op == "neq":
            return _pk_in(CustomerPrediction.objects.exclude(rfm_segment=v).values("customer_id"))
        return Q(prediction__rfm_segment=v)
    if t == "future":
        if op == "is_not_set":
            return _pk_in(CustomerPrediction.objects.filter(**{f"{col}__isnull": True}).values("customer_id"))
        return _dates(f"prediction__{col}", "datetime", op, v, ctx)
    if t in ("ratio", "float"):  # float columns: compared as floats, as the Python evaluation does
        v = (float(v[0]), float(v[1])) if op == "between" else float(v)
    if op == "neq":
        return _pk_in(CustomerPrediction.objects.exclude(**{col: v}).values("customer_id"))
    return _numbers(f"prediction__{col}", op, v)


def integer_bounds(op: str, v) -> tuple[str, int | tuple[int, int] | None]:
    """An integer compared with a (Decimal) value, as an integer comparison: (op, integer value); ("never", None)
    when no integer can hold it (= 2.5). Lets the aggregates below compare integers only: exact on every database."""
    if op == "between":
        low, high = math.ceil(v[0]), math.floor(v[1])
        return ("between", (low, high)) if low <= high else ("never", None)
    if op in ("eq", "neq"):
        if v != v.to_integral_value():
            return ("never", None) if op == "eq" else ("always", None)
        return op, int(v)
    if op in ("gt", "lte"):
        return op, math.floor(v)
    return op, math.ceil(v)  # gte, lt


def integer_holds(op: str, n: int, bound) -> bool:
    if op in ("never", "always"):
        return op == "always"
    if op == "between":
        return bound[0] <= n <= bound[1]
    return {
        "eq": n == bound,
        "neq": n != bound,
        "gt": n > bound,
        "gte": n >= bound,
        "lt": n < bound,
        "lte": n <= bound,
    }[op]


def window_measure(leaf: Leaf) -> tuple[str, int | tuple[int, int] | None]:
    """The integer comparison a window leaf makes: "spent" in cents (each order's net total rounded to the cent, as
    SQLite, which sums amounts as floats, and PostgreSQL both do exactly), "orders" as counted."""
    v = leaf.value
    if leaf.field == "spent":
        v = (v[0] * 100, v[1] * 100) if leaf.op == "between" else v * 100
    return integer_bounds(leaf.op, v)


def _window_orders(leaf: Leaf, ctx: Context):
    """The customers' orders that count in a window leaf's window (the same orders CustomerStats counts)."""
    low, high = window_bounds(leaf, ctx.now)
    orders = Order.objects.filter(reporting_total__isnull=False).exclude(status=CANCELLED)
    if low is not None:
        orders = orders.filter(placed_at__gte=low)
    if high is not None:
        orders = orders.filter(placed_at__lt=high)
    return orders


def _window_measure(leaf: Leaf):
    if leaf.field == "spent":
        net = F("reporting_total") - Coalesce(F("reporting_refunded"), Value(Decimal(0)))
        return Sum(Round(net * Value(100), output_field=DecimalField(max_digits=20, decimal_places=0)))
    return Count("id")


def _merge_windows(node: Group, ctx: Context) -> tuple[list[Q], list]:
    """Sibling "spent"/"orders" conditions on the same window that no customer without orders meets ("orders >= 3
    and spent > 2000 in 180 days") read the window's orders once: one grouped sub-select with all their conditions
    in its HAVING (AND or OR, as the group). Returns those sub-selects and the children left to compile."""
    if ctx.narrow:
        return [], node.children
    buckets: dict[tuple, list[Leaf]] = {}
    for child in node.children:
        if isinstance(child, Leaf) and child.kind == "window":
            op, bound = window_measure(child)
            if op not in ("never", "always") and not integer_holds(op, 0, bound):
                buckets.setdefault((child.within_days, child.date_from, child.date_to), []).append(child)
    merged: list[Q] = []
    done: set[int] = set()
    for group in buckets.values():
        if len(group) < 2:
            continue
        held = None
        for i, leaf in enumerate(group):
            q = _numbers(f"n{i}", *window_measure(leaf))
            held = q if held is None else (held & q if node.match == "all" else held | q)
        measures = {f"n{i}": _window_measure(leaf) for i, leaf in enumerate(group)}
        grouped = _window_orders(group[0], ctx).values("customer_id").order_by().annotate(**measures).filter(held)
        merged.append(_pk_in(grouped.values("customer_id")))
        done.update(id(leaf) for leaf in group)
    return merged, [child for child in node.children if id(child) not in done]


def _window(leaf: Leaf, ctx: Context) -> Q:
    """Spent / orders in a window, compared as integers (cents, a count). For everyone: one grouped sub-select over
    the window's orders, the customers whose aggregate meets the condition, or, when no orders (0) meets it too
    ("spent < 100"), everyone but the customers whose aggregate fails it. Narrow (a few customers): a correlated
    aggregate per customer on the orders' (customer, placed_at) index, 0 when there is none."""
    op, bound = window_measure(leaf)
    if op in ("never", "always"):
        return Q(pk__isnull=op == "never")
    measure = _window_measure(leaf)
    if ctx.narrow:
        mine = _window_orders(leaf, ctx).filter(customer_id=OuterRef("pk"))
        value = Coalesce(
            Subquery(mine.values("customer_id").order_by().annotate(n=measure).values("n")[:1]),
            Value(0),
            output_field=DecimalField(max_digits=20, decimal_places=0),
        )
        return _compare_expression(value, op, bound)
    held = _numbers("n", op, bound)
    grouped = _window_orders(leaf, ctx).values("customer_id").order_by().annotate(n=measure)
    if not integer_holds(op, 0, bound):
        return _pk_in(grouped.filter(held).values("customer_id"))
    return ~_pk_in(grouped.filter(~held).values("customer_id"))


def _compare_expression(value, op: str, bound) -> Q:
    if op == "between":
        return Q(GreaterThanOrEqual(value, bound[0])) & Q(LessThanOrEqual(value, bound[1]))
    if op == "neq":
        return ~Q(Exact(value, bound))
    lookup = {"eq": Exact, "gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "lte": LessThanOrEqual}[op]
    return Q(lookup(value, bound))


def _returned(leaf: Leaf, ctx: Context) -> Q:
    """A return was recorded for one of the customer's orders: the Return rows themselves (what CustomerStats'
    returns_count counts), found on return_customer_time_idx."""
    exists = Exists(Return.objects.filter(customer_id=OuterRef("pk")))
    return Q(exists) if leaf.op == "is_true" else ~Q(exists)


def _consent(leaf: Leaf, ctx: Context) -> Q:
    """A non-marketing purpose, from the ledger with customers.consent_state's meaning: for the customer's current
    address (its mailbox for email, its phone, any for push), the latest record decides, a refusal wins a tie. The
    state is "granted" when a granted record has no later record and no refusal at the same time, "refused" when a
    refusal has no later record, "unknown" when there is no record."""
    channel, purpose, v = leaf.channel, leaf.purpose, leaf.value
    records = ConsentRecord.objects.filter(channel=channel, purpose=purpose)
    match = MATCH_FIELD[channel]
    if v == "unknown":
        mine = records.filter(customer_id=OuterRef("pk"))
        if match:
            mine = mine.filter(address=OuterRef(match))
        q = ~Q(Exists(mine))
    else:
        later = ConsentRecord.objects.filter(customer_id=OuterRef("customer_id"), channel=channel, purpose=purpose)
        if ADDRESS_FIELD[channel] is not None:
            later = later.filter(address=OuterRef("address"))
        beats = Q(occurred_at__gt=OuterRef("occurred_at"))
        if v == "granted":
            beats |= Q(occurred_at=OuterRef("occurred_at"), status=ConsentRecord.Status.REFUSED)
        deciding = records.filter(status=v).filter(~Exists(later.filter(beats)))
        if match:
            deciding = deciding.filter(address=F(f"customer__{match}"))
        q = _pk_in(deciding.values("customer_id"))
    return ~q if leaf.op == "neq" else q


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
    if leaf.field in ("sales_channel", "utm_source", "utm_medium", "utm_campaign"):
        rows = Order.objects.filter(customer_id=OuterRef("pk"), **{leaf.field: leaf.value}).exclude(status=CANCELLED)
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
    "window": _window,
    "returned": _returned,
    "consent": _consent,
    "prediction": _prediction,
    "segment": _segment,
}
