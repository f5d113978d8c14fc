"""The one audit writer. Call it inside the same transaction as the change it records.

Recording a change to a customer's data (customer_id given) also announces it (kervan.core.changes: the cached 360
is forgotten, segments re-evaluate the customer), so no write site announces its changes by hand."""

from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import Model

from kervan.core.changes import customers_changed
from kervan.core.models import AuditLog


def audit(
    *,
    actor: object,
    action: str,
    obj: Model | None = None,
    object_type: str | None = None,
    object_id: Any = "",
    customer_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditLog:
    if action not in AuditLog.Action.values:
        # SQLite would store any text; PostgreSQL refuses one longer than the column: the same answer on both.
        raise ValueError(f"Unknown audit action {action!r}: one of {', '.join(AuditLog.Action.values)}.")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk
    if customer_id is not None and action != "view":
        # Every change to a customer's data is audited here, in the writer's transaction: so this is where it is
        # announced (the cached 360 forgotten, again once the transaction commits; segments' re-evaluation queued).
        customers_changed([customer_id])
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


def diff(instance: object, new_values: dict[str, Any]) -> dict[str, list[Any]]:
    """{"field": [old, new]} for each field whose value changes."""
    return {
        name: [getattr(instance, name), value] for name, value in new_values.items() if getattr(instance, name) != value
    }


ERASED = "[erased]"


def audit_redact(*, customer_ids: Iterable[int]) -> list[str]:
    """Erase the values these customers' audit rows recorded, keeping what was done, when, by whom and to which
    fields (a KVKK/GDPR erasure, kervan.customers.privacy: the log must not keep what was erased). Rows that hold no
    personal data are left: views, exports (their section names) and the erasures themselves. Returns the fields'
    names, once each, if anything changed (nothing on a second call)."""
    rows = (
        AuditLog.objects.filter(customer_id__in=list(customer_ids))
        .exclude(action__in=(AuditLog.Action.VIEW, AuditLog.Action.EXPORT))
        .exclude(changes__has_key="anonymised")
    )
    redacted = False
    for row in rows.only("pk", "changes").iterator():
        names_only = _names_only(row.changes)
        if names_only != row.changes:
            row.changes = names_only
            row.save(update_fields=["changes"])
            redacted = True
    return ["core.AuditLog.changes"] if redacted else []


def _names_only(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _names_only(v) for k, v in value.items()}
    return ERASED


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def audit_view(*, actor: object, customer_id: int) -> None:
    """Record that `actor` looked at a customer's profile (the 360 page or API).

    Every 360 read writes one of these, so it is one statement, and on PostgreSQL its commit does not wait for the
    disk flush (synchronous_commit off for that transaction only): a crash could lose the last fraction of a second
    of view records, never a change to customer data."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        # Inside a caller's transaction the setting would also cover the caller's own changes: plain insert.
        audit(
            actor=actor, action="view", object_type="customers.customer", object_id=customer_id, customer_id=customer_id
        )
        return
    table = connection.ops.quote_name(AuditLog._meta.db_table)
    # In autocommit the statement is its own transaction; set_config(..., true) lasts until its commit.
    sql = (
        f"INSERT INTO {table} (occurred_at, actor_user_id, actor_api_key_id, ip_address, action, object_type,"
        " object_id, customer_id, changes) SELECT now(), %s::bigint, %s::bigint, %s::inet, 'view',"
        " 'customers.customer', %s, %s::bigint, '{}'"
        " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                getattr(actor, "user_id", None),
                getattr(actor, "api_key_id", None),
                getattr(actor, "ip_address", None),
                str(customer_id),
                customer_id,
            ],
        )
