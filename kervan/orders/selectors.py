from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.errors import NotFound, check_choice
from kervan.orders.models import Order, OrderStatus, SalesChannel


def order_get(*, actor: Actor, order_id: int) -> Order:
    try:
        return actor.scope("orders", Order.objects.select_related("source")).get(pk=order_id)
    except Order.DoesNotExist:
        raise NotFound(_("Order %(order_id)s does not exist.") % {"order_id": order_id}, "order_not_found")


def order_list(
    *,
    actor: Actor,
    customer_id: int | None = None,
    status: str = "",
    sales_channel: str = "",
    since=None,
    until=None,
) -> QuerySet:
    qs = actor.scope("orders", Order.objects.all())
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if status:
        qs = qs.filter(status=check_choice(status, OrderStatus, field="status"))
    if sales_channel:
        qs = qs.filter(sales_channel=check_choice(sales_channel, SalesChannel, field="sales_channel"))
    if since:
        qs = qs.filter(placed_at__gte=since)
    if until:
        qs = qs.filter(placed_at__lt=until)
    return qs
