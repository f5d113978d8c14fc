"""Shipments. A shipment is recorded when an order is shipped and marked delivered when the order is (order_set_status):
steps inside that action's transaction, which audits the status change, not actions of their own."""

from django.utils.translation import gettext as _

from kervan.core.errors import KervanError
from kervan.orders.models import Order, Shipment


def shipment_add(*, order: Order, carrier: str, tracking_number: str, shipped_at) -> Shipment:
    """Record that `order` left with `carrier` (required) under `tracking_number`."""
    carrier = (carrier or "").strip()
    if not carrier:
        raise KervanError(_("A shipment needs a carrier."), "missing_carrier", field="carrier")
    return Shipment.objects.create(
        order=order,
        carrier=carrier[:60],
        tracking_number=(tracking_number or "").strip()[:100],
        shipped_at=shipped_at,
    )


def shipments_deliver(*, order: Order, delivered_at) -> None:
    """Mark the order's shipments that are still on the way as delivered."""
    order.shipments.filter(delivered_at__isnull=True).update(delivered_at=delivered_at)
