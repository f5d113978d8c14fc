"""/api/v1/flows: list, read, create and edit drafts, publish, pause and resume, start a ready-made flow, the report;
and product subscriptions (back in stock, new products) that a shop's server makes for its customers."""

import datetime as dt
from typing import Any

from ninja import Router, Schema, Status

from kervan.catalog.models import Category, Product, Variant
from kervan.core.api import ERRORS, Id, InputSchema
from kervan.core.errors import KervanError
from kervan.customers.models import Customer
from kervan.flows import actions, selectors
from kervan.flows.library import library_start
from kervan.flows.models import Flow

router = Router(tags=["flows"])


class FlowIn(InputSchema):
    name: str | None = None
    trigger: dict[str, Any] | None = None
    graph: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    priority: int | None = None


class FlowOut(Schema):
    id: int
    name: str
    status: str
    priority: int
    trigger: dict[str, Any]
    graph: dict[str, Any]
    settings: dict[str, Any]
    live_version: int | None
    library_key: str
    updated_at: dt.datetime


class FlowStatusIn(InputSchema):
    status: str


class LibraryFlowIn(InputSchema):
    key: str
    publish: bool = True


class ProductSubscriptionIn(InputSchema):
    customer_id: Id
    kind: str = "back_in_stock"
    product_id: Id | None = None
    sku: str | None = None
    category_id: Id | None = None


def _out(flow: Flow) -> dict:
    return {
        "id": flow.pk,
        "name": flow.name,
        "status": flow.status,
        "priority": flow.priority,
        "trigger": flow.trigger,
        "graph": flow.graph,
        "settings": flow.settings,
        "live_version": flow.live_version.number if flow.live_version else None,
        "library_key": flow.library_key,
        "updated_at": flow.updated_at,
    }


def _flow(request, flow_id: Id) -> Flow:
    return selectors.flow_get(actor=request.auth, flow_id=flow_id)


@router.get("", response={200: list[FlowOut], **ERRORS}, summary="List flows")
def list_flows(request):
    return [_out(f) for f in selectors.flow_list(actor=request.auth).select_related("live_version")[:500]]


@router.post("", response={201: FlowOut, **ERRORS}, summary="Create a draft flow")
def create_flow(request, payload: FlowIn):
    flow = actions.flow_create(
        actor=request.auth,
        name=payload.name or "",
        trigger=payload.trigger,
        graph=payload.graph,
        settings=payload.settings,
        priority=100 if payload.priority is None else payload.priority,
    )
    return Status(201, _out(flow))


@router.post("/library", response={201: FlowOut, **ERRORS}, summary="Start a ready-made flow")
def start_library_flow(request, payload: LibraryFlowIn):
    request.auth.require("flows", "write")
    return Status(201, _out(library_start(actor=request.auth, key=payload.key, publish=payload.publish)))


@router.post("/subscriptions", response={201: dict[str, Any], **ERRORS}, summary="Subscribe to a product or category")
def subscribe(request, payload: ProductSubscriptionIn):
    """Back in stock: a product (`product_id`) or a variant (`sku`); new products: a category (`category_id`)."""
    request.auth.require("customers", "write")
    customer = request.auth.scope("customers", Customer.objects.active()).filter(pk=payload.customer_id).first()
    if customer is None:
        raise KervanError("No such customer.", "not_found", field="customer_id")
    variant = _row(Variant, {"sku": payload.sku}, "sku") if payload.sku else None
    product = _row(Product, {"pk": payload.product_id}, "product_id") if payload.product_id else None
    category = _row(Category, {"pk": payload.category_id}, "category_id") if payload.category_id else None
    sub = actions.product_subscribe(
        customer=customer, kind=payload.kind, product=product, variant=variant, category=category
    )
    return Status(201, {"id": sub.pk, "kind": sub.kind, "customer_id": customer.pk})


def _row(model, lookup: dict, field: str):  # noqa: ANN001, ANN202 - a model class and its row
    row = model.objects.filter(**lookup).first()
    if row is None:
        raise KervanError(
            f"No such {field.removesuffix('_id')}: {next(iter(lookup.values()))}.", "not_found", field=field
        )
    return row


@router.get("/{flow_id}", response={200: FlowOut, **ERRORS}, summary="One flow")
def get_flow(request, flow_id: Id):
    return _out(_flow(request, flow_id))


@router.patch("/{flow_id}", response={200: FlowOut, **ERRORS}, summary="Change the draft")
def update_flow(request, flow_id: Id, payload: FlowIn):
    flow = actions.flow_update(actor=request.auth, flow=_flow(request, flow_id), **payload.dict(exclude_none=True))
    return _out(flow)


@router.post("/{flow_id}/publish", response={200: FlowOut, **ERRORS}, summary="Check and publish the draft")
def publish_flow(request, flow_id: Id):
    flow = _flow(request, flow_id)
    actions.flow_publish(actor=request.auth, flow=flow)
    flow.refresh_from_db()
    return _out(flow)


@router.post("/{flow_id}/status", response={200: FlowOut, **ERRORS}, summary="Pause or resume")
def set_status(request, flow_id: Id, payload: FlowStatusIn):
    return _out(actions.flow_set_status(actor=request.auth, flow=_flow(request, flow_id), status=payload.status))


@router.get("/{flow_id}/report", response={200: dict[str, Any], **ERRORS}, summary="Counts, revenue, uplift")
def flow_report(request, flow_id: Id):
    flow = _flow(request, flow_id)
    return {
        "summary": selectors.flow_summary(flow),
        "steps": selectors.step_counts(flow),
        "attribution": _jsonable(selectors.attributed_revenue(flow)),
        "uplift": selectors.uplift(flow),
    }


def _jsonable(value):  # noqa: ANN001, ANN202 - Decimals become strings, as money is everywhere in the API
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return str(value) if hasattr(value, "quantize") else value
