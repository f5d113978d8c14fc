"""A segment definition: JSON the builder and the API send, checked here into a tree the compiler and the Python
evaluator both read, so the two cannot disagree on what a definition means.

    {"match": "all" | "any", "conditions": [condition or group, ...]}

A condition names a `field`; most take an `op` and a `value`:

    {"field": "city", "op": "eq", "value": "İstanbul"}                 # Turkish-blind: "istanbul", "ISTANBUL" too
    {"field": "total_spent", "op": "gt", "value": "2000"}
    {"field": "last_order_at", "op": "within_last_days", "value": 30}    # relative: moves with the clock
    {"field": "birth_date", "op": "between", "value": ["1990-01-01", "1999-12-31"]}
    {"field": "tag", "op": "has", "value": "vip"}
    {"field": "custom.shoe_size", "op": "gte", "value": 40}
    {"field": "event", "name": "Viewed Product", "op": "at_least", "count": 1, "within_days": 30,
     "where": [{"property": "category", "value": "Ayakkabı"}]}        # or "from"/"to" (YYYY-MM-DD) or "since"
    {"field": "bought_product", "op": "yes", "value": 12, "within_days": 180}   # bought_category, sales_channel too
    {"field": "utm_source", "op": "yes", "value": "instagram", "within_days": 30}  # utm_medium, utm_campaign too
    {"field": "spent", "op": "gt", "value": "2000", "within_days": 180}   # orders' net totals in the window
    {"field": "orders", "op": "gte", "value": 3, "within_days": 180}      # orders placed in the window
    {"field": "returned_anything", "op": "is_true"}                       # a return was recorded for an order
    {"field": "consent", "channel": "sms", "purpose": "transactional", "op": "eq", "value": "granted"}
    {"field": "rfm_segment", "op": "eq", "value": "champions"}            # predictions: clv_12m, p_alive, …
    {"field": "expected_next_order_at", "op": "within_next_days", "value": 14}
    {"field": "segment", "op": "in", "value": 3}                          # or "not_in"

A bad definition raises KervanError(detail, code, field=<path>) naming the offending part ("conditions[1].value").
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from kervan.core.errors import KervanError

MAX_CONDITIONS = 100
MAX_DEPTH = 5
MAX_DAYS = 36_600
MAX_COUNT = 1_000_000

TEXT_OPS = ("eq", "neq", "contains", "starts_with", "is_set", "is_not_set")
CHOICE_OPS = ("eq", "neq")
NUMBER_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "between")
DATE_OPS = ("before", "after", "on", "between", "within_last_days", "more_than_days_ago", "is_set", "is_not_set")
BOOL_OPS = ("is_true", "is_false")
FUTURE_DATE_OPS = ("before", "after", "on", "between", "within_next_days", "is_set", "is_not_set")
CONSENT_VALUES = ("granted", "refused", "unknown")
CONSENT_CHANNELS = ("email", "sms", "call", "push", "whatsapp")  # ConsentRecord.Channel
CONSENT_PURPOSES = ("marketing", "transactional")  # ConsentRecord.Purpose (a test keeps both lists in step)
GENDER_VALUES = ("female", "male", "other", "unknown")
SALES_CHANNELS = ("web", "mobile_app", "marketplace", "pos", "phone")

# field → (type, column or None). Types: folded (Turkish-blind text), choice, words, bool, date, datetime, int, money.
PROFILE_FIELDS: dict[str, tuple[str, str]] = {
    "city": ("folded", "city"),
    "first_name": ("folded", "first_name"),
    "last_name": ("folded", "last_name"),
    "search": ("words", "search_key"),
    "language": ("code", "language"),
    "country": ("code", "country"),
    "time_zone": ("code", "time_zone"),
    "gender": ("choice", "gender"),
    "consent_email": ("consent", "consent_email"),
    "consent_sms": ("consent", "consent_sms"),
    "consent_call": ("consent", "consent_call"),
    "consent_push": ("consent", "consent_push"),
    "consent_whatsapp": ("consent", "consent_whatsapp"),
    "has_email": ("bool", "email"),
    "has_phone": ("bool", "phone"),
    "birth_date": ("date", "birth_date"),
    "created_at": ("datetime", "created_at"),
}
STATS_FIELDS: dict[str, tuple[str, str]] = {
    "total_spent": ("money", "total_spent"),
    "order_count": ("int", "order_count"),
    "average_order_value": ("money", "average_order_value"),
    "returns_count": ("int", "returns_count"),
    "first_order_at": ("datetime", "first_order_at"),
    "last_order_at": ("datetime", "last_order_at"),
}
# Read from kervan.predictions' CustomerPrediction (one row per customer who ordered, refreshed in bulk); a customer
# without a row matches no prediction condition, like a customer without stats.
PREDICTION_FIELDS: dict[str, tuple[str, str]] = {
    "rfm_segment": ("rfm", "rfm_segment"),
    "clv_12m": ("money", "clv_12m"),
    "p_alive": ("ratio", "p_alive"),
    "churn_risk": ("ratio", "churn_risk"),
    "expected_orders_365": ("float", "expected_orders_365"),
    "expected_next_order_at": ("future", "expected_next_order_at"),
}
# Aggregates of the orders placed in a window (or ever): "spent" is the sum of their net totals in the reporting
# currency (reporting_total - reporting_refunded), "orders" their count; cancelled orders and orders still awaiting
# their exchange rate are left out, as CustomerStats counts them. No order in the window: 0.
WINDOW_FIELDS: dict[str, tuple[str, str]] = {
    "spent": ("money", "spent"),
    "orders": ("int", "orders"),
}
OPS_BY_TYPE = {
    "folded": TEXT_OPS,
    "code": CHOICE_OPS,
    "choice": CHOICE_OPS,
    "consent": CHOICE_OPS,
    "rfm": CHOICE_OPS,
    "ratio": NUMBER_OPS,
    "float": NUMBER_OPS,
    "future": FUTURE_DATE_OPS,
    "returned": BOOL_OPS,
    "consent_ledger": CHOICE_OPS,
    "words": ("contains",),
    "bool": BOOL_OPS,
    "date": DATE_OPS,
    "datetime": DATE_OPS,
    "int": NUMBER_OPS,
    "money": NUMBER_OPS,
    "number": NUMBER_OPS + ("is_set", "is_not_set"),
    "text": ("eq", "neq", "is_set", "is_not_set"),
    "boolean": BOOL_OPS + ("is_set", "is_not_set"),
    "tag": ("has", "has_not"),
    "event": ("at_least", "at_most", "none"),
    "bought": ("yes", "no"),
    "segment": ("in", "not_in"),
}
SPECIAL_FIELDS = {
    "tag": "tag",
    "event": "event",
    "bought_product": "bought",
    "bought_category": "bought",
    "sales_channel": "bought",
    "utm_source": "bought",
    "utm_medium": "bought",
    "utm_campaign": "bought",
    "returned_anything": "returned",
    "consent": "consent_ledger",
    "segment": "segment",
}
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")


def rfm_segments() -> tuple[str, ...]:
    from kervan.predictions.models import Segment as RfmSegment

    return tuple(RfmSegment.values)


@dataclass
class Leaf:
    path: str  # "conditions[0]" — where it came from, for messages and the "why" view
    field: str
    kind: str  # profile | stats | custom | tag | event | bought | window | returned | consent | prediction | segment
    type: str
    op: str
    value: Any = None
    column: str = ""
    # event / bought windows: relative days, or absolute [from, to] days (either open)
    within_days: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    count: int = 1
    where: list[tuple[str, Any]] = field(default_factory=list)
    name: str = ""  # the event name
    channel: str = ""  # consent: the channel and purpose
    purpose: str = ""

    @property
    def relative(self) -> bool:
        return self.within_days is not None or self.op in ("within_last_days", "more_than_days_ago", "within_next_days")


@dataclass
class Group:
    path: str
    match: str  # all | any
    children: list = field(default_factory=list)


def _err(message: str, path: str, code: str = "invalid_definition") -> KervanError:
    return KervanError(f"{path}: {message}", code, field=path)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def parse_definition(definition: Any, *, custom_fields: dict[str, str] | None = None, segment_lookup=None) -> Group:
    """Check `definition` and return its tree. `custom_fields` is {key: type} (CustomFieldDefinition); `segment_lookup`
    (segment id → its definition, or None if there is no such segment) checks references and finds cycles."""
    if custom_fields is None:
        from kervan.customers.models import CustomFieldDefinition

        custom_fields = dict(CustomFieldDefinition.objects.values_list("key", "field_type"))
    if _has_nul(definition):  # no database stores a NUL character in text
        raise _err(_("the definition contains a NUL character."), "definition", "invalid_value")
    counter = [0]
    return _group(definition, "definition", custom_fields, segment_lookup, counter, 0, root=True)


def _group(raw, path, custom, lookup, counter, depth, root=False) -> Group:
    if not isinstance(raw, dict):
        raise _err(_('a group must be an object with "match" and "conditions".'), path)
    if depth > MAX_DEPTH:
        raise _err(_("groups are nested too deeply (at most %(n)s levels).") % {"n": MAX_DEPTH}, path)
    unknown = set(raw) - {"match", "conditions"}
    if unknown:
        raise _err(_('unknown key "%(key)s".') % {"key": sorted(unknown)[0]}, path)
    match = raw.get("match", "all")
    prefix = "" if root else f"{path}."
    if match not in ("all", "any"):
        raise _err(_('"match" must be "all" or "any".'), f"{prefix}match")
    conditions = raw.get("conditions", [])
    if not isinstance(conditions, list):
        raise _err(_('"conditions" must be a list.'), f"{prefix}conditions")
    group = Group(path=path if not root else "", match=match)
    for i, item in enumerate(conditions):
        sub = f"{prefix}conditions[{i}]"
        counter[0] += 1
        if counter[0] > MAX_CONDITIONS:
            raise _err(_("too many conditions (at most %(n)s).") % {"n": MAX_CONDITIONS}, sub)
        if isinstance(item, dict) and "conditions" in item:
            group.children.append(_group(item, sub, custom, lookup, counter, depth + 1))
        else:
            group.children.append(_leaf(item, sub, custom, lookup))
    return group


def _leaf(raw, path, custom, lookup) -> Leaf:
    if not isinstance(raw, dict):
        raise _err(_("a condition must be an object."), path)
    name = raw.get("field")
    if not isinstance(name, str) or not name:
        raise _err(_('a condition needs a "field".'), f"{path}.field")
    if name in PROFILE_FIELDS:
        type_, column = PROFILE_FIELDS[name]
        kind = "profile"
    elif name in STATS_FIELDS:
        type_, column = STATS_FIELDS[name]
        kind = "stats"
    elif name in PREDICTION_FIELDS:
        type_, column = PREDICTION_FIELDS[name]
        kind = "prediction"
    elif name in WINDOW_FIELDS:
        type_, column = WINDOW_FIELDS[name]
        kind = "window"
    elif name.startswith("custom."):
        key = name[len("custom.") :]
        if key not in custom:
            raise _err(_('there is no custom field "%(key)s".') % {"key": key}, f"{path}.field", "unknown_field")
        type_ = {"choice": "text"}.get(custom[key], custom[key])
        column = key
        kind = "custom"
    elif name in SPECIAL_FIELDS:
        type_ = SPECIAL_FIELDS[name]
        column = ""
        kind = {"returned": "returned", "consent_ledger": "consent"}.get(type_, type_)
    else:
        raise _err(_('unknown field "%(field)s".') % {"field": name}, f"{path}.field", "unknown_field")
    op = raw.get("op", {"event": "at_least", "bought": "yes", "tag": "has", "segment": "in"}.get(type_))
    ops = OPS_BY_TYPE[type_]
    if op not in ops:
        raise _err(
            _('the operator "%(op)s" does not fit this field; use one of: %(ops)s.')
            % {"op": op, "ops": ", ".join(ops)},
            f"{path}.op",
            "invalid_operator",
        )
    allowed = {"field", "op", "value"}
    if type_ == "event":
        allowed = {"field", "op", "name", "count", "within_days", "from", "to", "since", "where"}
    elif type_ == "bought" or kind == "window":
        allowed |= {"within_days", "from", "to", "since"}
    elif type_ == "consent_ledger":
        allowed |= {"channel", "purpose"}
    unknown = set(raw) - allowed
    if unknown:
        raise _err(_('unknown key "%(key)s".') % {"key": sorted(unknown)[0]}, path)
    leaf = Leaf(path=path, field=name, kind=kind, type=type_, op=op, column=column)
    vpath = f"{path}.value"
    value = raw.get("value")
    if type_ == "event":
        _event(leaf, raw, path)
        return leaf
    if type_ == "bought":
        _window(leaf, raw, path)
        if name == "sales_channel":
            if value not in SALES_CHANNELS:
                raise _err(_("choose one of: %(v)s.") % {"v": ", ".join(SALES_CHANNELS)}, vpath, "invalid_value")
            leaf.value = value
        elif name in UTM_FIELDS:  # matched exactly, as the shop's links send it
            if not isinstance(value, str) or not value.strip() or len(value.strip()) > 100:
                raise _err(_("a text value is needed (at most 100 characters)."), vpath, "invalid_value")
            leaf.value = value.strip()
        else:
            leaf.value = _int(value, vpath, low=1, high=2**62)
        return leaf
    if kind == "window":
        _window(leaf, raw, path)
    if type_ == "consent_ledger":
        _consent(leaf, raw, path)
    if type_ == "segment":
        sid = _int(value, vpath, low=1, high=2**62)
        if lookup is not None:
            _check_reference(sid, vpath, lookup)
        leaf.value = sid
        return leaf
    if op in ("is_set", "is_not_set", "is_true", "is_false"):
        if value not in (None, "", True):
            raise _err(_("this operator takes no value."), vpath, "invalid_value")
        return leaf
    leaf.value = _value(type_, op, value, vpath)
    return leaf


def _check_reference(sid: int, vpath: str, lookup) -> None:
    """Refuse a reference to a missing segment, or one whose definition leads back to the segment being saved."""
    seen: set[int] = set()
    todo = [sid]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        definition = lookup(current)
        if definition is None:
            if current == sid:
                raise _err(_("there is no segment %(id)s.") % {"id": sid}, vpath, "unknown_segment")
            continue
        if definition == "self":
            raise _err(_("this would make segments depend on each other in a cycle."), vpath, "segment_cycle")
        todo.extend(referenced_segments(definition))


def referenced_segments(definition: Any) -> list[int]:
    """The segment ids a raw definition refers to (best effort on unchecked input)."""
    found = []
    if isinstance(definition, dict):
        if definition.get("field") == "segment" and isinstance(definition.get("value"), int):
            found.append(definition["value"])
        for item in definition.get("conditions", []) if isinstance(definition.get("conditions"), list) else []:
            found.extend(referenced_segments(item))
    return found


def _int(value, path, *, low=0, high=MAX_COUNT) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _err(_("a whole number is needed."), path, "invalid_value")
    try:
        number = int(value)
    except ValueError:
        raise _err(_("a whole number is needed."), path, "invalid_value")
    if not low <= number <= high:
        raise _err(_("must be between %(low)s and %(high)s.") % {"low": low, "high": high}, path, "invalid_value")
    return number


def _decimal(value, path) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _err(_("a number is needed."), path, "invalid_value")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _err(_("a number is needed."), path, "invalid_value")
    if not number.is_finite() or abs(number) >= Decimal("1e12"):
        raise _err(_("a number is needed."), path, "invalid_value")
    return number


def _date(value, path) -> dt.date:
    try:
        day = dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None or not 1900 <= day.year <= 2200:
        raise _err(_("a date written YYYY-MM-DD is needed."), path, "invalid_value")
    return day


def _value(type_: str, op: str, value, path: str):
    if type_ in ("folded", "code", "text", "words"):
        if not isinstance(value, str) or not value.strip():
            raise _err(_("a text value is needed."), path, "invalid_value")
        return value.strip()
    if type_ in ("choice", "consent", "consent_ledger", "rfm"):
        values = {"choice": GENDER_VALUES, "rfm": rfm_segments()}.get(type_, CONSENT_VALUES)
        if value not in values:
            raise _err(_("choose one of: %(v)s.") % {"v": ", ".join(values)}, path, "invalid_value")
        return value
    if type_ in ("int", "money", "number", "ratio", "float"):
        if op == "between":
            pair = _pair(value, path)
            low, high = (_decimal(v, f"{path}[{i}]") for i, v in enumerate(pair))
            if high < low:
                raise _err(_("the range ends before it starts."), path, "invalid_range")
            return (low, high)
        return _decimal(value, path)
    if type_ in ("date", "datetime", "future"):
        if op in ("within_last_days", "more_than_days_ago", "within_next_days"):
            return _int(value, path, low=0, high=MAX_DAYS)
        if op == "between":
            pair = _pair(value, path)
            low, high = (_date(v, f"{path}[{i}]") for i, v in enumerate(pair))
            if high < low:
                raise _err(_("the date range ends before it starts."), path, "invalid_range")
            return (low, high)
        return _date(value, path)
    if type_ == "tag":
        if not isinstance(value, str) or not value.strip():
            raise _err(_("a tag name is needed."), path, "invalid_value")
        return value.strip()
    raise _err(_("this value does not fit the field."), path, "invalid_value")  # pragma: no cover


def _pair(value, path):
    if not isinstance(value, list) or len(value) != 2:
        raise _err(_("two values are needed: [from, to]."), path, "invalid_value")
    return value


def _window(leaf: Leaf, raw: dict, path: str) -> None:
    has_days = raw.get("within_days") not in (None, "")
    has_dates = any(raw.get(k) not in (None, "") for k in ("from", "to", "since"))
    if has_days and has_dates:
        raise _err(_("give either a number of days or dates, not both."), f"{path}.within_days", "invalid_range")
    if has_days:
        leaf.within_days = _int(raw["within_days"], f"{path}.within_days", low=1, high=MAX_DAYS)
        return
    if raw.get("since") not in (None, ""):
        if raw.get("from") not in (None, ""):
            raise _err(_('give either "since" or "from".'), f"{path}.since", "invalid_range")
        leaf.date_from = _date(raw["since"], f"{path}.since")
    if raw.get("from") not in (None, ""):
        leaf.date_from = _date(raw["from"], f"{path}.from")
    if raw.get("to") not in (None, ""):
        leaf.date_to = _date(raw["to"], f"{path}.to")
    if leaf.date_from and leaf.date_to and leaf.date_to < leaf.date_from:
        raise _err(_("the date range ends before it starts."), f"{path}.to", "invalid_range")


def _consent(leaf: Leaf, raw: dict, path: str) -> None:
    """Consent for a channel and purpose. Marketing consent is read from the customer's cached consent_<channel>
    column (the marketing state of the address messages go to now, kept from the ledger): the leaf becomes that
    profile condition. Other purposes are read from the ledger (ConsentRecord), with the same meaning as
    customers.consent_state: the latest record for the customer's current address decides, a refusal on a tie."""
    channel, purpose = raw.get("channel"), raw.get("purpose", "marketing")
    if channel not in CONSENT_CHANNELS:
        raise _err(_("choose one of: %(v)s.") % {"v": ", ".join(CONSENT_CHANNELS)}, f"{path}.channel", "invalid_value")
    if purpose not in CONSENT_PURPOSES:
        raise _err(_("choose one of: %(v)s.") % {"v": ", ".join(CONSENT_PURPOSES)}, f"{path}.purpose", "invalid_value")
    leaf.channel, leaf.purpose = channel, purpose
    if purpose == "marketing":
        leaf.kind, leaf.type, leaf.column = "profile", "consent", f"consent_{channel}"


def _event(leaf: Leaf, raw: dict, path: str) -> None:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise _err(_('name the event (e.g. "Viewed Product").'), f"{path}.name", "invalid_value")
    leaf.name = name.strip()
    if leaf.op == "none":
        if raw.get("count") not in (None, "", 0):
            raise _err(_('"did not do" takes no count.'), f"{path}.count", "invalid_value")
        leaf.count = 0
    else:
        leaf.count = _int(raw.get("count", 1), f"{path}.count", low=0 if leaf.op == "at_most" else 1)
    _window(leaf, raw, path)
    where = raw.get("where", [])
    if not isinstance(where, list):
        raise _err(_('"where" must be a list.'), f"{path}.where", "invalid_value")
    for i, item in enumerate(where):
        wpath = f"{path}.where[{i}]"
        if not isinstance(item, dict) or set(item) != {"property", "value"}:
            raise _err(_('each filter is {"property", "value"}.'), wpath, "invalid_value")
        prop = item["property"]
        if not isinstance(prop, str) or not prop.replace("_", "").replace(" ", "").isalnum() or len(prop) > 64:
            raise _err(_("a property name of letters, digits and _."), f"{wpath}.property", "invalid_value")
        value = item["value"]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _err(_("a text or number value is needed."), f"{wpath}.value", "invalid_value")
        leaf.where.append((prop, value))


def leaves(node) -> list[Leaf]:
    if isinstance(node, Leaf):
        return [node]
    return [leaf for child in node.children for leaf in leaves(child)]


def is_relative(tree: Group) -> bool:
    """Whether membership can change with time alone (a condition relative to now)."""
    return any(leaf.relative for leaf in leaves(tree))
