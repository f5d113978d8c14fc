"""Payments. One is recorded when an order becomes paid with payment details (order_set_status): a step inside that
action's transaction, which audits the status change, not an action of its own."""

from django.utils.translation import gettext as _

from kervan.core.errors import KervanError, check_choice
from kervan.core.money import to_amount
from kervan.orders.models import Order, Payment


def payment_add(*, order: Order, payment: dict, occurred_at) -> Payment:
    """Record `payment` ({method, amount, provider, reference, installments}); no amount (absent or None) is the
    order's total."""
    method = check_choice(payment.get("method", Payment.Method.CARD), Payment.Method, field="payment.method")
    installments = payment.get("installments", 1)
    if not isinstance(installments, int) or not 1 <= installments <= 36:
        raise KervanError(_("installments must be 1–36."), "invalid_installments", field="payment.installments")
    return Payment.objects.create(
        order=order,
        amount=to_amount(order.total if payment.get("amount") is None else payment["amount"], "payment.amount"),
        currency=order.currency,
        method=method,
        provider=str(payment.get("provider", ""))[:40],
        reference=str(payment.get("reference", ""))[:100],
        installments=installments,
        occurred_at=occurred_at,
    )
