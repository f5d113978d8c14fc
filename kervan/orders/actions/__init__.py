"""Every write to orders. Import them from here (`from kervan.orders.actions import order_create`); the modules only
split the code by sub-domain for reading:

- orders.py     NewOrder, order_create, order_set_status (with a cancelled order's effects), orders_reassign
- payments.py   the payment an order_set_status to "paid" records
- shipments.py  the shipment an order_set_status to "shipped" records, and its delivery
- returns.py    return_create, returns_settle (which returns still wait for their money)
- refunds.py    refund_create
- _checks.py    input checks they share

Each action keeps CustomerStats, the order timeline, the event store and the audit log in step, inside one
transaction, and each replayed delivery (same source + external id) is recognised, never counted twice.
"""

from kervan.orders.actions.orders import NewOrder, order_create, order_set_status, orders_reassign
from kervan.orders.actions.refunds import refund_create
from kervan.orders.actions.returns import return_create, returns_settle

__all__ = [
    "NewOrder",
    "order_create",
    "order_set_status",
    "orders_reassign",
    "refund_create",
    "return_create",
    "returns_settle",
]
