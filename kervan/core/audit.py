"""The one audit writer. Call it inside the same transaction as the change it records."""

from typing import Any

from django.db import connection, transaction

from kervan.core.models import AuditLog


def audit(
    *,
    actor,
    action: str,
    obj=None,
    object_type: str | None = None,
    object_id: Any = "",
    customer_id: int | None = None,
    changes: dict | None = None,
) -> AuditLog:
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk
    return AuditLog.objects.create(
        actor_user_id=getattr(actor, "user_id", None),
        actor_api_key_id=getattr(actor, "api_key_id", None),
        ip_address=getattr(actor, "ip_address", None),
        action=action,
        object_type=object_type or "",
        object_id=str(object_id or ""),
        customer_id=customer_id,
        changes=_jsonable(changes or {}),
    )


def diff(instance, new_values: dict) -> dict:
    """{"field": [old, new]} for each field whose value changes."""
    return {
        name: [getattr(instance, name), value] for name, value in new_values.items() if getattr(instance, name) != value
    }


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def audit_view(*, actor, obj, customer_id: int) -> AuditLog:
    """Record that `actor` looked at customer data. Every 360 page and API read writes one of these, so on
    PostgreSQL the commit does not wait for the disk flush (synchronous_commit off for this transaction only):
    a crash could lose the last fraction of a second of view records, never a change to customer data."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        return audit(actor=actor, action="view", obj=obj, customer_id=customer_id)
