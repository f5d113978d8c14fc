"""Small predicates the triggers and the engine share: an event's properties against a filter, a flow's profile
condition as a query, a stable percentage for holdouts and random splits."""

import datetime as dt
import hashlib
from typing import Any

from django.db.models import Q

from kervan.segments.compiler import compile_tree
from kervan.segments.evaluator import json_equal
from kervan.segments.selectors import definition_tree


def event_matches(properties: Any, where: list[tuple[str, Any]]) -> bool:
    """The same equality a segment's event filter applies (kervan.segments.evaluator)."""
    props = properties if isinstance(properties, dict) else {}
    return all(json_equal(props.get(name), value) for name, value in where)


def segment_condition(definition: Any, *, now: dt.datetime | None = None) -> Q | None:
    """A segment definition (conditions on the profile, orders, events, segments) as a filter on customers; None
    when there is no condition. Compiled for a few customers at a time (narrow), as the engine asks."""
    if not definition or not definition.get("conditions"):
        return None
    return compile_tree(definition_tree(definition), now=now, narrow=True)


def stable_percent(key: str) -> float:
    """A number in [0, 100) fixed by `key`: the same customer lands in the same holdout every time."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 / 100
