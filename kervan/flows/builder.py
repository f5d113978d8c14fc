"""What the builder page shows: a flow's trigger and steps in words, and the draft graph laid out as a path of step
cards with a branching step's two sides next to each other (kervan.flows.forms reads what the page posts)."""

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

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
