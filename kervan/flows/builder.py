"""What the builder page shows and reads: a flow's trigger and steps in words, the draft graph laid out as rows with
its branches side by side, and the step, trigger and settings forms turned into the JSON kervan.flows.graph checks.

The forms name their inputs by kind ("wait-hours", "t-event-event") so one form can hold the fields of every kind
and only the chosen kind's are read; builder.js shows just that kind's fieldset."""

import json
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from kervan.core.errors import KervanError
from kervan.flows import graph as flow_graph
from kervan.flows.graph import BRANCHING

WEEKDAYS = [
    gettext_lazy("Mon"),
    gettext_lazy("Tue"),
    gettext_lazy("Wed"),
    gettext_lazy("Thu"),
    gettext_lazy("Fri"),
    gettext_lazy("Sat"),
    gettext_lazy("Sun"),
]
STEP_KINDS = [
    ("wait", gettext_lazy("Wait")),
    ("wait_until", gettext_lazy("Wait until a time of day")),
    ("wait_event", gettext_lazy("Wait for an event")),
    ("split", gettext_lazy("Split (yes / no)")),
    ("send", gettext_lazy("Send a message")),
    ("tag", gettext_lazy("Add or remove tags")),
    ("field", gettext_lazy("Set a custom field")),
    ("coupon", gettext_lazy("Issue a coupon")),
    ("webhook", gettext_lazy("Call a webhook")),
    ("notify", gettext_lazy("Notify staff")),
    ("exit", gettext_lazy("Exit the flow")),
]
SPLIT_KINDS = [
    ("did", gettext_lazy("Did an event since entering")),
    ("profile", gettext_lazy("Profile matches a condition")),
    ("segment", gettext_lazy("Is in a segment")),
    ("random", gettext_lazy("Random (A/B)")),
]
TRIGGER_TYPES = [
    ("event", gettext_lazy("An event happens")),
    ("segment", gettext_lazy("Enters or leaves a segment")),
    ("date", gettext_lazy("A date (birthday, anniversary)")),
    ("order", gettext_lazy("An order status")),
    ("no_order", gettext_lazy("No order for a number of days")),
    ("sunset", gettext_lazy("No engagement for a number of days")),
    ("signup", gettext_lazy("Signs up")),
    ("back_in_stock", gettext_lazy("A subscribed product is back in stock")),
    ("new_product", gettext_lazy("A new product in a subscribed category")),
    ("price_drop", gettext_lazy("Price drop on a viewed or carted product")),
]
CHANNELS = {  # as in "Send email: …"
    "email": gettext_lazy("email"),
    "sms": gettext_lazy("SMS"),
    "push": gettext_lazy("push notification"),
    "whatsapp": gettext_lazy("WhatsApp"),
}
ORDER_STATUSES = [
    ("placed", gettext_lazy("placed")),
    ("shipped", gettext_lazy("shipped")),
    ("delivered", gettext_lazy("delivered")),
    ("cancelled", gettext_lazy("cancelled")),
    ("refunded", gettext_lazy("refunded")),
]


@dataclass
class Names:
    """Names the words need: templates and segments by id."""

    templates: dict[int, str] = field(default_factory=dict)
    segments: dict[int, str] = field(default_factory=dict)


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def duration_words(hours: Any) -> str:
    if not isinstance(hours, int | float) or isinstance(hours, bool):
        return "?"
    if hours >= 24 and hours % 24 == 0:
        days = int(hours // 24)
        return ngettext("%(n)s day", "%(n)s days", days) % {"n": days}
    return ngettext("%(n)s hour", "%(n)s hours", int(hours) if float(hours).is_integer() else 2) % {
        "n": _number_text(hours)
    }


def _where_words(where: Any) -> str:
    if not where or not isinstance(where, list):
        return ""
    parts = [f"{w.get('property')} = {w.get('value')}" for w in where if isinstance(w, dict)]
    return " (" + ", ".join(parts) + ")"


def step_words(step: dict, names: Names) -> str:
    """A step as a sentence: "Wait 23 hours", "Send email: Cart reminder", "Split: did Placed Order since entering?"."""
    kind = step.get("type")
    if kind == "wait":
        return _("Wait %(duration)s") % {"duration": duration_words(step.get("hours"))}
    if kind == "wait_until":
        days = [str(WEEKDAYS[d]) for d in step.get("weekdays") or [] if isinstance(d, int) and 0 <= d < 7]
        if days:
            return _("Wait until %(time)s on %(days)s") % {"time": step.get("time", "?"), "days": ", ".join(days)}
        return _("Wait until %(time)s") % {"time": step.get("time", "?")}
    if kind == "wait_event":
        return _("Wait up to %(duration)s for %(event)s") % {
            "duration": duration_words(step.get("hours")),
            "event": str(step.get("event") or "?") + _where_words(step.get("where")),
        }
    if kind == "split":
        return _split_words(step, names)
    if kind == "send":
        template = names.templates.get(step.get("template"), _("(no template chosen)"))
        channel = CHANNELS.get(step.get("channel") or "email", step.get("channel"))
        return _("Send %(channel)s: %(template)s") % {"channel": channel, "template": template}
    if kind == "tag":
        parts = []
        if step.get("add"):
            parts.append(_("add %(tags)s") % {"tags": ", ".join(step["add"])})
        if step.get("remove"):
            parts.append(_("remove %(tags)s") % {"tags": ", ".join(step["remove"])})
        return _("Tags: %(changes)s") % {"changes": "; ".join(parts) or "?"}
    if kind == "field":
        return _("Set %(field)s to %(value)s") % {"field": step.get("field") or "?", "value": step.get("value", "")}
    if kind == "coupon":
        return _("Issue a coupon %(prefix)s") % {"prefix": (step.get("prefix") or "") + "-…"}
    if kind == "webhook":
        return _("Call webhook %(url)s") % {"url": step.get("url") or "?"}
    if kind == "notify":
        return _("Notify staff: %(emails)s") % {"emails": ", ".join(step.get("emails") or []) or "?"}
    if kind == "exit":
        return _("Exit the flow")
    return _("Unknown step")


def _split_words(step: dict, names: Names) -> str:
    kind = step.get("kind")
    if kind == "did":
        event = str(step.get("event") or "?") + _where_words(step.get("where"))
        return _("Split: did %(event)s since entering?") % {"event": event}
    if kind == "segment":
        return _("Split: in segment %(segment)s?") % {"segment": names.segments.get(step.get("segment"), "?")}
    if kind == "random":
        return _("Split: random, %(percent)s%% yes") % {"percent": _number_text(step.get("percent", "?"))}
    if kind == "profile":
        return _("Split: does the profile match the condition?")
    return _("Split: (choose what it asks)")


def branch_labels(step: dict) -> dict[str, str]:
    if step.get("type") == "wait_event":
        return {"yes": _("Happened"), "no": _("Timed out")}
    return {"yes": _("Yes"), "no": _("No")}


def trigger_words(trigger: dict, names: Names) -> str:
    """What lets a customer in, as a sentence."""
    kind = (trigger or {}).get("type")
    if kind == "event":
        text = _("When %(event)s happens") % {
            "event": str(trigger.get("event") or "?") + _where_words(trigger.get("where"))
        }
        unless = trigger.get("unless")
        if isinstance(unless, dict):
            text += " " + _("and no %(event)s within %(duration)s") % {
                "event": unless.get("event", "?"),
                "duration": duration_words(unless.get("hours")),
            }
        return text
    if kind == "segment":
        segment = names.segments.get(trigger.get("segment"), "?")
        if trigger.get("on") == "exited":
            return _("When a customer leaves segment %(segment)s") % {"segment": segment}
        return _("When a customer enters segment %(segment)s") % {"segment": segment}
    if kind == "date":
        field_name = trigger.get("field") or "?"
        label = {"birthday": _("birthday"), "first_order": _("first-order anniversary")}.get(field_name, field_name)
        days = trigger.get("days_before") or 0
        if days:
            return _("%(days)s days before the %(field)s, at %(at)s") % {
                "days": _number_text(days),
                "field": label,
                "at": trigger.get("at", "10:00"),
            }
        return _("On the %(field)s, at %(at)s") % {"field": label, "at": trigger.get("at", "10:00")}
    if kind == "order":
        status = dict(ORDER_STATUSES).get(trigger.get("status"), "?")
        return _("When an order is %(status)s") % {"status": status}
    if kind == "no_order":
        return _("No order for %(days)s days") % {"days": _number_text(trigger.get("days", "?"))}
    if kind == "sunset":
        return _("No engagement for %(days)s days") % {"days": _number_text(trigger.get("days", "?"))}
    if kind == "signup":
        return _("When a customer signs up")
    if kind == "back_in_stock":
        return _("When a product a customer asked about is back in stock")
    if kind == "new_product":
        return _("When a category a customer follows gets a new product")
    if kind == "price_drop":
        return _("When a product viewed or carted in the last %(days)s days is %(percent)s%% cheaper") % {
            "days": _number_text(trigger.get("days", "?")),
            "percent": _number_text(trigger.get("percent", "?")),
        }
    return _("No trigger yet")


# --- the graph as rows and columns ---------------------------------------------------------------------------------


@dataclass
class Item:
    """One thing on a path: "add" (a + button inserting after `after` on `branch`), "card" (a step, with its
    branches side by side when it branches), "goto" (a step drawn elsewhere), or "end" (a branch that stops)."""

    kind: str
    step_id: str = ""
    after: str = ""
    branch: str = "next"
    number: int = 0
    step: dict = field(default_factory=dict)
    words: str = ""
    counts: dict = field(default_factory=dict)
    branches: list = field(default_factory=list)  # [(key, label, [Item])]
    can_up: bool = False
    can_down: bool = False
    error: str = ""


EMPTY_COUNTS = {"waiting": 0, "passed": 0, "exited": 0, "converted": 0}


def layout(graph: dict, counts: dict, names: Names, *, error_step: str = "", error: str = "") -> tuple[list, list]:
    """The draft graph as a path of items from its start (each step drawn once, in the order a reader meets it;
    a step reached again is a "goto"), and the steps nothing reaches (drawn apart)."""
    steps: dict = (graph or {}).get("steps") or {}
    numbers: dict[str, int] = {}
    links: dict[str, list[tuple[str, str]]] = {}
    for sid, step in steps.items():
        for key in ("next", "yes", "no"):
            target = step.get(key) if isinstance(step, dict) else None
            if target:
                links.setdefault(target, []).append((sid, key))

    def movable(sid: str) -> bool:
        return sid in steps and steps[sid].get("type") not in (*BRANCHING, "exit")

    def card(sid: str) -> Item:
        step = steps[sid]
        numbers[sid] = len(numbers) + 1
        before = links.get(sid, [])
        item = Item(
            kind="card",
            step_id=sid,
            number=numbers[sid],
            step=step,
            words=step_words(step, names),
            counts=counts.get(sid, EMPTY_COUNTS),
            can_up=movable(sid) and len(before) == 1 and before[0][1] == "next",
            # a step two paths reach is not swapped: the other path would change too
            can_down=movable(sid) and movable(step.get("next") or "") and len(links.get(step.get("next"), [])) == 1,
            error=error if sid == error_step else "",
        )
        return item

    def path(sid: str | None, after: str, branch: str) -> list[Item]:
        items = [Item(kind="add", after=after, branch=branch)]
        while sid:
            if sid not in steps:
                items.append(Item(kind="end"))
                return items
            if sid in numbers:
                items.append(Item(kind="goto", step_id=sid, number=numbers[sid]))
                return items
            item = card(sid)
            items.append(item)
            step = steps[sid]
            if step.get("type") in BRANCHING:
                labels = branch_labels(step)
                item.branches = [(key, labels[key], path(step.get(key), sid, key)) for key in ("yes", "no")]
                return items
            if step.get("type") == "exit":
                return items
            items.append(Item(kind="add", after=sid, branch="next"))
            sid = step.get("next")
        items.append(Item(kind="end"))
        return items

    main = path((graph or {}).get("start"), "", "next")
    apart = [card(sid) for sid in steps if sid not in numbers]
    return main, apart


# --- forms -----------------------------------------------------------------------------------------------------------


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
        flow_graph._check_step("probe", probe, {"probe": probe}, lookups)
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
        path = error.field or ""
        if path.startswith("trigger."):
            key = path.split(".", 1)[1].split("[")[0].split(".")[0]
            name = f"t-{trigger.get('type')}-" + {"type": "type", "unless": "unless_event"}.get(key, key)
            if key == "type":
                name = "trigger-type"
            elif path.startswith("trigger.unless.hours"):
                name = f"t-{trigger.get('type')}-unless_hours"
        else:
            name = path.split(".", 1)[1] if "." in path else path
        raise KervanError(short_message(error), error.code, field=name) from None
