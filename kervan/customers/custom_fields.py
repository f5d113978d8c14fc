"""Validation of custom field values against the definitions an Admin made."""

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils.translation import gettext as _

from kervan.core.audit import audit
from kervan.core.errors import KervanError, NotFound, check_choice
from kervan.customers.cache import everything_changed
from kervan.customers.models import CustomFieldDefinition

FieldType = CustomFieldDefinition.FieldType


def clean_custom_fields(
    values: dict, *, definitions: dict[str, CustomFieldDefinition] | None = None, existing: dict | None = None
) -> dict:
    """Return `existing` updated with `values`, each checked and converted to its JSON form.

    A value of None removes the field. Unknown keys and wrong types are refused with the field named.
    """
    if not isinstance(values, dict):
        raise KervanError(_("custom_fields must be an object."), "invalid_custom_fields")
    if definitions is None:
        definitions = {d.key: d for d in CustomFieldDefinition.objects.all()}
    result = dict(existing or {})
    for key, raw in values.items():
        definition = definitions.get(key)
        if definition is None:
            raise KervanError(_("Unknown custom field '%(key)s'.") % {"key": key}, "unknown_custom_field", field=key)
        if raw is None or raw == "":
            if definition.required:
                raise KervanError(_("Custom field '%(key)s' is required.") % {"key": key}, "required", field=key)
            result.pop(key, None)
            continue
        result[key] = _convert(definition, raw)
    missing = [d.key for d in definitions.values() if d.required and d.key not in result]
    if missing:
        raise KervanError(_("Custom field '%(key)s' is required.") % {"key": missing[0]}, "required", field=missing[0])
    return result


def _convert(definition: CustomFieldDefinition, raw):
    key = definition.key
    kind = definition.field_type
    if kind == FieldType.TEXT:
        if not isinstance(raw, (str, int, float)):
            raise KervanError(_("%(key)s: expected text.") % {"key": key}, "invalid_custom_field", field=key)
        text = str(raw).strip()
        if len(text) > 1000:
            raise KervanError(_("%(key)s: at most 1000 characters.") % {"key": key}, "invalid_custom_field", field=key)
        return text
    if kind == FieldType.NUMBER:
        if isinstance(raw, bool):
            raise KervanError(_("%(key)s: expected a number.") % {"key": key}, "invalid_custom_field", field=key)
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation:
            raise KervanError(
                _("%(key)s: '%(value)s' is not a number.") % {"key": key, "value": raw},
                "invalid_custom_field",
                field=key,
            )
        if not number.is_finite():
            raise KervanError(
                _("%(key)s: '%(value)s' is not a number.") % {"key": key, "value": raw},
                "invalid_custom_field",
                field=key,
            )
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == FieldType.DATE:
        try:
            return dt.date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError:
            raise KervanError(
                _("%(key)s: '%(value)s' is not a date (YYYY-MM-DD).") % {"key": key, "value": raw},
                "invalid_custom_field",
                field=key,
            )
    if kind == FieldType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "1", "yes", "evet", "e"):
            return True
        if text in ("false", "0", "no", "hayır", "hayir", "h"):
            return False
        raise KervanError(
            _("%(key)s: '%(value)s' is not yes/no.") % {"key": key, "value": raw}, "invalid_custom_field", field=key
        )
    if kind == FieldType.CHOICE:
        if str(raw) not in definition.choices:
            allowed = ", ".join(definition.choices)
            raise KervanError(
                _("%(key)s: '%(value)s' is not one of %(allowed)s.") % {"key": key, "value": raw, "allowed": allowed},
                "invalid_custom_field",
                field=key,
            )
        return str(raw)
    raise KervanError(_("%(key)s: unsupported type.") % {"key": key}, "invalid_custom_field", field=key)


@transaction.atomic
def custom_field_define(*, actor, key: str, label: str, field_type: str, choices=(), required: bool = False):
    """Create or change a custom field definition (Admin). Existing values are not rewritten."""
    check_choice(field_type, FieldType, field="field_type")
    choices = [str(c).strip() for c in choices if str(c).strip()]
    if field_type == FieldType.CHOICE and not choices:
        raise KervanError(_("A choice field needs at least one choice."), "no_choices", field="choices")
    if field_type != FieldType.CHOICE and choices:
        raise KervanError(_("Only choice fields take choices."), "unexpected_choices", field="choices")
    definition, created = CustomFieldDefinition.objects.update_or_create(
        key=key, defaults={"label": label.strip(), "field_type": field_type, "choices": choices, "required": required}
    )
    audit(
        actor=actor,
        action="create" if created else "update",
        obj=definition,
        changes={"definition": [None, {"key": key, "type": field_type, "required": required}]},
    )
    everything_changed()  # every profile shows the definitions
    return definition


@transaction.atomic
def custom_field_delete(*, actor, key: str) -> None:
    deleted, _per_model = CustomFieldDefinition.objects.filter(key=key).delete()
    if not deleted:
        raise NotFound(_("No custom field '%(key)s'.") % {"key": key}, "custom_field_not_found")
    audit(actor=actor, action="delete", object_type="customers.customfielddefinition", object_id=key)
    everything_changed()
