from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from kervan.core.api import ERRORS, DateTimeIn, Id
from kervan.core.errors import KervanError, NotFound
from kervan.core.models import Source
from kervan.core.pagination import paginate
from kervan.core.sources import api_source
from kervan.customers.selectors import customer_get
from kervan.orders import actions, selectors
from kervan.orders.lists import order_filters
from kervan.orders.schemas import OrderDetailOut, OrderIn, OrderPage, RefundIn, ReturnIn, StatusIn

router = Router(tags=["orders"])


class OrderDifference(Schema):
    field: str
    stored: str
    sent: str


class OrderConflictOut(Schema):
    """409 order_conflict: the order sent again under its external_id differs from the one recorded."""

    detail: str
    code: str
    order_id: int
    differences: list[OrderDifference]


class OrderQuery(Schema):
    """The order list's filters, with the names and values of the list page (kervan/orders/lists.py)."""

    q: str = Field(
        "",
        max_length=200,
        description="An order number (exact or its start), a customer's name, email "
        "or phone (Turkish-folded), or a tracking number.",
    )
    status: list[str] = Field(default_factory=list, description="Any of these statuses (repeat the parameter).")
    sales_channel: str = ""
    source: str = Field("", description="A source key.")
    placed_from: str = Field("", description="YYYY-MM-DD, the shop's days, both ends included.")
    placed_to: str = ""
    min_total: str = ""
    max_total: str = ""
    has_return: str = Field("", description="yes, no, or waiting (a return still waiting for its refund).")
    has_refund: str = Field("", description="yes or no.")
    customer: str = Field("", description="A customer id.")
    customer_id: Id | None = None
    since: DateTimeIn | None = None
    until: DateTimeIn | None = None
    sort: str = Field("newest", description="newest, oldest, total or number.")
    cursor: str | None = None
    limit: int = 50


@router.get("/", response={200: OrderPage, **ERRORS})
def list_orders(request, query: Query[OrderQuery]):
    """The order list: the same filters and sorts as the list page, newest first, cursor-paginated."""
    request.auth.require("orders", "read")
    data = query.dict(exclude={"cursor", "limit", "customer_id", "since", "until", "sort"})
    filters = order_filters(data, query.sort)
    filters.customer = filters.customer or (str(query.customer_id) if query.customer_id else "")
    filters.since, filters.until = query.since, query.until
    qs, order = selectors.order_list(actor=request.auth, filters=filters)
    page = paginate(qs, order=order, cursor=query.cursor, limit=query.limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/", response={201: OrderDetailOut, 200: OrderDetailOut, **ERRORS, 409: OrderConflictOut})
def create_order(request, payload: OrderIn):
    """Create an order (without a source, it belongs to the API's own source, "api").

    Sending the same source + external_id again is safe: the same content answers 200 with the order recorded the
    first time; different content answers 409 `order_conflict` with `order_id` and `differences` ([{field, stored,
    sent}]) and changes nothing. A recorded order changes through its own endpoints (status, returns, refunds), not
    by sending it again (kervan.orders.actions.orders.order_create says why)."""
    request.auth.require("orders", "write")
    data = payload.dict()
    customer = customer_get(actor=request.auth, customer_id=data.pop("customer_id"))
    source_key = data.pop("source")
    source = Source.objects.filter(key=source_key).first() if source_key else api_source()
    if source is None:
        raise NotFound(_("No source '%(key)s'.") % {"key": source_key}, "source_not_found")
    order, created = actions.order_create(
        actor=request.auth, new_order=actions.NewOrder(customer=customer, source=source, **data)
    )
    return Status(201 if created else 200, order)


@router.get("/{int:order_id}", response={200: OrderDetailOut, **ERRORS})
def get_order(request, order_id: int):
    request.auth.require("orders", "read")
    return selectors.order_get(actor=request.auth, order_id=order_id)


@router.post("/{int:order_id}/status", response={200: OrderDetailOut, **ERRORS})
def set_status(request, order_id: int, payload: StatusIn):
    request.auth.require("orders", "write")
    data = payload.dict()
    order = actions.order_set_status(
        actor=request.auth, order=selectors.order_get(actor=request.auth, order_id=order_id), **data
    )
    return order


@router.post("/{int:order_id}/returns", response={201: dict, 200: dict, **ERRORS})
def create_return(request, order_id: int, payload: ReturnIn):
    """Record a return. Sending the same external_id again returns the first return with 200."""
    request.auth.require("orders", "write")
    ret, created = actions.return_create(
        actor=request.auth, order=selectors.order_get(actor=request.auth, order_id=order_id), **payload.dict()
    )
    return Status(
        201 if created else 200,
        {
            "id": ret.pk,
            "order_id": ret.order_id,
            "reason": ret.reason,
            "lines": [{"order_line_id": rl.order_line_id, "quantity": rl.quantity} for rl in ret.lines.all()],
        },
    )


@router.post("/{int:order_id}/refunds", response={201: dict, 200: dict, **ERRORS})
def create_refund(request, order_id: int, payload: RefundIn):
    request.auth.require("orders", "write")
    order = selectors.order_get(actor=request.auth, order_id=order_id)
    data = payload.dict()
    return_id = data.pop("return_id")
    return_request = None
    if return_id is not None:
        return_request = order.returns.filter(pk=return_id).first()
        if return_request is None:
            raise KervanError(
                _("Return %(return_id)s is not on order %(order_id)s.")
                % {"return_id": return_id, "order_id": order_id},
                "foreign_return",
                field="return_id",
            )
    refund, created = actions.refund_create(actor=request.auth, order=order, return_request=return_request, **data)
    order.refresh_from_db(fields=["refunded_total"])
    body = {
        "id": refund.pk,
        "amount": str(refund.amount),
        "currency": refund.currency,
        "refunded_total": str(order.refunded_total),
    }
    return Status(201 if created else 200, body)
