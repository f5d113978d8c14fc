"""The builder's form posts ↔ a definition. Each condition row's inputs are named c-<row>-<part>; the rows' order
in the post is the conditions' order. An "advanced" JSON definition (nested groups) replaces the rows when given."""

import json
import re
import secrets
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.core.errors import KervanError
from kervan.segments.definition import (
    CONSENT_CHANNELS,
    CONSENT_PURPOSES,
    OPS_BY_TYPE,
    PREDICTION_FIELDS,
    PROFILE_FIELDS,
    SALES_CHANNELS,
    SPECIAL_FIELDS,
    STATS_FIELDS,
    WINDOW_FIELDS,
)

ROW = re.compile(r"^c-([a-z0-9]+)-field$")

FIELD_LABELS = {
    "city": gettext_lazy("City"),
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "search": gettext_lazy("Name, email, phone or city"),
    "language": gettext_lazy("Language"),
    "country": gettext_lazy("Country"),
    "time_zone": gettext_lazy("Time zone"),
    "gender": gettext_lazy("Gender"),
    "consent_email": gettext_lazy("Email consent"),
    "consent_sms": gettext_lazy("SMS consent"),
    "consent_call": gettext_lazy("Phone call consent"),
    "consent_push": gettext_lazy("Push consent"),
    "consent_whatsapp": gettext_lazy("WhatsApp consent"),
    "has_email": gettext_lazy("Has an email"),
    "has_phone": gettext_lazy("Has a phone"),
    "birth_date": gettext_lazy("Birth date"),
    "created_at": gettext_lazy("Created"),
    "total_spent": gettext_lazy("Total spent"),
    "order_count": gettext_lazy("Orders"),
    "average_order_value": gettext_lazy("Average order value"),
    "returns_count": gettext_lazy("Returns"),
    "first_order_at": gettext_lazy("First order"),
    "last_order_at": gettext_lazy("Last order"),
    "spent": gettext_lazy("Spent in a period"),
    "orders": gettext_lazy("Orders in a period"),
    "returned_anything": gettext_lazy("Returned anything"),
    "rfm_segment": gettext_lazy("RFM segment"),
    "clv_12m": gettext_lazy("Predicted 12-month value (CLV)"),
    "p_alive": gettext_lazy("Probability of being active"),
    "churn_risk": gettext_lazy("Churn risk"),
    "expected_orders_365": gettext_lazy("Expected orders in the next year"),
    "expected_next_order_at": gettext_lazy("Expected next order"),
    "consent": gettext_lazy("Consent by channel and purpose"),
    "tag": gettext_lazy("Tag"),
    "event": gettext_lazy("Did an event"),
    "bought_product": gettext_lazy("Bought product (id)"),
    "bought_category": gettext_lazy("Bought from category (id)"),
    "sales_channel": gettext_lazy("Ordered through channel"),
    "utm_source": gettext_lazy("Ordered from UTM source"),
    "utm_medium": gettext_lazy("Ordered from UTM medium"),
    "utm_campaign": gettext_lazy("Ordered from UTM campaign"),
    "segment": gettext_lazy("In segment (id)"),
}
OP_LABELS = {
    "eq": gettext_lazy("is"),
    "neq": gettext_lazy("is not"),
    "contains": gettext_lazy("contains"),
    "starts_with": gettext_lazy("starts with"),
    "is_set": gettext_lazy("is set"),
    "is_not_set": gettext_lazy("is empty"),
    "gt": gettext_lazy("more than"),
    "gte": gettext_lazy("at least"),
    "lt": gettext_lazy("less than"),
    "lte": gettext_lazy("at most"),
    "between": gettext_lazy("between"),
    "before": gettext_lazy("before"),
    "after": gettext_lazy("after"),
    "on": gettext_lazy("on"),
    "within_last_days": gettext_lazy("in the last … days"),
    "more_than_days_ago": gettext_lazy("more than … days ago"),
    "within_next_days": gettext_lazy("in the next … days"),
    "is_true": gettext_lazy("yes"),
    "is_false": gettext_lazy("no"),
    "has": gettext_lazy("has"),
    "has_not": gettext_lazy("has not"),
    "at_least": gettext_lazy("at least … times"),
    "at_most": gettext_lazy("at most … times"),
    "none": gettext_lazy("never"),
    "yes": gettext_lazy("yes"),
    "no": gettext_lazy("no"),
    "in": gettext_lazy("is in"),
    "not_in": gettext_lazy("is not in"),
}


CONSENT_VALUE_LABELS = {
    "granted": gettext_lazy("granted"),
    "refused": gettext_lazy("refused"),
    "unknown": gettext_lazy("never asked"),
}
CHANNEL_LABELS = {
    "email": gettext_lazy("Email"),
    "sms": gettext_lazy("SMS"),
    "call": gettext_lazy("Phone call"),
    "push": gettext_lazy("Push"),
    "whatsapp": "WhatsApp",
}
PURPOSE_LABELS = {"marketing": gettext_lazy("Marketing"), "transactional": gettext_lazy("Transactional")}
# Fields whose conditions look at the orders of a period ("in the last … days").
WINDOWED = set(WINDOW_FIELDS) | {k for k, t in SPECIAL_FIELDS.items() if t == "bought"}
RATIO_HINT = gettext_lazy("0–1 or a percentage, e.g. 40%")


def field_choices(custom: dict[str, str]) -> list[tuple[str, str]]:
    keys = list(PROFILE_FIELDS) + list(STATS_FIELDS) + list(WINDOW_FIELDS) + list(SPECIAL_FIELDS)
    keys += list(PREDICTION_FIELDS)
    return [(k, str(FIELD_LABELS.get(k, k))) for k in keys] + [(f"custom.{k}", k) for k in custom]


def field_type(name: str, custom: dict[str, str]) -> str:
    if name in PROFILE_FIELDS:
        return PROFILE_FIELDS[name][0]
    if name in STATS_FIELDS:
        return STATS_FIELDS[name][0]
    if name in WINDOW_FIELDS:
        return WINDOW_FIELDS[name][0]
    if name in PREDICTION_FIELDS:
        return PREDICTION_FIELDS[name][0]
    if name in SPECIAL_FIELDS:
        return SPECIAL_FIELDS[name]
    if name.startswith("custom.") and name[7:] in custom:
        return {"choice": "text"}.get(custom[name[7:]], custom[name[7:]])
    return "folded"


def op_choices(name: str, custom: dict[str, str]) -> list[tuple[str, str]]:
    return [(op, str(OP_LABELS.get(op, op))) for op in OPS_BY_TYPE[field_type(name, custom)]]


def value_choices(name: str, custom: dict[str, str]) -> list[tuple[str, str]]:
    """The values a choice field takes, for a <select> (empty: a free value)."""
    from kervan.customers.models import Gender
    from kervan.orders.models import SalesChannel
    from kervan.predictions.models import Segment as RfmSegment

    kind = field_type(name, custom)
    if kind in ("consent", "consent_ledger"):
        return [(v, str(label)) for v, label in CONSENT_VALUE_LABELS.items()]
    if kind == "choice":
        return [(v or "unknown", str(label)) for v, label in Gender.choices]
    if kind == "rfm":
        return [(v, str(label)) for v, label in RfmSegment.choices]
    if name == "sales_channel":
        labels = dict(SalesChannel.choices)
        return [(v, str(labels.get(v, v))) for v in SALES_CHANNELS]
    return []


def channel_choices() -> list[tuple[str, str]]:
    return [(c, str(CHANNEL_LABELS[c])) for c in CONSENT_CHANNELS]


def purpose_choices() -> list[tuple[str, str]]:
    return [(p, str(PURPOSE_LABELS[p])) for p in CONSENT_PURPOSES]


def _ratio(value: str) -> str:
    """A probability typed as a percentage ("40%", "%40") → "0.4"; anything else as typed (checked later)."""
    if "%" not in value:
        return value
    try:
        return str(Decimal(value.replace("%", "").strip().replace(",", ".")) / 100)
    except InvalidOperation:
        return value


def new_row_id() -> str:
    return secrets.token_hex(4)


def definition_from_post(post) -> dict:
    """The definition the builder's form describes (refusing unreadable JSON in the advanced box)."""
    raw = post.get("definition_json", "").strip()
    if raw:
        try:
            value = json.loads(raw)
        except ValueError:
            raise KervanError(_("The definition is not valid JSON."), "invalid_json", field="definition")
        if not isinstance(value, dict):
            raise KervanError(_("The definition must be a JSON object."), "invalid_json", field="definition")
        return value
    conditions = []
    for key in post:
        m = ROW.match(key)
        if not m:
            continue
        row = m.group(1)

        def get(part: str, row: str = row) -> str:
            return post.get(f"c-{row}-{part}", "").strip()

        condition: dict = {"field": get("field"), "op": get("op")}
        kind = SPECIAL_FIELDS.get(condition["field"])
        if kind == "consent_ledger":
            condition["channel"] = get("channel")
            condition["purpose"] = get("purpose") or "marketing"
        if kind == "event":
            condition["name"] = get("name")
            if condition["op"] != "none":
                condition["count"] = get("count") or "1"
            if get("days"):
                condition["within_days"] = get("days")
            if get("prop") and get("prop_value"):
                condition["where"] = [{"property": get("prop"), "value": get("prop_value")}]
        else:
            if condition["field"] in WINDOWED and get("days"):
                condition["within_days"] = get("days")
            ratio = field_type(condition["field"], {}) == "ratio"
            if condition["op"] == "between":
                condition["value"] = [get("value"), get("value2")]
                if ratio:
                    condition["value"] = [_ratio(v) for v in condition["value"]]
            elif condition["op"] not in ("is_set", "is_not_set", "is_true", "is_false"):
                condition["value"] = _ratio(get("value")) if ratio else get("value")
        conditions.append(condition)
    return {
        "match": post.get("match", "all") if post.get("match") in ("all", "any") else "all",
        "conditions": conditions,
    }


def rows_from_definition(definition: dict) -> list[dict] | None:
    """The builder's rows for a flat definition; None when it has nested groups (edited as JSON)."""
    rows = []
    for c in definition.get("conditions", []) if isinstance(definition, dict) else []:
        if not isinstance(c, dict) or "conditions" in c:
            return None
        if any(c.get(k) not in (None, "") for k in ("from", "to", "since")) or len(c.get("where") or []) > 1:
            return None  # dates, or several property filters: the rows have no inputs for them, edited as JSON
        value = c.get("value", "")
        where = (c.get("where") or [{}])[0] if c.get("where") else {}
        rows.append(
            {
                "id": new_row_id(),
                "field": c.get("field", ""),
                "op": c.get("op", ""),
                "value": value[0] if isinstance(value, list) and value else value,
                "value2": value[1] if isinstance(value, list) and len(value) > 1 else "",
                "name": c.get("name", ""),
                "count": c.get("count", ""),
                "days": c.get("within_days", ""),
                "prop": where.get("property", ""),
                "prop_value": where.get("value", ""),
                "channel": c.get("channel", ""),
                "purpose": c.get("purpose", ""),
            }
        )
    return rows


def row_index(path: str) -> int | None:
    """conditions[3].value → 3 (the top-level row a refusal points at)."""
    m = re.match(r"^conditions\[(\d+)\]", path or "")
    return int(m.group(1)) if m else None
