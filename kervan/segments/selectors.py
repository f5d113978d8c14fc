"""Reads of segments: the list, one segment, a live preview (count + sample) of a definition being edited, the
"why is this customer in / not in" explanation, a customer's segments."""

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.errors import NotFound
from kervan.customers.models import Customer
from kervan.segments.actions import check_definition
from kervan.segments.compiler import Context, compile_tree, leaf_q
from kervan.segments.definition import Group, Leaf
from kervan.segments.models import Segment, SegmentMembership

SAMPLE = 10


def segment_list(*, actor: Actor) -> QuerySet[Segment]:
    return actor.scope("segments", Segment.objects.all())


def segment_get(*, actor: Actor, segment_id) -> Segment:
    try:
        return actor.scope("segments", Segment.objects.all()).get(pk=int(segment_id))
    except (Segment.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("Segment %(id)s does not exist.") % {"id": segment_id}, "segment_not_found")


@dataclass
class Preview:
    count: int
    sample: list[Customer]


def segment_preview(*, actor: Actor, definition, segment_id: int | None = None) -> Preview:
    """How many customers `definition` matches now, and the newest few of them (invalid: KervanError with the path)."""
    actor.require("segments", "read")
    tree = check_definition(definition, segment_id=segment_id)
    qs = actor.scope("customers", Customer.objects.active()) if actor.can("customers") else Customer.objects.active()
    qs = qs.filter(compile_tree(tree))
    sample = list(qs.order_by("-created_at", "-id")[:SAMPLE]) if actor.can("customers") else []
    return Preview(count=qs.count(), sample=sample)


@dataclass
class Reason:
    path: str
    text: str
    held: bool
    depth: int


def segment_explain(
    *, actor: Actor, definition, customer_id: int, segment_id: int | None = None
) -> tuple[bool, list[Reason]]:
    """Each condition of `definition` for one customer: whether it held (each checked by the same compiled SQL)."""
    actor.require("segments", "read")
    actor.require("customers", "read")
    tree = check_definition(definition, segment_id=segment_id)
    one = Customer.objects.active().filter(pk=customer_id)
    if not one.exists():
        raise NotFound(_("Customer %(id)s does not exist.") % {"id": customer_id}, "customer_not_found")
    ctx = Context(clock.now(), narrow=True)  # one customer: aggregates per customer, not for everyone
    reasons: list[Reason] = []

    def walk(node, depth: int) -> bool:
        if isinstance(node, Leaf):
            held = one.filter(leaf_q(node, ctx)).exists()
            reasons.append(Reason(node.path, describe(node), held, depth))
            return held
        index = len(reasons)
        results = [walk(child, depth + 1) for child in node.children]
        held = True if not results else (all(results) if node.match == "all" else any(results))
        label = _("All of these") if node.match == "all" else _("Any of these")
        reasons.insert(index, Reason(node.path or "definition", label, held, depth))
        return held

    inside = walk(tree, 0)
    return inside, reasons


def describe(leaf: Leaf) -> str:
    """A short readable line for a condition (the builder shows the full form)."""
    parts = [leaf.field.replace("_", " ")]
    if leaf.channel:  # consent: which channel, for what
        parts.append(f"{leaf.channel} ({leaf.purpose})" if leaf.purpose else leaf.channel)
    if leaf.kind == "event":
        parts = [leaf.name, leaf.op.replace("_", " ")]
        if leaf.op != "none":
            parts.append(str(leaf.count))
        if leaf.where:
            parts.append(", ".join(f"{p} = {v}" for p, v in leaf.where))
    else:
        parts.append(leaf.op.replace("_", " "))
        if leaf.value is not None:
            value = leaf.value
            parts.append(" – ".join(str(v) for v in value) if isinstance(value, tuple) else str(value))
    if leaf.within_days:
        parts.append(_("in the last %(days)s days") % {"days": leaf.within_days})
    if leaf.date_from or leaf.date_to:
        parts.append(f"{leaf.date_from or '…'} – {leaf.date_to or '…'}")
    return " ".join(parts)


def customer_segments(*, customer_id: int) -> list[Segment]:
    return list(
        Segment.objects.filter(
            pk__in=SegmentMembership.objects.filter(customer_id=customer_id).values("segment_id")
        ).order_by("name")
    )


def definition_tree(definition) -> Group:
    return check_definition(definition)
