"""iyzico notifications → canonical records.

iyzico's webhook says what happened to a payment (status, ids) but not how much: Kervan asks iyzico for the
payment (client.payment_detail for the direct format, client.checkout_form_detail by the token for the HPP format)
and records what it answers: paidPrice (what the card was charged, installment interest included), currency,
installment, paymentId.

Which store order a payment is for: paymentConversationId, the conversation id the shop gave iyzico when it
started the payment (iyzico's shop plugins give the order's id or number); when it is empty, the payment's basketId
(the merchant's order reference) as iyzico answers it. Kervan finds the order by that value among its stores'
order ids, then numbers.

Statuses: SUCCESS → paid, FAILURE → failed ("Payment Failed" event); the intermediate ones (INIT_THREEDS,
CALLBACK_THREEDS, PENDING_CREDIT …) are ignored: the final SUCCESS or FAILURE follows them.
Subscription notifications (subscription.order.success / .failure) are ignored: they name iyzico's subscription,
order and customer reference codes, none of the store's orders, and carry no amount; Kervan has no subscriptions.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation

from kervan.integrations import canonical as c
from kervan.integrations.platforms.base import UnexpectedPayload
from kervan.integrations.platforms.iyzico import client
from kervan.integrations.platforms.iyzico.verify import is_subscription

STATUSES = {"SUCCESS": "paid", "FAILURE": "failed"}


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def event_time(payload: dict) -> dt.datetime:
    millis = payload.get("iyziEventTime")
    if not isinstance(millis, int) or isinstance(millis, bool):
        raise UnexpectedPayload(f"iyziEventTime {millis!r} is not epoch milliseconds")
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC)


def _amount(value) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise UnexpectedPayload(f"iyzico's amount {value!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise UnexpectedPayload(f"iyzico's amount {value!r} is not an amount")
    return amount


def _detail(connection, payload: dict) -> dict:
    conversation = _text(payload.get("paymentConversationId"))
    if payload.get("token"):
        return client.checkout_form_detail(connection, _text(payload["token"]), conversation)
    payment_id = _text(payload.get("paymentId") or payload.get("iyziPaymentId"))
    if not payment_id:
        raise UnexpectedPayload("the notification has neither a paymentId nor a token")
    return client.payment_detail(connection, payment_id, conversation)


def records(connection, topic: str, payload) -> list:
    if not isinstance(payload, dict):
        raise UnexpectedPayload("the notification is not a JSON object")
    if is_subscription(payload):
        return []
    status = STATUSES.get(_text(payload.get("status")))
    if status is None:
        return []
    occurred_at = event_time(payload)
    try:
        detail = _detail(connection, payload)
    except client.Refused as refused:
        if status == "failed":  # a failed payment iyzico will not describe: still a failure of the order
            detail = {}
        else:
            raise UnexpectedPayload(f"iyzico did not give the payment's details: {refused}") from refused
    order = _text(payload.get("paymentConversationId")) or _text(detail.get("basketId"))
    if not order:
        raise UnexpectedPayload("the payment names no order (no paymentConversationId, no basketId)")
    reference = _text(detail.get("paymentId") or payload.get("iyziPaymentId") or payload.get("paymentId"))
    if not reference:
        raise UnexpectedPayload("the payment has no paymentId")
    if status == "paid":
        if detail.get("paidPrice") is None or not detail.get("currency"):
            raise UnexpectedPayload("iyzico's answer has no paidPrice or currency")
    installments = detail.get("installment")
    return [
        c.OrderPayment(
            order_external_id=order,
            status=status,
            amount=_amount(detail.get("paidPrice", 0)),
            currency=_text(detail.get("currency")).upper(),
            occurred_at=occurred_at,
            reference=reference,
            method="card",
            installments=installments if isinstance(installments, int) and 1 <= installments <= 36 else 1,
        )
    ]
