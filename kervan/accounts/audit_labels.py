"""The audit log in words, in the UI language: what was done ("Customer updated" / "Müşteri güncellendi"), to what
(the object's name, not `imports.importjob`), and each change as a readable "field: old → new" line, not raw JSON.

One module holds the mapping; an action, object type or field it does not know still reads sensibly (the generic
verb with the model's own verbose name, the field's key) so a new app's audit rows never break the page. A new app
that audits under a new object type adds its name to OBJECT_NAMES (or gives its model a translated verbose_name).
Models are reached through the app registry by label: accounts imports no app above it."""

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import translation

from kervan.accounts.permissions import ACCESS_LABELS, area_keys, area_label

# Object types (AuditLog.object_type: a model's label_lower, or a name for what is not a model) → a name for one.
OBJECT_NAMES: dict[str, Any] = {
    "customers.customer": gettext_lazy("customer"),
    "customers.customernote": gettext_lazy("note"),
    "customers.customfielddefinition": gettext_lazy("custom field"),
    "customers.consentrecord": gettext_lazy("consent"),
    "customers.identity": gettext_lazy("identity"),
    "customers.tag": gettext_lazy("tag"),
    "orders.order": gettext_lazy("order"),
    "orders.return": gettext_lazy("return"),
    "orders.refund": gettext_lazy("refund"),
    "orders.payment": gettext_lazy("payment"),
    "orders.shipment": gettext_lazy("shipment"),
    "catalog.product": gettext_lazy("product"),
    "catalog.variant": gettext_lazy("product variant"),
    "catalog.stockmovement": gettext_lazy("stock movement"),
    "currency.exchangerate": gettext_lazy("exchange rate"),
    "events.trackersite": gettext_lazy("website tracker"),
    "imports.importjob": gettext_lazy("import"),
    "accounts.user": gettext_lazy("user"),
    "accounts.apikey": gettext_lazy("API key"),
    "accounts.rolepolicy": gettext_lazy("security policy"),
    "workspace.savedview": gettext_lazy("saved view"),
    "demo.load": gettext_lazy("demo data"),
}

# What an action did, for an object named by %(object)s.
VERBS: dict[str, Any] = {
    "create": gettext_lazy("%(object)s created"),
    "update": gettext_lazy("%(object)s updated"),
    "delete": gettext_lazy("%(object)s deleted"),
    "view": gettext_lazy("%(object)s viewed"),
    "export": gettext_lazy("%(object)s exported"),
    "merge": gettext_lazy("%(object)s merged"),
    "import": gettext_lazy("%(object)s imported"),
}

# Actions whose words depend on the object, or that are not one of the generic verbs ("app.thing_done" actions).
SPECIFIC: dict[tuple[str, str], Any] = {
    ("view", "customers.customer"): gettext_lazy("Customer profile viewed"),
    ("export", "customers.customer"): gettext_lazy("Customers exported"),
    ("merge", "customers.customer"): gettext_lazy("Customers merged"),
    ("import", "imports.importjob"): gettext_lazy("File import finished"),
    ("import", "demo.load"): gettext_lazy("Demo data loaded"),
    ("create", "customers.consentrecord"): gettext_lazy("Consent recorded"),
    ("create", "customers.customernote"): gettext_lazy("Note added"),
}
ACTIONS: dict[str, Any] = {
    "login": gettext_lazy("Logged in"),
    "customer.tag": gettext_lazy("Customer tagged"),
    "saved_view.save": gettext_lazy("List view saved"),
    "saved_view.delete": gettext_lazy("List view deleted"),
}

# Keys of AuditLog.changes → what to call them.
FIELDS: dict[str, Any] = {
    "name": gettext_lazy("Name"),
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "email": gettext_lazy("Email"),
    "phone": gettext_lazy("Phone"),
    "city": gettext_lazy("City"),
    "country": gettext_lazy("Country"),
    "birth_date": gettext_lazy("Birth date"),
    "gender": gettext_lazy("Gender"),
    "language": gettext_lazy("Language"),
    "time_zone": gettext_lazy("Time zone"),
    "tags": gettext_lazy("Tags"),
    "added": gettext_lazy("added"),
    "custom_fields": gettext_lazy("Custom fields"),
    "identity": gettext_lazy("Identity"),
    "body": gettext_lazy("Note"),
    "merged_customer": gettext_lazy("Merged customer"),
    "merged_into": gettext_lazy("Merged into"),
    "filters": gettext_lazy("Filters"),
    "definition": gettext_lazy("Definition"),
    "key": gettext_lazy("Key"),
    "type": gettext_lazy("Type"),
    "required": gettext_lazy("Required"),
    "order": gettext_lazy("Order"),
    "total": gettext_lazy("Total"),
    "status": gettext_lazy("Status"),
    "return": gettext_lazy("Return"),
    "refund": gettext_lazy("Refund"),
    "reason": gettext_lazy("Reason"),
    "reporting_total": gettext_lazy("Total in the reporting currency"),
    "rate": gettext_lazy("Exchange rate"),
    "allowed_origins": gettext_lazy("Allowed websites"),
    "identity_secret": gettext_lazy("Identity verification secret"),
    "kind": gettext_lazy("Kind"),
    "file": gettext_lazy("File"),
    "rows": gettext_lazy("Rows"),
    "errors": gettext_lazy("Problems"),
    "imported": gettext_lazy("Imported"),
    "updated": gettext_lazy("Updated"),
    "unchanged": gettext_lazy("Unchanged"),
    "skipped": gettext_lazy("Skipped"),
    "failure": gettext_lazy("Why it failed"),
    "seed": gettext_lazy("Seed"),
    "until": gettext_lazy("Until"),
    "username": gettext_lazy("Username"),
    "role": gettext_lazy("Role"),
    "two_factor": gettext_lazy("Two-factor authentication"),
    "reset_by_admin": gettext_lazy("Reset by an Admin"),
    "require_two_factor": gettext_lazy("Two-factor authentication required"),
    "is_active": gettext_lazy("Active"),
    "method": gettext_lazy("Method"),
    "prefix": gettext_lazy("Prefix"),
    "scopes": gettext_lazy("Access"),
    "revoked": gettext_lazy("Revoked"),
    "list": gettext_lazy("List"),
    "query": gettext_lazy("Filters"),
    "shared": gettext_lazy("Shared with the team"),
    "created": gettext_lazy("New"),
    "q": gettext_lazy("Search"),
    "tag": gettext_lazy("Tag"),
    "consent": gettext_lazy("Consent"),
}

# Values that are codes: the field whose choices name them (app_label.Model, field) when the object's own model
# does not have a field of that name.
VALUE_CHOICES: dict[str, tuple[str, str]] = {
    "role": ("accounts.User", "role"),
    "status": ("orders.Order", "status"),
    "gender": ("customers.Customer", "gender"),
    "reason": ("orders.Return", "reason"),
}
SPECIAL_VALUES: dict[str, Any] = {
    "password": gettext_lazy("password"),
    "two_factor": gettext_lazy("two-factor code"),
}


def _model(object_type: str):
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def capfirst(text: str) -> str:
    """The first letter upper-cased the way the UI language does it: Turkish "içe aktarma" → "İçe aktarma"."""
    if not text:
        return text
    first = text[0]
    if (get_language() or "").startswith(("tr", "az")) and first == "i":
        return "İ" + text[1:]
    return first.upper() + text[1:]


def object_name(object_type: str) -> str:
    """One object of this type in the UI language ("customer", "müşteri"); the model's translated verbose name for
    a type not in OBJECT_NAMES, the raw type only when nothing better is known."""
    if object_type in OBJECT_NAMES:
        return str(OBJECT_NAMES[object_type])
    model = _model(object_type)
    if model is not None and isinstance(model._meta.verbose_name, Promise):
        return str(model._meta.verbose_name)
    return object_type


def action_label(action: str, object_type: str) -> str:
    """What happened, as a short sentence: "Order created", "Sipariş oluşturuldu"."""
    if (action, object_type) in SPECIFIC:
        return str(SPECIFIC[(action, object_type)])
    if action in ACTIONS:
        return str(ACTIONS[action])
    if action in VERBS:
        return capfirst(str(VERBS[action]) % {"object": object_name(object_type) if object_type else _("record")})
    return action


def field_label(key: str, object_type: str = "") -> str:
    """A change's key as the UI names it. Dotted consent keys ("consent.email.marketing") read "Consent · Email ·
    Marketing"; an unknown key falls back to the model field's translated verbose name, then to the key."""
    if key in FIELDS:
        return str(FIELDS[key])
    if key.startswith("consent.") and key.count(".") == 2:
        _consent, channel, purpose = key.split(".")
        return " · ".join(
            (
                str(FIELDS["consent"]),
                _choice_label("customers.ConsentRecord", "channel", channel),
                _choice_label("customers.ConsentRecord", "purpose", purpose),
            )
        )
    model = _model(object_type)
    if model is not None:
        try:
            verbose = model._meta.get_field(key).verbose_name
        except Exception:  # noqa: BLE001 - any unknown name: fall back to the key
            verbose = None
        if isinstance(verbose, Promise):
            return capfirst(str(verbose))
    return key


def _choice_label(model_label: str, field_name: str, value: Any) -> str:
    model = _model(model_label) if model_label else None
    if model is not None:
        try:
            choices = dict(model._meta.get_field(field_name).flatchoices)
        except Exception:  # noqa: BLE001
            choices = {}
        if value in choices:
            return str(choices[value])
    return str(value)


def _choices_for(key: str, object_type: str) -> dict:
    model = _model(object_type)
    if model is not None:
        try:
            choices = model._meta.get_field(key).flatchoices
        except Exception:  # noqa: BLE001
            choices = []
        if choices:
            return {value: label for value, label in choices}
    if key == "language":
        return {code: str(name) for code, name in settings.LANGUAGES}
    model_label, field_name = VALUE_CHOICES.get(key, ("", ""))
    if model_label:
        model = _model(model_label)
        if model is not None:
            return {value: label for value, label in model._meta.get_field(field_name).flatchoices}
    return {}


def value_text(value: Any, key: str = "", object_type: str = "") -> str:
    """A recorded value as the UI shows it: yes/no, a choice's label, an access level, nested objects as
    "name: value" pairs; nothing → "—"."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, dict):
        if key == "scopes":
            order = {key: i for i, key in enumerate(area_keys())}  # the role matrix's order (jsonb keeps none)
            ordered = sorted(value.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))
            return ", ".join(f"{area_label(k)}: {ACCESS_LABELS.get(v, v)}" for k, v in ordered)
        return ", ".join(
            f"{field_label(str(k), object_type)}: {value_text(v, str(k), object_type)}" for k, v in value.items()
        )
    if isinstance(value, list):
        return ", ".join(value_text(v, key, object_type) for v in value)
    if isinstance(value, str):
        choices = _choices_for(key, object_type)
        if value in choices:
            return str(choices[value])
        if value in SPECIAL_VALUES and key == "method":
            return str(SPECIAL_VALUES[value])
        if key == "scopes" and value in area_keys():
            return area_label(value)
        if key == "failure":  # a failed import's reason, stored as the catalogue's message id (or not at all)
            translated = translation(get_language() or settings.LANGUAGE_CODE)._catalog.get(value)
            return translated if isinstance(translated, str) else value
    return str(value)


def change_lines(changes: Any, object_type: str = "") -> list[tuple[str, str]]:
    """AuditLog.changes as (field label, text) lines: {"field": [old, new]} reads "old → new" (a value set for the
    first time, just "new"; a value removed, "old → —"); any other value is shown as it is, in words."""
    if not isinstance(changes, dict):
        return [("", value_text(changes, "", object_type))]
    lines = []
    for key, value in changes.items():
        label = field_label(key, object_type)
        if isinstance(value, list) and len(value) == 2 and not isinstance(value[0], (dict, list)):
            old, new = value
            if old is None or old == "":
                text = value_text(new, key, object_type)
            else:
                text = f"{value_text(old, key, object_type)} → {value_text(new, key, object_type)}"
        else:
            text = value_text(value, key, object_type)
        lines.append((label, text))
    return lines


def describe(rows: Iterable[Any]) -> list[dict]:
    """The audit rows of a page, each with `action_label`, `object_name` and `changes` (lines) in the UI language."""
    return [
        {
            "row": row,
            "action_label": action_label(row.action, row.object_type),
            "object_name": capfirst(object_name(row.object_type)) if row.object_type else "",
            "changes": change_lines(row.changes, row.object_type),
        }
        for row in rows
    ]
