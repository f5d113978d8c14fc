from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kervan.core.errors import KervanError, NotFound
from kervan.orders.models import Order, OrderStatus, SalesChannel


def order_get(order_id: int) -> Order:
    try:
        return Order.objects.select_related("source").get(pk=order_id)
    except Order.DoesNotExist:
        raise NotFound(_("Order %(order_id)s does not exist.") % {"order_id": order_id}, "order_not_found")


def order_list(
    *, customer_id: int | None = None, status: str = "", sales_channel: str = "", since=None, until=None
) -> QuerySet:
    qs = Order.objects.all()
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if status:
        if status not in OrderStatus.values:
            raise KervanError(
                _("status must be one of %(choices)s.") % {"choices": ", ".join(OrderStatus.values)}, "invalid_choice"
            )
        qs = qs.filter(status=status)
    if sales_channel:
        if sales_channel not in SalesChannel.values:
            raise KervanError(
                _("sales_channel must be one of %(choices)s.") % {"choices": ", ".join(SalesChannel.values)},
                "invalid_choice",
            )
        qs = qs.filter(sales_channel=sales_channel)
    if since:
        qs = qs.filter(placed_at__gte=since)
    if until:
        qs = qs.filter(placed_at__lt=until)
    return qs
