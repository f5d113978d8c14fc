"""A flow's definition — trigger, graph of steps, settings — checked before it may go live.

    trigger  {"type": "event", "event": "Started Checkout", "where": [{"property": "...", "value": ...}],
              "unless": {"event": "Placed Order", "hours": 1}}      "and no Placed Order within 1 hour"
             {"type": "segment", "segment": 3, "on": "entered" | "exited"}
             {"type": "date", "field": "birthday" | "first_order" | "custom:<key>", "days_before": 0, "at": "10:00"}
             {"type": "order", "status": "placed" | "shipped" | "delivered" | "cancelled" | "refunded"}
             {"type": "no_order", "days": 90}      {"type": "sunset", "days": 180}      {"type": "signup"}
             {"type": "back_in_stock"}   {"type": "new_product"}   {"type": "price_drop", "percent": 10, "days": 14}
    graph    {"start": "s1", "steps": {"s1": {"type": "wait", "hours": 4, "next": "s2"}, ...}}
    settings {"filters": <a segment definition, re-checked before every step>, "exit_on": ["Placed Order"],
              "goal": "Placed Order", "goal_days": 7, "holdout_percent": 10, "reentry_days": 30 | null (once)}

A step is {"type": ..., "next": <id> | null} or, for the branching kinds, {"yes": <id>, "no": <id>}. A problem is a
KervanError whose `field` is the path of the offending part ("steps.s3.template"), so the builder shows it there.
"""

import re
from typing import Any

from django.utils.translation import gettext as _

from kervan.core.errors import KervanError

EVENT_TRIGGERS = {  # an order status → the canonical event the order actions record for it
    "placed": "Placed Order",
    "shipped": "Shipped Order",
    "delivered": "Delivered Order",
    "cancelled": "Cancelled Order",
    "refunded": "Refunded Order",
}
SEGMENT_EVENTS = {"entered": "Entered Segment", "exited": "Exited Segment"}
SCAN_TRIGGERS = ("signup", "date", "no_order", "sunset", "back_in_stock", "new_product", "price_drop")
TRIGGER_TYPES = ("event", "segment", "order", *SCAN_TRIGGERS)
DATE_FIELDS = ("birthday", "first_order")

BRANCHING = ("split", "wait_event")
STEP_TYPES = (
    "wait",
    "wait_until",
    "wait_event",
    "split",
    "send",
    "tag",
    "field",
    "coupon",
    "webhook",
    "notify",
    "exit",
)
WAITS = ("wait", "wait_until", "wait_event")  # steps that let time pass: a cycle needs one
SPLIT_KINDS = ("profile", "segment", "did", "random")
MAX_STEPS = 60
MAX_WAIT_DAYS = 365
STEP_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def problem(message: str, field: str, code: str = "invalid_flow") -> KervanError:
    return KervanError(f"{field}: {message}", code, field=field)


def trigger_event_names(trigger: dict) -> list[str]:
    """The event names that let a customer in, for the event-driven triggers (none for the scanned ones)."""
    kind = trigger.get("type")
    if kind == "event":
        return [trigger["event"]]
    if kind == "order":
        return [EVENT_TRIGGERS[trigger["status"]]]
    if kind == "segment":
        return [SEGMENT_EVENTS[trigger.get("on", "entered")]]
    return []


def trigger_where(trigger: dict) -> list[tuple[str, Any]]:
    """Property filters the triggering event must match (a segment trigger: its segment's id)."""
    if trigger.get("type") == "segment":
        return [("segment_id", trigger["segment"])]
    return [(w["property"], w["value"]) for w in trigger.get("where", [])]


def exit_events(trigger: dict, settings: dict) -> list[str]:
    """Events that end a run at once: the settings' exit_on, and the trigger's "unless" (an abandoned cart's order)."""
    names = list(settings.get("exit_on") or [])
    unless = trigger.get("unless")
    if unless and unless["event"] not in names:
        names.append(unless["event"])
    return names


def step_delay_hours(trigger: dict) -> float:
    """How long after the trigger the first step runs: the "within N hours" of an "and no X within N hours"."""
    unless = trigger.get("unless")
    return float(unless["hours"]) if unless else 0.0


def check_flow(trigger: Any, graph: Any, settings: Any, *, lookups: "Lookups") -> None:
    """Everything a flow must be before it goes live; raises the first problem found, pointing at its part."""
    check_trigger(trigger, lookups)
    check_graph(graph, lookups)
    check_settings(settings, lookups)


class Lookups:
    """What checking needs from the database, passed in so the checks stay pure (tests give plain dicts)."""

    def __init__(self, *, templates: dict[int, str], segments: set[int], custom_dates: set[str], filters=None):
        self.templates = templates  # id → channel
        self.segments = segments
        self.custom_dates = custom_dates  # keys of date-typed custom fields
        self.filters = filters  # callable(definition) that raises KervanError for a bad segment definition


def _number(raw: dict, key: str, path: str, *, low: float, high: float, required: bool = True) -> float | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise problem(_("a number from %(low)s to %(high)s is needed.") % {"low": low, "high": high}, f"{path}.{key}")
    return float(value)


def _event_name(raw: dict, key: str, path: str) -> str:
    name = raw.get(key)
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise problem(_('name the event (e.g. "Started Checkout").'), f"{path}.{key}")
    return name


def _where(raw: dict, path: str) -> None:
    where = raw.get("where", [])
    if not isinstance(where, list):
        raise problem(_('"where" must be a list.'), f"{path}.where")
    for i, item in enumerate(where):
        wpath = f"{path}.where[{i}]"
        if not isinstance(item, dict) or set(item) != {"property", "value"}:
            raise problem(_('each filter is {"property", "value"}.'), wpath)
        prop = item["property"]
        if not isinstance(prop, str) or not re.fullmatch(r"[A-Za-z0-9_ ]{1,64}", prop):
            raise problem(_("a property name of letters, digits and _."), f"{wpath}.property")
        if isinstance(item["value"], bool) or not isinstance(item["value"], str | int | float):
            raise problem(_("a text or number value is needed."), f"{wpath}.value")


def check_trigger(trigger: Any, lookups: Lookups) -> None:
    path = "trigger"
    if not isinstance(trigger, dict) or trigger.get("type") not in TRIGGER_TYPES:
        raise problem(_("choose what lets a customer in."), f"{path}.type")
    kind = trigger["type"]
    if kind == "event":
        _event_name(trigger, "event", path)
        _where(trigger, path)
        unless = trigger.get("unless")
        if unless is not None:
            if not isinstance(unless, dict):
                raise problem(_('"unless" is {"event", "hours"}.'), f"{path}.unless")
            _event_name(unless, "event", f"{path}.unless")
            _number(unless, "hours", f"{path}.unless", low=0.01, high=24 * 90)
    elif kind == "order":
        if trigger.get("status") not in EVENT_TRIGGERS:
            raise problem(_("choose an order status."), f"{path}.status")
    elif kind == "segment":
        if trigger.get("segment") not in lookups.segments:
            raise problem(_("there is no such segment."), f"{path}.segment", "unknown_segment")
        if trigger.get("on", "entered") not in SEGMENT_EVENTS:
            raise problem(_('"on" is "entered" or "exited".'), f"{path}.on")
    elif kind == "date":
        field = trigger.get("field")
        custom = field[7:] if isinstance(field, str) and field.startswith("custom:") else None
        if field not in DATE_FIELDS and (custom is None or custom not in lookups.custom_dates):
            raise problem(_("there is no such date field."), f"{path}.field", "unknown_field")
        _number(trigger, "days_before", path, low=0, high=60, required=False)
        at = trigger.get("at", "10:00")
        if not isinstance(at, str) or not TIME.match(at):
            raise problem(_("a time of day as HH:MM is needed."), f"{path}.at")
    elif kind in ("no_order", "sunset"):
        _number(trigger, "days", path, low=1, high=3650)
    elif kind == "price_drop":
        _number(trigger, "percent", path, low=1, high=90)
        _number(trigger, "days", path, low=1, high=90)


def check_graph(graph: Any, lookups: Lookups) -> None:
    if not isinstance(graph, dict) or not isinstance(graph.get("steps"), dict) or not graph["steps"]:
        raise problem(_("a flow needs at least one step."), "steps", "empty_flow")
    steps: dict = graph["steps"]
    if len(steps) > MAX_STEPS:
        raise problem(_("a flow can have at most %(n)s steps.") % {"n": MAX_STEPS}, "steps")
    if graph.get("start") not in steps:
        raise problem(_("the flow's first step does not exist."), "start")
    for step_id, step in steps.items():
        if not isinstance(step_id, str) or not STEP_ID.match(step_id):
            raise problem(_("a step id of letters, digits, - and _."), f"steps.{step_id}")
        check_step(step_id, step, steps, lookups)
    reachable = _reachable(graph["start"], steps)
    for step_id in steps:
        if step_id not in reachable:
            raise problem(_("this step can never be reached."), f"steps.{step_id}", "unreachable_step")
    cycle = _cycle_without_wait(steps)
    if cycle:
        raise problem(
            _("these steps loop without a wait: %(steps)s.") % {"steps": " → ".join(cycle)},
            f"steps.{cycle[0]}",
            "cycle_without_wait",
        )


def successors(step: dict) -> list[str]:
    if step.get("type") in BRANCHING:
        return [s for s in (step.get("yes"), step.get("no")) if s]
    return [step["next"]] if step.get("next") else []


def _reachable(start: str, steps: dict) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        step_id = todo.pop()
        if step_id in seen:
            continue
        seen.add(step_id)
        todo.extend(successors(steps[step_id]))
    return seen


def _cycle_without_wait(steps: dict) -> list[str]:
    """A cycle through steps none of which waits (it would run forever in one go), or []."""
    instant = {sid for sid, s in steps.items() if s.get("type") not in WAITS}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(sid: str) -> list[str]:
        state[sid] = 1
        stack.append(sid)
        for nxt in successors(steps[sid]):
            if nxt not in instant:
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[sid] = 2
        return []

    for sid in instant:
        if sid not in state and (found := visit(sid)):
            return found
    return []


def _target(step: dict, key: str, steps: dict, path: str, *, required: bool) -> None:
    target = step.get(key)
    if target is None and not required:
        return
    if target is None:
        raise problem(_("a split needs both its branches."), f"{path}.{key}", "missing_branch")
    if target not in steps:
        raise problem(_("this leads to a step that does not exist."), f"{path}.{key}")


def check_step(step_id: str, step: Any, steps: dict, lookups: Lookups) -> None:
    path = f"steps.{step_id}"
    if not isinstance(step, dict) or step.get("type") not in STEP_TYPES:
        raise problem(_("unknown kind of step."), f"{path}.type")
    kind = step["type"]
    if kind in BRANCHING:
        _target(step, "yes", steps, path, required=True)
        _target(step, "no", steps, path, required=True)
    elif kind == "exit":
        if step.get("next"):
            raise problem(_("nothing follows an exit."), f"{path}.next")
    else:
        _target(step, "next", steps, path, required=False)
    if kind == "wait":
        _number(step, "hours", path, low=0.01, high=24 * MAX_WAIT_DAYS)
    elif kind == "wait_until":
        if not isinstance(step.get("time"), str) or not TIME.match(step["time"]):
            raise problem(_("a time of day as HH:MM is needed."), f"{path}.time")
        days = step.get("weekdays", [])
        if not isinstance(days, list) or any(d not in range(7) for d in days):
            raise problem(_("weekdays are numbers 0 (Monday) to 6 (Sunday)."), f"{path}.weekdays")
    elif kind == "wait_event":
        _event_name(step, "event", path)
        _where(step, path)
        _number(step, "hours", path, low=0.01, high=24 * MAX_WAIT_DAYS)
    elif kind == "split":
        _check_split(step, path, lookups)
    elif kind == "send":
        template = step.get("template")
        if template not in lookups.templates:
            raise problem(_("choose a template that exists."), f"{path}.template", "missing_template")
        if step.get("channel", lookups.templates[template]) != lookups.templates[template]:
            raise problem(_("the template is for another channel."), f"{path}.channel")
    elif kind == "tag":
        for key in ("add", "remove"):
            names = step.get(key, [])
            if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
                raise problem(_("a list of tag names is needed."), f"{path}.{key}")
        if not step.get("add") and not step.get("remove"):
            raise problem(_("name a tag to add or remove."), f"{path}.add")
    elif kind == "field":
        if not isinstance(step.get("field"), str) or not step["field"]:
            raise problem(_("name the custom field to set."), f"{path}.field", "unknown_field")
    elif kind == "coupon":
        prefix = step.get("prefix", "")
        if not isinstance(prefix, str) or not re.fullmatch(r"[A-Z0-9]{0,20}", prefix):
            raise problem(_("a prefix of up to 20 capital letters and digits."), f"{path}.prefix")
    elif kind == "webhook":
        url = step.get("url")
        if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
            raise problem(_("an http(s) address is needed."), f"{path}.url")
    elif kind == "notify":
        emails = step.get("emails")
        if not isinstance(emails, list) or not emails or not all(isinstance(e, str) and "@" in e for e in emails):
            raise problem(_("at least one staff email address is needed."), f"{path}.emails")


def _check_split(step: dict, path: str, lookups: Lookups) -> None:
    kind = step.get("kind")
    if kind not in SPLIT_KINDS:
        raise problem(_("choose what the split asks."), f"{path}.kind")
    if kind == "profile":
        if lookups.filters is None:
            return
        try:
            lookups.filters(step.get("condition"))
        except KervanError as error:
            raise problem(str(error), f"{path}.condition", "invalid_condition") from None
    elif kind == "segment":
        if step.get("segment") not in lookups.segments:
            raise problem(_("there is no such segment."), f"{path}.segment", "unknown_segment")
    elif kind == "did":
        _event_name(step, "event", path)
        _where(step, path)
    elif kind == "random":
        _number(step, "percent", path, low=1, high=99)


def check_settings(settings: Any, lookups: Lookups) -> None:
    if not isinstance(settings, dict):
        raise problem(_("settings must be an object."), "settings")
    filters = settings.get("filters")
    if filters and lookups.filters is not None:
        try:
            lookups.filters(filters)
        except KervanError as error:
            raise problem(str(error), "settings.filters", "invalid_condition") from None
    exit_on = settings.get("exit_on", [])
    if not isinstance(exit_on, list) or not all(isinstance(n, str) and n.strip() for n in exit_on):
        raise problem(_("a list of event names is needed."), "settings.exit_on")
    if settings.get("goal") is not None:
        _event_name(settings, "goal", "settings")
    _number(settings, "goal_days", "settings", low=1, high=90, required=False)
    _number(settings, "holdout_percent", "settings", low=0, high=50, required=False)
    _number(settings, "reentry_days", "settings", low=0, high=3650, required=False)
