"""The Customer 360 timeline: one merged, paginated read over everything that happened to a customer.

Nothing is copied into a timeline table. Each kind is read newest-first from its own (customer, time) index,
the streams are merged by time, and the cursor (time, kind, id) says where the next page starts.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import F, IntegerField, Q, Value
from django.utils.translation import gettext as _

from kervan.core.errors import KervanError
from kervan.core.pagination import check_limit, decode_cursor, encode_cursor, invalid_cursor
from kervan.customers.models import ConsentRecord, CustomerMerge, CustomerNote
from kervan.events.models import Event
from kervan.events.selectors import customer_newest_event_keys
from kervan.orders.models import OrderStatusChange, Refund, Return

# Events that Kervan's own order actions emit are shown through the order rows instead (dedupe_key prefixes).
_ORDER_ACTION_EVENT_PREFIXES = ("order:", "return:", "refund:")


@dataclass
class TimelineItem:
    kind: str
    id: int
    occurred_at: dt.datetime
    obj: object


# kind → (model, customer filter field, time field, select_related). The tuple order is the tie-break rank.
SOURCES = {
    "event": (Event, "customer_id", "occurred_at", ()),
    "order": (OrderStatusChange, "customer_id", "occurred_at", ("order",)),
    "return": (Return, "customer_id", "created_at", ("order",)),
    "refund": (Refund, "customer_id", "occurred_at", ("order",)),
    "note": (CustomerNote, "customer_id", "created_at", ("author",)),
    "merge": (CustomerMerge, "survivor_id", "occurred_at", ("merged", "actor")),
    "consent": (ConsentRecord, "customer_id", "occurred_at", ("actor",)),
}
KINDS = tuple(SOURCES)
_RANK = {kind: i for i, kind in enumerate(KINDS)}


def _encode(item: TimelineItem) -> str:
    return encode_cursor([item.occurred_at, item.kind, item.id])


def _decode(cursor: str) -> tuple[dt.datetime, str, int]:
    when, kind, pk = decode_cursor(cursor, 3)
    if not isinstance(when, dt.datetime) or kind not in _RANK or not isinstance(pk, int):
        raise invalid_cursor()
    return when, kind, pk


def customer_timeline(
    *, customer_id: int, kinds: list[str] | None = None, cursor: str | None = None, limit: int = 30
) -> tuple[list[TimelineItem], str | None]:
    """Newest first. `kinds` narrows to some of KINDS. Returns (items, next cursor or None)."""
    kinds = kinds or list(KINDS)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise KervanError(
            _("Unknown timeline kind '%(kind)s'. Use %(kinds)s.")
            % {"kind": sorted(unknown)[0], "kinds": ", ".join(KINDS)},
            "invalid_kind",
        )
    check_limit(limit)
    after = _decode(cursor) if cursor else None
    # On PostgreSQL a customer's events are read apart, per event name (events.selectors.customer_newest_event_keys):
    # the events table has no (customer, time) index, and sorting a long history in the UNION costs seconds.
    events_apart = connection.vendor == "postgresql" and "event" in kinds
    branches = []
    for kind in kinds:
        if kind == "event" and events_apart:
            continue
        model, customer_field, time_field, _related = SOURCES[kind]
        qs = model.objects.filter(**{customer_field: customer_id})
        if kind == "event":
            for prefix in _ORDER_ACTION_EVENT_PREFIXES:
                qs = qs.exclude(dedupe_key__startswith=prefix)
        if after:
            when, after_kind, after_id = after
            if _RANK[kind] < _RANK[after_kind]:  # at the cursor's instant this kind sorts after the cursor's
                qs = qs.filter(**{f"{time_field}__lte": when})
            elif kind == after_kind:
                qs = qs.filter(Q(**{f"{time_field}__lt": when}) | Q(**{time_field: when, "pk__lt": after_id}))
            else:
                qs = qs.filter(**{f"{time_field}__lt": when})
        branches.append(
            qs.order_by()
            .annotate(t=F(time_field), rank=Value(_RANK[kind], output_field=IntegerField()))
            .values_list("t", "rank", "id")
        )
    # One query orders every kind together: newest first; at one instant higher rank, then higher id first —
    # the order the cursor assumes. Then each kind on the page is loaded by id.
    rows = []
    if branches:
        combined = branches[0].union(*branches[1:], all=True) if len(branches) > 1 else branches[0]
        rows = list(combined.order_by("-t", "-rank", "-id")[: limit + 1])
    if events_apart:
        before = not_after = None
        if after:
            when, after_kind, after_id = after
            # Events have the lowest rank: at the cursor's instant they sort after any other kind's row.
            before, not_after = ((when, after_id), None) if after_kind == "event" else (None, when)
        keys = customer_newest_event_keys(
            customer_id,
            count=limit + 1,
            before=before,
            not_after=not_after,
            exclude_key_prefixes=_ORDER_ACTION_EVENT_PREFIXES,
        )
        rows = sorted(rows + [(when, _RANK["event"], pk) for when, pk in keys], reverse=True)[: limit + 1]
    page = rows[:limit]
    objects = {}
    for rank in {rank for _when, rank, _pk in page}:
        kind = KINDS[rank]
        model, _customer_field, _time_field, related = SOURCES[kind]
        objects[kind] = model.objects.select_related(*related).in_bulk([pk for _when, r, pk in page if r == rank])
    items = [TimelineItem(KINDS[rank], pk, when, objects[KINDS[rank]][pk]) for when, rank, pk in page]
    next_cursor = _encode(items[-1]) if len(rows) > limit else None
    return items, next_cursor


def timeline_present(item: TimelineItem) -> dict:
    """Title and a small data dict for one timeline item — shared by the 360 page and the API."""
    obj = item.obj
    if item.kind == "event":
        return {"title": obj.name, "data": obj.properties}
    if item.kind == "order":
        order = obj.order
        titles = {
            "placed": _("Order %(number)s placed"),
            "paid": _("Order %(number)s paid"),
            "fulfilled": _("Order %(number)s fulfilled"),
            "shipped": _("Order %(number)s shipped"),
            "delivered": _("Order %(number)s delivered"),
            "cancelled": _("Order %(number)s cancelled"),
        }
        data = {
            "order_id": order.pk,
            "status": obj.status,
            "total": str(order.total),
            "currency": order.currency,
            **obj.details,
        }
        return {"title": titles[obj.status] % {"number": order.number}, "data": data}
    if item.kind == "return":
        return {
            "title": _("Return on order %(number)s") % {"number": obj.order.number},
            "data": {"order_id": obj.order_id, "reason": obj.get_reason_display(), "note": obj.note},
        }
    if item.kind == "refund":
        return {
            "title": _("Refund on order %(number)s") % {"number": obj.order.number},
            "data": {
                "order_id": obj.order_id,
                "amount": str(obj.amount),
                "currency": obj.currency,
                "reason": obj.get_reason_display(),
            },
        }
    if item.kind == "note":
        author = obj.author.get_full_name() or obj.author.username if obj.author else ""
        return {"title": _("Note"), "data": {"body": obj.body, "author": author}}
    if item.kind == "merge":
        return {
            "title": _("Merged with profile #%(id)s") % {"id": obj.merged_id},
            "data": {"merged_id": obj.merged_id, "snapshot": obj.snapshot},
        }
    if item.kind == "consent":
        return {
            "title": (
                _("%(channel)s consent granted (%(purpose)s)")
                if obj.status == "granted"
                else _("%(channel)s consent refused (%(purpose)s)")
            )
            % {"channel": obj.get_channel_display(), "purpose": obj.get_purpose_display()},
            "data": {
                "channel": obj.channel,
                "status": obj.status,
                "source": obj.source,
                "proof": obj.proof,
                "iys": f"{obj.iys_channel}/{obj.iys_status}/{obj.iys_source}".strip("/"),
            },
        }
    raise ValueError(item.kind)
