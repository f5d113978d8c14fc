"""The builder's forms read into the JSON kervan.flows.graph checks: a step (add / edit), the trigger and the
settings. Inputs are named by kind ("wait-hours", "t-event-event") so one form holds every kind's fields and only the
chosen kind's are read; a refusal names the input it is about, so the page marks it."""

import json
from typing import Any

from django.utils.translation import gettext as _

from kervan.core.errors import KervanError
from kervan.flows import graph as flow_graph
from kervan.flows.graph import BRANCHING


def _text(post, name: str) -> str:
    return (post.get(name) or "").strip()


def _number(post, name: str, *, required: bool = True) -> int | float | None:
    raw = _text(post, name).replace(",", ".")
    if not raw:
        if required:
            raise KervanError(_("Give a number."), "invalid_number", field=name)
        return None
    try:
        value = float(raw)
    except ValueError:
        raise KervanError(_("Give a number."), "invalid_number", field=name) from None
    return int(value) if value.is_integer() else value


def _list(post, name: str) -> list[str]:
    return [part.strip() for part in _text(post, name).replace("\n", ",").split(",") if part.strip()]


def parse_where(raw: str, name: str) -> list[dict]:
    """Lines of "property = value": a number stays a number, "quoted" text stays text, anything else is text."""
    where = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        if "=" not in line:
            raise KervanError(_('Write each filter as "property = value".'), "invalid_where", field=name)
        prop, value = (part.strip() for part in line.split("=", 1))
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        if isinstance(parsed, bool) or not isinstance(parsed, str | int | float):
            parsed = value
        where.append({"property": prop, "value": parsed})
    return where


def where_text(where: Any) -> str:
    if not isinstance(where, list):
        return ""
    return "\n".join(
        f"{w.get('property')} = {json.dumps(w.get('value'), ensure_ascii=False)}" for w in where if isinstance(w, dict)
    )


def _json(post, name: str) -> Any:
    raw = _text(post, name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise KervanError(_("This is not valid JSON."), "invalid_json", field=name) from None


def _id(post, name: str) -> int | None:
    raw = _text(post, name)
    return int(raw) if raw.isdigit() else None


def parse_step(post, template_channels: dict[int, str]) -> dict:
    """The step the add/edit form describes (without its links)."""
    kind = _text(post, "type")
    if kind not in flow_graph.STEP_TYPES:
        raise KervanError(_("Choose a kind of step."), "invalid_step", field="type")
    step: dict[str, Any] = {"type": kind}
    p = f"{kind}-"
    if kind == "wait":
        step["hours"] = _number(post, p + "hours")
    elif kind == "wait_until":
        step["time"] = _text(post, p + "time")
        step["weekdays"] = sorted({int(d) for d in post.getlist(p + "weekdays") if d.isdigit() and int(d) < 7})
    elif kind == "wait_event":
        step["event"] = _text(post, p + "event")
        step["hours"] = _number(post, p + "hours")
        step["where"] = parse_where(_text(post, p + "where"), p + "where")
    elif kind == "split":
        split = _text(post, p + "kind")
        step["kind"] = split
        if split == "did":
            step["event"] = _text(post, p + "event")
            step["where"] = parse_where(_text(post, p + "where"), p + "where")
        elif split == "profile":
            step["condition"] = _json(post, p + "condition")
        elif split == "segment":
            step["segment"] = _id(post, p + "segment")
        elif split == "random":
            step["percent"] = _number(post, p + "percent")
    elif kind == "send":
        template = _id(post, p + "template")
        step["template"] = template
        step["channel"] = template_channels.get(template, "email")
    elif kind == "tag":
        step["add"] = _list(post, p + "add")
        step["remove"] = _list(post, p + "remove")
    elif kind == "field":
        step["field"] = _text(post, p + "field")
        step["value"] = _text(post, p + "value")
    elif kind == "coupon":
        step["prefix"] = _text(post, p + "prefix").upper()
    elif kind == "webhook":
        step["url"] = _text(post, p + "url")
    elif kind == "notify":
        step["emails"] = _list(post, p + "emails")
        step["message"] = _text(post, p + "message")
    return step


def check_step(step: dict, lookups: flow_graph.Lookups) -> None:
    """The checks publishing makes on one step's own settings, made when it is saved: the message points at the
    form's input ("wait-hours"), not at a path in the graph."""
    probe = dict(step)
    if probe["type"] in BRANCHING:
        probe["yes"] = probe["no"] = "probe"
    elif probe["type"] != "exit":
        probe["next"] = None
    try:
        flow_graph.check_step("probe", probe, {"probe": probe}, lookups)
    except KervanError as error:
        key = (error.field or "").split(".")[2] if (error.field or "").count(".") >= 2 else ""
        key = key.split("[")[0]
        name = f"{step['type']}-{key}" if key not in ("", "type") else "type"
        if step["type"] == "split" and key not in ("", "type"):
            name = f"split-{key}"
        raise KervanError(short_message(error), error.code, field=name) from None


def short_message(error: KervanError) -> str:
    """A graph problem's message without the path it starts with ("steps.s3.template: choose …" → "Choose …")."""
    detail = str(error.detail)
    if error.field and detail.startswith(f"{error.field}: "):
        detail = detail[len(error.field) + 2 :]
    return detail[:1].upper() + detail[1:]


def error_step_id(error: KervanError) -> str:
    """The step a publish problem is in ("steps.s3.template" → "s3"), or ""."""
    parts = (error.field or "").split(".")
    return parts[1].split("[")[0] if len(parts) >= 2 and parts[0] == "steps" else ""


def parse_trigger(post) -> dict:
    kind = _text(post, "trigger-type")
    if not kind:
        return {}
    p = f"t-{kind}-"
    trigger: dict[str, Any] = {"type": kind}
    if kind == "event":
        trigger["event"] = _text(post, p + "event")
        where = parse_where(_text(post, p + "where"), p + "where")
        if where:
            trigger["where"] = where
        unless = _text(post, p + "unless_event")
        if unless:
            trigger["unless"] = {"event": unless, "hours": _number(post, p + "unless_hours")}
    elif kind == "segment":
        trigger["segment"] = _id(post, p + "segment")
        trigger["on"] = _text(post, p + "on") or "entered"
    elif kind == "date":
        trigger["field"] = _text(post, p + "field")
        trigger["days_before"] = _number(post, p + "days_before", required=False) or 0
        trigger["at"] = _text(post, p + "at") or "10:00"
    elif kind == "order":
        trigger["status"] = _text(post, p + "status")
    elif kind in ("no_order", "sunset"):
        trigger["days"] = _number(post, p + "days")
    elif kind == "price_drop":
        trigger["percent"] = _number(post, p + "percent")
        trigger["days"] = _number(post, p + "days")
    return trigger


def parse_settings(post, old: dict) -> dict:
    """The settings form over the old settings (keys the form does not show are kept)."""
    settings = dict(old or {})
    filters = _json(post, "filters")
    if filters:
        settings["filters"] = filters
    else:
        settings.pop("filters", None)
    settings["exit_on"] = _list(post, "exit_on")
    goal = _text(post, "goal")
    if goal:
        settings["goal"] = goal
    else:
        settings.pop("goal", None)
    for key in ("goal_days", "holdout_percent"):
        value = _number(post, key, required=False)
        if value is None:
            settings.pop(key, None)
        else:
            settings[key] = value
    settings["reentry_days"] = _number(post, "reentry_days", required=False)
    return settings


def check_trigger_and_settings(trigger: dict, settings: dict, lookups: flow_graph.Lookups) -> None:
    """Refuse what could never go live, pointing at the form's input."""
    try:
        if trigger:
            flow_graph.check_trigger(trigger, lookups)
        flow_graph.check_settings(settings, lookups)
    except KervanError as error:
        raise KervanError(short_message(error), error.code, field=settings_input(error.field or "", trigger)) from None


def settings_input(path: str, trigger: dict) -> str:
    """The side form's input a problem's path points at: "trigger.unless.hours" → "t-event-unless_hours",
    "settings.goal_days" → "goal_days"."""
    if path == "trigger.type":
        return "trigger-type"
    if path.startswith("trigger."):
        key = path.split(".", 1)[1].split("[")[0].split(".")[0]
        if path.startswith("trigger.unless.hours"):
            key = "unless_hours"
        elif key == "unless":
            key = "unless_event"
        return f"t-{trigger.get('type')}-{key}"
    return path.split(".", 1)[1] if "." in path else path
