from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status

from kervan.core.api import ERRORS, DateTimeIn, Id
from kervan.core.errors import KervanError, NotFound
from kervan.core.models import Source
from kervan.core.pagination import paginate
from kervan.core.sources import api_source
from kervan.customers.selectors import customer_get
from kervan.orders import actions, selectors
from kervan.orders.schemas import OrderDetailOut, OrderIn, OrderPage, RefundIn, ReturnIn, StatusIn

router = Router(tags=["orders"])


class OrderQuery(Schema):
    customer_id: Id | None = None
    status: str = ""
    sales_channel: str = ""
    since: DateTimeIn | None = None
    until: DateTimeIn | None = None
    cursor: str | None = None
    limit: int = 50


@router.get("/", response={200: OrderPage, **ERRORS})
def list_orders(request, query: Query[OrderQuery]):
    request.auth.require("orders", "read")
    qs = selectors.order_list(actor=request.auth, **query.dict(exclude={"cursor", "limit"}))
    page = paginate(qs, order="-placed_at", cursor=query.cursor, limit=query.limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/", response={201: OrderDetailOut, 200: OrderDetailOut, **ERRORS})
def create_order(request, payload: OrderIn):
    """Create an order. Sending the same source + external_id again returns the first order with 200 (without a
    source, the order belongs to the API's own source, "api")."""
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
