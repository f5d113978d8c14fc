"""Reads of the event store and of tracker sites."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.core.pagination import Page, check_limit, decode_cursor, encode_cursor, invalid_cursor, paginate
from kervan.events.models import Event, TrackerSite


def events_page(
    *,
    actor: Actor,
    customer_id: int | None = None,
    name: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """One page of events, newest first (occurred_at, then id); `since` is inclusive, `until` exclusive.

    One customer's events are read per event name on PostgreSQL (customer_newest_event_keys): a plain ORDER BY
    lets the planner walk the table-wide time index looking for that customer's rows (224 ms for a customer with
    511 of 10 million events), or sort a long history whole."""
    _check_aware(since=since, until=until)
    if customer_id is None or connection.vendor != "postgresql":
        qs = actor.scope("events", Event.objects.select_related("source"))
        if customer_id is not None:
            qs = qs.filter(customer_id=customer_id)
        if name:
            qs = qs.filter(name=name)
        if since is not None:
            qs = qs.filter(occurred_at__gte=since)
        if until is not None:
            qs = qs.filter(occurred_at__lt=until)
        try:
            return paginate(qs, order="-occurred_at", cursor=cursor, limit=limit)
        except (ValidationError, ValueError, TypeError, ArithmeticError):
            raise invalid_cursor() from None  # it decodes, but carries the wrong kinds of values
    actor.require("events", "read")  # the same refusal as actor.scope, for the per-name read below
    check_limit(limit)
    before = None
    if cursor:
        when, pk = decode_cursor(cursor, 2)
        if not isinstance(when, dt.datetime) or when.tzinfo is None or type(pk) is not int:
            raise invalid_cursor()
        before = (when, pk)
    keys = customer_newest_event_keys(customer_id, count=limit + 1, before=before, name=name, since=since, until=until)
    found = Event.objects.select_related("source").in_bulk([pk for _when, pk in keys[:limit]])
    items = [found[pk] for _when, pk in keys[:limit] if pk in found]
    next_cursor = encode_cursor([items[-1].occurred_at, items[-1].pk]) if len(keys) > limit and items else None
    return Page(items=items, next_cursor=next_cursor)


def customer_newest_event_keys(
    customer_id: int,
    *,
    count: int,
    before: tuple[dt.datetime, int] | None = None,
    not_after: dt.datetime | None = None,
    name: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    exclude_key_prefixes: tuple[str, ...] = (),
) -> list[tuple[dt.datetime, int]]:
    """(occurred_at, id) of one customer's newest `count` events, newest first. PostgreSQL only.

    The index is (customer, name, occurred_at): a loose index scan finds the customer's distinct event names (one
    index probe each; just `name` when given), then each name's newest `count` come from that index in order, and
    only those are merged. A customer with 300,000 events costs a few dozen probes instead of a sort of all of them.
    `before` is a keyset position (strictly older rows only), `not_after` an inclusive time bound, `since`
    inclusive and `until` exclusive; events whose dedupe key starts with one of `exclude_key_prefixes` are left out.
    """
    table = connection.ops.quote_name(Event._meta.db_table)
    params = {"customer": customer_id, "count": count, "name": name}
    conditions = []
    if before is not None:
        params.update(before_when=before[0], before_id=before[1])
        conditions.append("(e.occurred_at, e.id) < (%(before_when)s, %(before_id)s)")
    for key, value, condition in (
        ("not_after", not_after, "e.occurred_at <= %(not_after)s"),
        ("since", since, "e.occurred_at >= %(since)s"),
        ("until", until, "e.occurred_at < %(until)s"),
    ):
        if value is not None:
            params[key] = value
            conditions.append(condition)
    for i, prefix in enumerate(exclude_key_prefixes):
        params[f"prefix_{i}"] = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(f"e.dedupe_key NOT LIKE %(prefix_{i})s")
    where = "".join(f" AND {c}" for c in conditions)
    names = (
        "names(name) AS (SELECT %(name)s::varchar)"
        if name
        else f"""RECURSIVE names(name) AS (
            (SELECT name FROM {table} WHERE customer_id = %(customer)s ORDER BY name LIMIT 1)
            UNION ALL
            SELECT (SELECT e.name FROM {table} e WHERE e.customer_id = %(customer)s AND e.name > names.name
                    ORDER BY e.name LIMIT 1)
            FROM names WHERE names.name IS NOT NULL
        )"""
    )
    sql = f"""
        WITH {names}
        SELECT newest.occurred_at, newest.id FROM names CROSS JOIN LATERAL (
            SELECT e.occurred_at, e.id FROM {table} e
            WHERE e.customer_id = %(customer)s AND e.name = names.name{where}
            ORDER BY e.occurred_at DESC, e.id DESC LIMIT %(count)s
        ) AS newest
        WHERE names.name IS NOT NULL
        ORDER BY newest.occurred_at DESC, newest.id DESC LIMIT %(count)s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def _check_aware(**values: dt.datetime | None) -> None:
    for label, value in values.items():
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise KervanError(
                _("%(label)s needs a UTC offset, e.g. 2026-05-01T00:00:00+03:00.") % {"label": label},
                "naive_datetime",
                status=422,
                field=label,
            )


def tracker_site_for_key(public_key: str) -> TrackerSite | None:
    return TrackerSite.objects.filter(public_key=public_key, is_active=True).select_related("source").first()


def tracker_sites() -> QuerySet:
    return TrackerSite.objects.select_related("source").order_by("id")
