"""Every write to segments: create/update/delete (checked, audited), the set-based rebuild of a dynamic segment's
members with its entered/exited history and timeline events, and static lists (a selection, a CSV of emails)."""

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.audit import audit
from kervan.core.cache import customer_360
from kervan.core.errors import KervanError
from kervan.core.outgoing import emit_many
from kervan.customers.models import Customer
from kervan.events.models import Event
from kervan.segments.compiler import compile_tree
from kervan.segments.definition import Group, is_relative, parse_definition
from kervan.segments.models import Segment, SegmentChange, SegmentMembership

ENTERED_EVENT = "Entered Segment"
EXITED_EVENT = "Exited Segment"
BATCH = 5000
MATCHED = "segments_rebuild_matched"  # the temporary table a rebuild evaluates its definition into
MAX_NAME = 120


def refresh_filter_choices() -> None:
    """Refresh the cached choices of the customer list's "Segment" filter (customers.lists.segment_choices)."""
    from django.core.cache import cache

    from kervan.customers.lists import SEGMENT_CHOICES_KEY

    choices = [(str(pk), name) for pk, name in Segment.objects.order_by("name").values_list("pk", "name")[:300]]
    cache.set(SEGMENT_CHOICES_KEY, choices, None)


def check_definition(definition, *, segment_id: int | None = None) -> Group:
    """The checked tree of `definition`, refusing references to missing segments and cycles through `segment_id`."""

    def lookup(sid: int):
        if segment_id is not None and sid == segment_id:
            return "self"
        row = Segment.objects.filter(pk=sid).values_list("definition", flat=True).first()
        return row if row is not None else None

    return parse_definition(definition, segment_lookup=lookup)


def _clean_name(name) -> str:
    value = str(name or "").strip()
    if not value:
        raise KervanError(_("Give the segment a name."), "invalid_name", field="name")
    if len(value) > MAX_NAME:
        raise KervanError(_("The name is too long (at most 120 characters)."), "invalid_name", field="name")
    return value


@transaction.atomic
def segment_create(*, actor: Actor, name: str, definition=None, kind: str = Segment.Kind.DYNAMIC) -> Segment:
    actor.require("segments", "write")
    name = _clean_name(name)
    if kind not in Segment.Kind.values:
        raise KervanError(_("Choose a dynamic segment or a static list."), "invalid_kind", field="kind")
    definition = definition if definition is not None else {"match": "all", "conditions": []}
    tree = check_definition(definition) if kind == Segment.Kind.DYNAMIC else None
    segment = Segment.objects.create(
        name=name,
        kind=kind,
        definition=definition if tree else {},
        relative=bool(tree and is_relative(tree)),
        created_by=actor.user if getattr(actor.user, "pk", None) else None,
    )
    audit(actor=actor, action="create", obj=segment, changes={"name": [None, name], "definition": [None, definition]})
    transaction.on_commit(refresh_filter_choices)
    return segment


@transaction.atomic
def segment_update(*, actor: Actor, segment: Segment, name: str | None = None, definition=None) -> Segment:
    actor.require("segments", "write")
    changes = {}
    if name is not None:
        name = _clean_name(name)
        if name != segment.name:
            changes["name"] = [segment.name, name]
            segment.name = name
    if definition is not None:
        if segment.kind != Segment.Kind.DYNAMIC:
            raise KervanError(_("A static list has no conditions."), "static_list", field="definition")
        tree = check_definition(definition, segment_id=segment.pk)
        if definition != segment.definition:
            changes["definition"] = [segment.definition, definition]
            segment.definition = definition
            segment.relative = is_relative(tree)
    if changes:
        segment.save()
        audit(actor=actor, action="update", obj=segment, changes=changes)
        transaction.on_commit(refresh_filter_choices)
    return segment


@transaction.atomic
def segment_delete(*, actor: Actor, segment: Segment) -> None:
    actor.require("segments", "write")
    users = [s.name for s in Segment.objects.exclude(pk=segment.pk) if segment.pk in _refs(s.definition)]
    if users:
        raise KervanError(
            _("Other segments use this one: %(names)s.") % {"names": ", ".join(users)}, "segment_in_use", status=409
        )
    audit(actor=actor, action="delete", obj=segment, changes={"name": [segment.name, None]})
    segment.delete()
    transaction.on_commit(refresh_filter_choices)


def _refs(definition) -> list[int]:
    from kervan.segments.definition import referenced_segments

    return referenced_segments(definition)


@dataclass
class RebuildResult:
    entered: list[int] = field(default_factory=list)
    exited: list[int] = field(default_factory=list)
    members: int = 0


def members_queryset(segment: Segment, *, now=None, narrow: bool = False):
    """The customers a dynamic segment's definition matches now (compiled, parameterised). `narrow`: the caller
    limits it to a few customers (aggregates are then computed per customer, not for everyone)."""
    tree = check_definition(segment.definition, segment_id=segment.pk)
    return Customer.objects.active().filter(compile_tree(tree, now=now, narrow=narrow))


def segment_rebuild(*, segment: Segment, customer_ids: list[int] | None = None) -> RebuildResult:
    """Bring a dynamic segment's stored members in line with its definition, set-based in one transaction:
    INSERT … SELECT of the customers who now match and were not members, DELETE of the members who no longer match
    (both RETURNING the customers), then their history rows and "Entered Segment" / "Exited Segment" events in bulk.
    `customer_ids` limits the work to those customers (an incremental refresh)."""
    now = clock.now()
    with transaction.atomic():
        segment = Segment.objects.select_for_update().get(pk=segment.pk)
        if segment.kind != Segment.Kind.DYNAMIC:
            return RebuildResult(members=segment.member_count)
        members = members_queryset(segment, now=now, narrow=customer_ids is not None)
        if customer_ids is not None:
            members = members.filter(pk__in=customer_ids)
        try:
            sql, params = members.values("pk").query.sql_with_params()
        except EmptyResultSet:  # a condition no stored value can meet (a city nobody lives in)
            sql, params = f"SELECT id FROM {Customer._meta.db_table} WHERE 1 = 0", []
        table = SegmentMembership._meta.db_table
        stamp = connection.ops.adapt_datetimefield_value(now)
        limit_sql, limit_params = "", []
        if customer_ids is not None:
            placeholders = ", ".join(["%s"] * len(customer_ids))
            limit_sql = f" AND customer_id IN ({placeholders})" if customer_ids else " AND 1 = 0"
            limit_params = list(customer_ids)
        with connection.cursor() as cursor:
            # The definition is evaluated once, into a temporary table of member ids; the diff is read against it.
            cursor.execute(f"DROP TABLE IF EXISTS {MATCHED}")
            cursor.execute(f"CREATE TEMPORARY TABLE {MATCHED} (id bigint PRIMARY KEY)")
            cursor.execute(f"INSERT INTO {MATCHED} (id) {sql}", params)
            cursor.execute(
                f"INSERT INTO {table} (segment_id, customer_id, entered_at) "
                f"SELECT %s, m.id, %s FROM {MATCHED} m "
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} x WHERE x.segment_id = %s AND x.customer_id = m.id) "
                f"RETURNING customer_id",
                [segment.pk, stamp, segment.pk],
            )
            entered = [row[0] for row in cursor.fetchall()]
            cursor.execute(
                f"DELETE FROM {table} WHERE segment_id = %s{limit_sql} "
                f"AND NOT EXISTS (SELECT 1 FROM {MATCHED} m WHERE m.id = {table}.customer_id) "
                f"RETURNING customer_id",
                [segment.pk, *limit_params],
            )
            exited = [row[0] for row in cursor.fetchall()]
            cursor.execute(f"DROP TABLE {MATCHED}")
        _record_changes(segment, entered, exited, now)
        if customer_ids is None:
            segment.member_count = SegmentMembership.objects.filter(segment=segment).count()
        else:  # the segment's row is locked: its count moves by the diff (counting a big segment costs ~50 ms)
            segment.member_count += len(entered) - len(exited)
        segment.rebuilt_at = now
        done = {"member_count": segment.member_count, "rebuilt_at": now}
        if customer_ids is None:  # everyone is evaluated at `now`: time-relative moves are applied up to it
            done["moved_until"] = now
        Segment.objects.filter(pk=segment.pk).update(**done)
    return RebuildResult(entered=entered, exited=exited, members=segment.member_count)


def _record_changes(segment: Segment, entered: list[int], exited: list[int], now) -> None:
    changes = [SegmentChange(segment=segment, customer_id=c, kind="entered", at=now) for c in entered] + [
        SegmentChange(segment=segment, customer_id=c, kind="exited", at=now) for c in exited
    ]
    for i in range(0, len(changes), BATCH):
        SegmentChange.objects.bulk_create(changes[i : i + BATCH])
    # The events go straight to the event table in bulk (not through the event store): entering a segment is not the
    # customer's own activity, so it must not move their "last seen" (CustomerStats.last_event_at).
    stamp = int(now.timestamp() * 1_000_000)
    props = {"segment_id": segment.pk, "segment": segment.name}
    events = [
        Event(
            dedupe_key=f"segment:{segment.pk}:{c}:{kind}:{stamp}",
            name=name,
            occurred_at=now,
            properties=props,
            customer_id=c,
        )
        for ids, kind, name in ((entered, "in", ENTERED_EVENT), (exited, "out", EXITED_EVENT))
        for c in ids
    ]
    Event.objects.bulk_create(events, batch_size=BATCH, ignore_conflicts=True)
    for ids, kind, name in ((entered, "in", "segment.entered"), (exited, "out", "segment.exited")):
        emit_many(name, ((f"segment:{segment.pk}:{c}:{kind}:{stamp}", {**props, "customer_id": c}) for c in ids))
    # Their cached 360 (timeline, chips) is out of date. Not announced as a change of their data: that would queue
    # them for re-evaluation again; segments that refer to this one are rebuilt after it (rebuild_order).
    customer_360.changed(entered + exited)


def rebuild_order(segments: list[Segment]) -> list[Segment]:
    """Segments that others refer to first, so "in segment X" reads X's fresh members."""
    by_id = {s.pk: s for s in segments}
    done: list[Segment] = []
    seen: set[int] = set()

    def visit(s: Segment, stack: set[int]) -> None:
        if s.pk in seen or s.pk in stack:
            return
        for ref in _refs(s.definition):
            if ref in by_id:
                visit(by_id[ref], stack | {s.pk})
        seen.add(s.pk)
        done.append(s)

    for s in segments:
        visit(s, set())
    return done


def segments_rebuild_all() -> int:
    """Rebuild every dynamic segment whole (referred-to ones first); returns how many memberships changed."""
    segments = list(Segment.objects.filter(kind=Segment.Kind.DYNAMIC))
    refresh_filter_choices()
    moved = 0
    for s in rebuild_order(segments):
        result = segment_rebuild(segment=s)
        moved += len(result.entered) + len(result.exited)
    return moved


def segment_rebuild_now(*, actor: Actor, segment: Segment) -> RebuildResult:
    actor.require("segments", "write")
    result = segment_rebuild(segment=segment)
    audit(
        actor=actor,
        action="rebuild",
        obj=segment,
        changes={"entered": len(result.entered), "exited": len(result.exited)},
    )
    return result


@transaction.atomic
def static_list_add(*, actor: Actor, segment: Segment, customer_ids: list[int]) -> int:
    """Add customers to a static list; returns how many joined (those already in it are skipped)."""
    actor.require("segments", "write")
    if segment.kind != Segment.Kind.STATIC:
        raise KervanError(_("Customers can be added by hand to a static list only."), "not_static", field="segment")
    now = clock.now()
    ids = list(
        actor.scope("customers", Customer.objects.active())
        .filter(pk__in=customer_ids)
        .exclude(segment_memberships__segment=segment)
        .values_list("pk", flat=True)
    )
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=segment, customer_id=c, entered_at=now) for c in ids], batch_size=BATCH
    )
    _record_changes(segment, ids, [], now)
    count = SegmentMembership.objects.filter(segment=segment).count()
    Segment.objects.filter(pk=segment.pk).update(member_count=count)
    audit(actor=actor, action="update", obj=segment, changes={"added": len(ids)})
    return len(ids)


MAX_CSV_BYTES = 20 * 1024 * 1024


def static_list_add_csv(*, actor: Actor, segment: Segment, data: bytes) -> tuple[int, int]:
    """Add the customers whose email is in a CSV (one email per row, or a column named "email"). Returns
    (added, not found)."""
    actor.require("segments", "write")
    if len(data) > MAX_CSV_BYTES:
        raise KervanError(_("The file is too large (at most 20 MB)."), "file_too_large", field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise KervanError(_("The file is not UTF-8 text."), "invalid_file", field="file")
    rows = list(csv.reader(io.StringIO(text)))
    column = 0
    if rows and any("email" in cell.strip().lower() or "e-posta" in cell.strip().lower() for cell in rows[0]):
        header = [cell.strip().lower() for cell in rows[0]]
        column = next(i for i, h in enumerate(header) if "email" in h or "e-posta" in h)
        rows = rows[1:]
    emails = {row[column].strip().lower() for row in rows if len(row) > column and "@" in row[column]}
    if not emails:
        raise KervanError(_("No email addresses found in the file."), "no_emails", field="file")
    found = {}
    email_list = sorted(emails)
    for i in range(0, len(email_list), 1000):
        for pk, email in (
            Customer.objects.active().filter(email__in=email_list[i : i + 1000]).values_list("pk", "email")
        ):
            found.setdefault(email, pk)
    added = static_list_add(actor=actor, segment=segment, customer_ids=list(found.values()))
    return added, len(emails) - len(found)


@transaction.atomic
def static_list_remove(*, actor: Actor, segment: Segment, customer_ids: list[int]) -> int:
    actor.require("segments", "write")
    if segment.kind != Segment.Kind.STATIC:
        raise KervanError(_("Customers can be removed by hand from a static list only."), "not_static", field="segment")
    now = clock.now()
    ids = list(
        SegmentMembership.objects.filter(segment=segment, customer_id__in=customer_ids).values_list(
            "customer_id", flat=True
        )
    )
    SegmentMembership.objects.filter(segment=segment, customer_id__in=ids).delete()
    _record_changes(segment, [], ids, now)
    Segment.objects.filter(pk=segment.pk).update(member_count=SegmentMembership.objects.filter(segment=segment).count())
    return len(ids)
