"""The Customer 360 in the API: GET /customers/{id} (the header facts, cached as finished JSON) and
GET /customers/{id}/timeline.

The routes live on the customers router (`add_routes`, called by the API root), because one path's methods must be
served by one router: PATCH and DELETE /customers/{id} are the customer core's."""

from django.http import HttpResponse
from ninja import Router

from kervan.core.api import ERRORS
from kervan.core.api_json import ORJSONRenderer
from kervan.core.audit import audit_view
from kervan.customer360.selectors import customer_360_read
from kervan.customer360.timeline import customer_timeline, timeline_present_many
from kervan.customers import selectors
from kervan.customers.api import customer_out
from kervan.customers.cache import cached_360
from kervan.customers.schemas import Customer360Out, TimelinePage


def add_routes(router: Router) -> None:
    router.add_api_operation("/{int:customer_id}", ["GET"], get_customer, response={200: Customer360Out, **ERRORS})
    router.add_api_operation(
        "/{int:customer_id}/timeline", ["GET"], get_customer_timeline, response={200: TimelinePage, **ERRORS}
    )


def get_customer(request, customer_id: int):
    request.auth.require("customers", "read")
    # Cached as the finished JSON: a hit costs one cache round trip and the audit row, no query, no serialising. A
    # merged-away id caches where its person went, then answers with the survivor's 360.
    moved_to, body = cached_360(customer_id, "api", lambda: _customer_360_json(request.auth, customer_id))
    if moved_to is not None:
        customer_id = moved_to
        _moved, body = cached_360(customer_id, "api", lambda: _customer_360_json(request.auth, customer_id))
    audit_view(actor=request.auth, customer_id=customer_id)
    return HttpResponse(body, content_type="application/json")


def _customer_360_json(actor, customer_id: int) -> tuple[int | None, bytes]:
    """(None, the 360 as JSON), or (the survivor's id, b"") for a merged-away id."""
    customer, view = customer_360_read(actor=actor, customer_id=customer_id)
    if view is None:
        return customer.pk, b""
    out = Customer360Out.model_validate(
        {
            **customer_out(customer),
            "tags": view.tags,
            "custom_fields": customer.custom_fields,
            "identities": [
                {"kind": i.kind, "value": i.value, "source": i.source.key if i.source else None}
                for i in view.identities
            ],
            "consents": {
                channel: {purpose: (record.status if record else "unknown") for purpose, record in slots.items()}
                for channel, slots in view.consents.items()
            },
        }
    )
    return None, ORJSONRenderer().render(None, out.model_dump(), response_status=200)


def get_customer_timeline(request, customer_id: int, kinds: str = "", cursor: str | None = None, limit: int = 30):
    customer = selectors.customer_get(actor=request.auth, customer_id=customer_id)
    items, next_cursor = customer_timeline(
        actor=request.auth,
        customer_id=customer.pk,
        kinds=[k for k in kinds.split(",") if k] or None,
        cursor=cursor,
        limit=limit,
    )
    out = []
    for item, shown in zip(items, timeline_present_many(items), strict=True):
        out.append(
            {
                "kind": item.kind,
                "id": item.id,
                "occurred_at": item.occurred_at,
                "title": shown["title"],
                "data": shown["data"],
            }
        )
    return {"items": out, "next_cursor": next_cursor}
