"""/api/v1/integrations: connections with their sync health, connecting one (credentials checked first, never
returned), backfills (start, progress, report), deliveries (the dead-letter list) and replay."""

import datetime as dt

from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from kervan.core.api import ERRORS, Id, InputSchema
from kervan.core.errors import KervanError
from kervan.integrations import actions, selectors
from kervan.integrations.models import Backfill, Connection, Delivery

router = Router(tags=["integrations"])


class ConnectionIn(InputSchema):
    platform: str
    name: str
    base_url: str = ""
    credentials: dict[str, str] = {}


class HealthOut(Schema):
    last_delivery_at: dt.datetime | None
    backlog: int
    oldest_waiting_at: dt.datetime | None
    received_24h: int
    failed_24h: int
    error_rate_24h: float | None
    dead_total: int


class ConnectionOut(Schema):
    id: int
    platform: str
    name: str
    base_url: str
    status: str
    source_key: str
    webhook_path: str
    credentials: dict[str, str]  # secrets masked
    checked_at: dt.datetime | None
    health: HealthOut


class BackfillIn(InputSchema):
    kinds: list[str] | None = None


class BackfillOut(Schema):
    id: int
    status: str
    kinds: list[str]
    kind: str
    counts: dict
    totals: dict
    pages: int
    progress_percent: int | None
    error: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class DeliveryOut(Schema):
    id: int
    topic: str
    delivery_id: str
    status: str
    attempts: int
    received_at: dt.datetime
    processed_at: dt.datetime | None
    error: str
    result: dict


def _connection_out(connection: Connection) -> dict:
    health = selectors.connection_health(connection)
    specs = {spec.label: spec.name for spec in connection.platform_impl.credential_fields}
    return {
        "id": connection.pk,
        "platform": connection.platform,
        "name": connection.name,
        "base_url": connection.base_url,
        "status": connection.status,
        "source_key": connection.source.key,
        "webhook_path": reverse("integrations:webhook", args=[connection.token]),
        "credentials": {specs[label]: shown for label, shown in selectors.masked_credentials(connection)},
        "checked_at": connection.checked_at,
        "health": {
            "last_delivery_at": health.last_delivery_at,
            "backlog": health.backlog,
            "oldest_waiting_at": health.oldest_waiting_at,
            "received_24h": health.received,
            "failed_24h": health.failed,
            "error_rate_24h": health.error_rate,
            "dead_total": health.dead_total,
        },
    }


def _backfill_out(backfill: Backfill) -> dict:
    fields = ("id", "status", "kinds", "kind", "counts", "totals", "pages", "error", "started_at", "finished_at")
    return {**{f: getattr(backfill, f) for f in fields}, "progress_percent": backfill.progress_percent}


@router.get("/connections", response={200: list[ConnectionOut], **ERRORS}, summary="List connections")
def list_connections(request):
    return [_connection_out(c) for c in selectors.connection_list(actor=request.auth)]


@router.post("/connections", response={201: ConnectionOut, **ERRORS}, summary="Connect a platform")
def create_connection(request, data: ConnectionIn):
    connection = actions.connection_create(
        actor=request.auth,
        platform=data.platform,
        name=data.name,
        base_url=data.base_url,
        credentials=data.credentials,
    )
    return Status(201, _connection_out(connection))


@router.get("/connections/{connection_id}", response={200: ConnectionOut, **ERRORS}, summary="A connection")
def get_connection(request, connection_id: Id):
    return _connection_out(selectors.connection_get(actor=request.auth, connection_id=connection_id))


@router.post(
    "/connections/{connection_id}/backfills", response={201: BackfillOut, **ERRORS}, summary="Start a backfill"
)
def start_backfill(request, connection_id: Id, data: BackfillIn):
    connection = selectors.connection_get(actor=request.auth, connection_id=connection_id)
    backfill = actions.backfill_start(actor=request.auth, connection=connection, kinds=data.kinds)
    return Status(201, _backfill_out(backfill))


@router.get(
    "/connections/{connection_id}/backfills/{backfill_id}",
    response={200: BackfillOut, **ERRORS},
    summary="A backfill's progress and report",
)
def get_backfill(request, connection_id: Id, backfill_id: Id):
    connection = selectors.connection_get(actor=request.auth, connection_id=connection_id)
    return _backfill_out(selectors.backfill_get(actor=request.auth, connection=connection, backfill_id=backfill_id))


@router.get(
    "/connections/{connection_id}/deliveries",
    response={200: list[DeliveryOut], **ERRORS},
    summary="Deliveries (status=dead: the dead-letter list)",
)
def list_deliveries(request, connection_id: Id, status: str = ""):
    connection = selectors.connection_get(actor=request.auth, connection_id=connection_id)
    if status and status not in Delivery.Status.values:
        raise KervanError(_("Unknown status."), "invalid_status", field="status")
    return list(selectors.deliveries(connection, status=status, limit=200))


@router.post(
    "/connections/{connection_id}/deliveries/{delivery_id}/replay",
    response={200: DeliveryOut, **ERRORS},
    summary="Process a delivery again",
)
def replay_delivery(request, connection_id: Id, delivery_id: Id):
    connection = selectors.connection_get(actor=request.auth, connection_id=connection_id)
    delivery = selectors.delivery_get(actor=request.auth, connection=connection, delivery_id=delivery_id)
    return actions.delivery_replay(actor=request.auth, delivery=delivery)
