"""The Customer 360 timeline: one merged, paginated read over everything that happened to a customer.

Nothing is copied into a timeline table. Every app registers its kinds of entries with the customer registry
(kervan.customers.registry.TimelineSource); each kind is read newest-first from its own (customer, time) index, the
streams are merged by time, and the cursor (time, kind, id) says where the next page starts. A role sees the kinds
of the permission areas it may read.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import F, IntegerField, Q, QuerySet, Value
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.core.pagination import check_limit, decode_cursor, encode_cursor, invalid_cursor
from kervan.customer360.compiled import Statement
from kervan.customers.registry import TimelineSource, timeline_source, timeline_sources


@dataclass
class TimelineItem:
    kind: str
    id: int
    occurred_at: dt.datetime
    obj: Any


def visible_sources(actor: Actor) -> list[TimelineSource]:
    """The kinds `actor` may see, in the page's order."""
    return [s for s in timeline_sources() if actor.can(s.area, "read")]


def _decode(cursor: str, ranks: dict[str, int]) -> tuple[dt.datetime, str, int]:
    when, kind, pk = decode_cursor(cursor, 3)
    if not isinstance(when, dt.datetime) or kind not in ranks or not isinstance(pk, int):
        raise invalid_cursor()
    return when, kind, pk


def customer_timeline(
    *, actor: Actor, customer_id: int, kinds: list[str] | None = None, cursor: str | None = None, limit: int = 30
) -> tuple[list[TimelineItem], str | None]:
    """Newest first. `kinds` narrows to some of the kinds `actor` may see. Returns (items, next cursor or None)."""
    sources = {s.kind: s for s in visible_sources(actor)}
    # The tie-break rank at one instant follows every registered kind's position, whoever reads, so a cursor means
    # the same for every role.
    ranks = {s.kind: s.position for s in timeline_sources()}
    kinds = kinds or list(sources)
    unknown = set(kinds) - set(sources)
    if unknown:
        raise KervanError(
            _("Unknown timeline kind '%(kind)s'. Use %(kinds)s.")
            % {"kind": sorted(unknown)[0], "kinds": ", ".join(sources)},
            "invalid_kind",
        )
    check_limit(limit)
    after = _decode(cursor, ranks) if cursor else None
    by_rank = {ranks[kind]: sources[kind] for kind in kinds}
    together = [sources[kind] for kind in kinds if sources[kind].newest_keys is None]
    apart = [sources[kind] for kind in kinds if sources[kind].newest_keys is not None]
    rows: list[tuple[dt.datetime, int, int]] = []
    if together and after is None:  # the first page, by far the most read: its SQL is compiled once per process
        rows = list(_first_page(by_rank, together, limit)(customer_id=customer_id))
    elif together:
        when, after_kind, after_id = after
        branches = []
        for source in together:
            qs, time_field = source.rows(customer_id), source.time_field
            if ranks[source.kind] < ranks[after_kind]:  # at the cursor's instant this kind sorts after the cursor's
                qs = qs.filter(**{f"{time_field}__lte": when})
            elif source.kind == after_kind:
                qs = qs.filter(Q(**{f"{time_field}__lt": when}) | Q(**{time_field: when, "pk__lt": after_id}))
            else:
                qs = qs.filter(**{f"{time_field}__lt": when})
            branches.append(_branch(qs, source, ranks[source.kind]))
        rows = list(_merged(branches)[: limit + 1])
    # Then each kind on the page is loaded by id.
    for source in apart:
        before = not_after = None
        if after:
            when, after_kind, after_id = after
            if source.kind == after_kind:
                before = (when, after_id)
            elif ranks[source.kind] < ranks[after_kind]:
                not_after = when
            else:  # strictly older than the cursor's instant
                before = (when, -1)
        keys = source.newest_keys(customer_id, count=limit + 1, before=before, not_after=not_after)
        rows.extend((when, ranks[source.kind], pk) for when, pk in keys)
    if apart:
        rows = sorted(rows, reverse=True)[: limit + 1]
    page = rows[:limit]
    objects = {}
    for rank in {rank for _when, rank, _pk in page}:
        source = by_rank[rank]
        ids = [pk for _when, r, pk in page if r == rank]
        objects[rank] = {row.pk: row for row in _loaded(source)(customer_id=customer_id, ids=ids)}
    items = [TimelineItem(by_rank[rank].kind, pk, when, objects[rank][pk]) for when, rank, pk in page]
    next_cursor = encode_cursor([items[-1].occurred_at, items[-1].kind, items[-1].id]) if len(rows) > limit else None
    return items, next_cursor


def _merged(branches: list[QuerySet]) -> QuerySet:
    """One query orders the kinds read together: newest first; at one instant higher rank, then higher id first —
    the order the cursor assumes."""
    combined = branches[0].union(*branches[1:], all=True) if len(branches) > 1 else branches[0]
    return combined.order_by("-t", "-rank", "-id")


def _branch(rows: QuerySet, source: TimelineSource, rank: int) -> QuerySet:
    return (
        rows.order_by()
        .annotate(t=F(source.time_field), rank=Value(rank, output_field=IntegerField()))
        .values_list("t", "rank", "id")
    )


# Compiled statements (kervan.customer360.compiled), per set of sources read together and page size, and per source.
# Keyed by the sources themselves (held here, so their ids stay theirs): a source registered later, or registered
# again differently, gets statements of its own and changes nobody else's.
_first_pages: dict[tuple, tuple[tuple[TimelineSource, ...], Statement]] = {}
_loads: dict[int, tuple[TimelineSource, Statement]] = {}


def _first_page(by_rank: dict[int, TimelineSource], together: list[TimelineSource], limit: int) -> Statement:
    ranks = {source.kind: rank for rank, source in by_rank.items()}
    key = (tuple((id(source), ranks[source.kind]) for source in together), limit)
    found = _first_pages.get(key)
    if found is None:

        def build(customer_id: int) -> QuerySet:
            return _merged([_branch(source.rows(customer_id), source, ranks[source.kind]) for source in together])[
                : limit + 1
            ]

        found = _first_pages[key] = (tuple(together), Statement(build))
    return found[1]


def _loaded(source: TimelineSource) -> Statement:
    """A page's rows of `source` by id, with what its `present` reads beside them."""
    found = _loads.get(id(source))
    if found is None or found[0] is not source:
        statement = Statement(
            lambda customer_id, ids: (
                source.rows(customer_id).select_related(*source.select_related).filter(pk__in=ids).order_by()
            )
        )
        found = _loads[id(source)] = (source, statement)
    return found[1]


def timeline_present(item: TimelineItem) -> dict[str, Any]:
    """What the item's source says of it: {"title", "data"} and, for the page, maybe "summary", "byline", "link",
    "steps" (sub-lines: [{"title", "when", "detail"}])."""
    return timeline_source(item.kind).present(item.obj)


def timeline_present_many(items: list[TimelineItem]) -> list[dict[str, Any]]:
    """timeline_present for a page of items. A source whose `present` also has `many(objs)` presents its items on
    the page together (the events' product names, the orders' status steps: one query per kind, not per item)."""
    shown: dict[int, dict[str, Any]] = {}
    by_kind: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        by_kind.setdefault(item.kind, []).append(index)
    for kind, indexes in by_kind.items():
        present = timeline_source(kind).present
        many = getattr(present, "many", None)
        results = many([items[i].obj for i in indexes]) if many else [present(items[i].obj) for i in indexes]
        shown.update(zip(indexes, results, strict=True))
    return [shown[i] for i in range(len(items))]
