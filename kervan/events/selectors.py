"""Reads of the event store and of tracker sites."""

import datetime as dt
import re
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.emails import normalize_email
from kervan.core.errors import KervanError
from kervan.core.filters import day_start
from kervan.core.pagination import Page, check_limit, decode_cursor, encode_cursor, invalid_cursor, paginate
from kervan.customers import selectors as customer_selectors
from kervan.customers.identity import identities_lookup
from kervan.events.models import CanonicalEvent, Event, TrackerSite


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


# The event list's "name" choices: the canonical names and those seen among the newest events, read from the time
# index once per ten minutes — never a DISTINCT over the whole table, which at 30 million events takes seconds.
NAMES_FACET_KEY = "events.facet.names"
NAMES_FACET_SECONDS = 600
NAMES_FACET_WINDOW = 10_000


def event_names_seen() -> list[str]:
    """The canonical event names and the custom names among the newest NAMES_FACET_WINDOW events, sorted."""
    names = cache.get(NAMES_FACET_KEY)
    if names is None:
        recent = Event.objects.order_by("-occurred_at", "-id").values_list("name", flat=True)[:NAMES_FACET_WINDOW]
        names = sorted(set(CanonicalEvent.values) | set(recent))
        cache.set(NAMES_FACET_KEY, names, NAMES_FACET_SECONDS)
    return names


@dataclass
class EventListFilters:
    """The event list's filters as typed (the page's query string): every one optional."""

    name: str = ""
    customer: str = ""  # a customer number or an email address
    prop: str = ""  # key=value on the properties: product_id=131
    since: str = ""  # a date (from its first instant) or a date and time: the shop's time zone unless it has an offset
    until: str = ""  # a date (to its last instant) or a date and time (exclusive)


PROP_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")


def event_list(*, actor: Actor, filters: EventListFilters) -> tuple[QuerySet[Event], str]:
    """Events `actor` may read that match `filters`, and the keyset order to page them by: newest first.

    The order is (occurred_at, id) descending, which the (occurred_at, id) index serves backwards: the first page
    of 30 million events reads 51 index entries, never a sort of the table. A customer's events are found through
    the (customer, name, occurred_at) index; a name or property filter walks the time index until it has a page,
    within SCAN_WINDOW_DAYS unless a From date or a customer is given."""
    qs = actor.scope("events", Event.objects.select_related("customer", "source"))
    for key, value in vars(filters).items():
        if "\x00" in value:  # PostgreSQL refuses the character in any string
            raise KervanError(_("This value contains a character that is not allowed."), "invalid_value", field=key)
    if filters.name:
        if len(filters.name) > 100:
            raise KervanError(_("An event name has at most 100 characters."), "invalid_name", field="name")
        qs = qs.filter(name=filters.name)
    if filters.customer:
        qs = qs.filter(customer_id=_customer_id(actor, filters.customer))
    if filters.prop:
        qs = qs.filter(_property_condition(filters.prop))
    since = _moment(filters.since, "since", end=False) if filters.since else None
    until = _moment(filters.until, "until", end=True) if filters.until else None
    if since is not None and until is not None and until <= since:
        raise KervanError(_("Until must be later than From."), "invalid_range", field="until")
    if since is None and scan_window_applies(filters):
        since = (until or clock.now()) - dt.timedelta(days=SCAN_WINDOW_DAYS)
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lt=until)
    return qs, "-occurred_at"


# A name or property filter has no index of its own: it walks the time index until it has a page, and the list's
# count reads every match. Measured on 2 million events stored in time order, as ingestion writes them: over all time
# a name seen 20 times costs 0.31 s for the page (a scan of the table) and a property seen 4,000 times 1.1 s for the
# count — and 15 times that at 30 million; over the last 30 days, 33 ms and 0.15 s. So without a From date (or a
# customer, whose events have their index) these filters look at the 30 days up to Until (or now), and the page says
# so (events/list.html).
SCAN_WINDOW_DAYS = 30


def scan_window_applies(filters: EventListFilters) -> bool:
    return bool((filters.name or filters.prop) and not filters.customer and not filters.since)


def events_newer(qs: QuerySet[Event], *, after: tuple[dt.datetime, int], limit: int) -> list[Event]:
    """Up to `limit` rows of the list `qs` newer than `after` ((occurred_at, id) of the newest one shown), newest
    first: what a list left open has not shown yet. A range on the time index, from its right edge."""
    when, pk = after
    rows = qs.filter(occurred_at__gte=when).filter(Q(occurred_at__gt=when) | Q(pk__gt=pk))
    return list(rows.order_by("-occurred_at", "-pk")[:limit])


def event_marker(event: Event) -> str:
    """The signed position of `event` in the newest-first list, for events_newer (decode with read_marker)."""
    return encode_cursor([event.occurred_at, event.pk])


def read_marker(marker: str) -> tuple[dt.datetime, int]:
    when, pk = decode_cursor(marker, 2)
    if not isinstance(when, dt.datetime) or when.tzinfo is None or type(pk) is not int:
        raise invalid_cursor()
    return when, pk


def _customer_id(actor: Actor, raw: str) -> int:
    """The customer a filter names, by number ("1234", "#1234") or email (any form of the address): merged-away
    profiles lead to their survivor, whose events they are now."""
    value = raw.strip()
    customer_id = None
    if value.lstrip("#").isdigit() and len(value) < 19:
        customer_id = int(value.lstrip("#"))
    elif "@" in value:
        email = normalize_email(value, field="customer")
        customer_id = identities_lookup("email", [email]).get(email)
    else:
        raise KervanError(_("Enter a customer number or an email address."), "invalid_customer", field="customer")
    if customer_id is not None:
        try:
            return customer_selectors.customer_get(actor=actor, customer_id=customer_id).pk
        except KervanError as exc:
            if exc.status == 403:
                raise
    raise KervanError(_("No customer matches “%(value)s”.") % {"value": value}, "customer_not_found", field="customer")


def _property_condition(raw: str) -> Q:
    """`key=value` as a condition on the properties. The value matches as sent in either form: "131" finds the
    number 131 and the text "131"; true/false find booleans."""
    key, equals, value = raw.partition("=")
    key, value = key.strip(), value.strip()
    if not equals or not PROP_KEY.match(key) or "__" in key:
        raise KervanError(_("Write the property as key=value, e.g. product_id=131."), "invalid_property", field="prop")
    candidates: list[object] = [value]
    if re.fullmatch(r"-?\d{1,18}", value):
        candidates.append(int(value))
    elif re.fullmatch(r"-?\d{1,15}\.\d{1,9}", value):
        candidates.append(float(value))
    if value.lower() in ("true", "false"):
        candidates.append(value.lower() == "true")
    condition = Q()
    for candidate in candidates:
        condition |= Q(**{f"properties__{key}": candidate})
    return condition


def _moment(value: str, field: str, *, end: bool) -> dt.datetime:
    """A filter's date or date and time as an aware instant. A bare date is the shop's day: from its first
    instant, or (`end`) up to the first instant of the next day."""
    raw = value.strip()
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            return day_start(day + dt.timedelta(days=1) if end else day)
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise KervanError(
            _("'%(value)s' is not a date or a time; use YYYY-MM-DD or YYYY-MM-DD HH:MM.") % {"value": raw},
            "invalid_datetime",
            field=field,
        ) from None
    if moment.tzinfo is None:
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment
