"""Stripe events and objects → canonical records.

Which store order a payment is for: Stripe knows nothing of the store's orders, so the shop (its checkout plugin)
must put the order in the payment's metadata. Kervan reads, in this order:
  metadata["order_id"]      the store's own order id (e.g. Shopify's 820982911946154508, WooCommerce's 727)
  metadata["order_number"]  the number the customer sees (#1001), when no id is given
  client_reference_id       (Checkout Sessions only) when neither is in the metadata
A payment naming none of these is not a store order's (a subscription, an invoice): it is left out.

Amounts are integers in the currency's smallest unit (1099 = 10.99 USD, but 1099 = 1099 JPY): MINOR_DIGITS says
how many decimals each currency has. The payment's reference is its PaymentIntent id when it has one, else the
charge id, so charge.* and payment_intent.* events about the same payment count once."""

import datetime as dt
from decimal import Decimal

from kervan.integrations import canonical as c
from kervan.integrations.platforms.base import UnexpectedPayload
from kervan.integrations.platforms.stripe import client

# Stripe's zero-decimal currencies (amount 500 JPY is ¥500) and three-decimal ones (amount 5000 KWD is 5.000);
# every other currency has two. https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]
)  # fmt: skip
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
ORDER_KEYS = ("order_id", "order_number")
METHODS = {"card": "card", "card_present": "card", "sepa_debit": "bank_transfer", "us_bank_account": "bank_transfer",
           "ach_credit_transfer": "bank_transfer", "customer_balance": "bank_transfer"}  # fmt: skip


def minor_digits(currency: str) -> int:
    code = currency.upper()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def money(amount, currency: str) -> Decimal:
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise UnexpectedPayload(f"amount {amount!r} is not an integer of minor units")
    return Decimal(amount).scaleb(-minor_digits(currency))


def when(seconds) -> dt.datetime:
    if not isinstance(seconds, int):
        raise UnexpectedPayload(f"time {seconds!r} is not a Unix time")
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def order_reference(obj: dict) -> str:
    metadata = obj.get("metadata") or {}
    for key in ORDER_KEYS:
        if str(metadata.get(key) or "").strip():
            return str(metadata[key]).strip()
    return str(obj.get("client_reference_id") or "").strip() if obj.get("object") == "checkout.session" else ""


def _currency(obj: dict) -> str:
    currency = obj.get("currency")
    if not isinstance(currency, str) or len(currency) != 3:
        raise UnexpectedPayload(f"{obj.get('object', 'object')} {obj.get('id', '')} has no currency")
    return currency.upper()


def _split_name(name: str) -> tuple[str, str]:
    first, _sep, last = (name or "").strip().rpartition(" ")
    return (first, last) if first else (last, "")


def customer(obj: dict, *, updated_at: dt.datetime | None = None) -> c.StoreCustomer:
    """A Stripe Customer (cus_…): its id scopes it to the connection's source."""
    if not str(obj.get("id") or "").startswith("cus_"):
        raise UnexpectedPayload("the customer has no cus_ id")
    first, last = _split_name(obj.get("name") or "")
    address = obj.get("address") or {}
    locales = obj.get("preferred_locales") or []
    return c.StoreCustomer(
        external_id=obj["id"],
        email=obj.get("email") or "",
        phone=obj.get("phone") or "",
        first_name=first,
        last_name=last,
        city=address.get("city") or "",
        country=address.get("country") or "",
        language=locales[0][:2] if locales else "",
        created_at=when(obj["created"]) if obj.get("created") else None,
        updated_at=updated_at,
    )


def _method(charge: dict) -> str:
    details = charge.get("payment_method_details") or {}
    return METHODS.get(details.get("type") or "card", "wallet")


def _installments(charge: dict) -> int:
    plan = ((((charge.get("payment_method_details") or {}).get("card") or {}).get("installments") or {})
            .get("plan") or {})  # fmt: skip
    count = plan.get("count")
    return count if isinstance(count, int) and 1 <= count <= 36 else 1


def charge_payment(charge: dict, status: str) -> c.OrderPayment | None:
    order = order_reference(charge)
    if not order:
        return None
    currency = _currency(charge)
    return c.OrderPayment(
        order_external_id=order,
        status=status,
        amount=money(charge["amount"], currency),
        currency=currency,
        occurred_at=when(charge["created"]),
        reference=charge.get("payment_intent") or charge["id"],
        method=_method(charge),
        installments=_installments(charge),
    )


def intent_payment(intent: dict, status: str) -> c.OrderPayment | None:
    order = order_reference(intent)
    if not order:
        return None
    currency = _currency(intent)
    amount = intent.get("amount_received") if status == "paid" and intent.get("amount_received") else intent["amount"]
    return c.OrderPayment(
        order_external_id=order,
        status=status,
        amount=money(amount, currency),
        currency=currency,
        occurred_at=when(intent["created"]),
        reference=intent["id"],
        method="card" if "card" in (intent.get("payment_method_types") or ["card"]) else "wallet",
    )


def refund_payment(refund: dict, order: str) -> c.OrderPayment | None:
    if refund.get("status") in ("failed", "canceled") or not order:
        return None
    currency = _currency(refund)
    return c.OrderPayment(
        order_external_id=order,
        status="refunded",
        amount=money(refund["amount"], currency),
        currency=currency,
        occurred_at=when(refund["created"]),
        reference=refund["id"],  # re_…: the refund's id, so charge.refunded and refund.created count it once
    )


def session_records(session: dict) -> list:
    """A completed Checkout Session: its customer, and the payment when it is paid and names an order."""
    records = []
    details = session.get("customer_details") or {}
    first, last = _split_name(details.get("name") or "")
    person = c.StoreCustomer(
        external_id=session.get("customer") or "",
        email=details.get("email") or "",
        phone=details.get("phone") or "",
        first_name=first,
        last_name=last,
        city=(details.get("address") or {}).get("city") or "",
        country=(details.get("address") or {}).get("country") or "",
    )
    if person.external_id or person.email or person.phone:
        records.append(person)
    order = order_reference(session)
    if order and session.get("payment_status") in ("paid", "no_payment_required"):
        if not isinstance(session.get("amount_total"), int):
            raise UnexpectedPayload(f"checkout session {session.get('id')} has no amount_total")
        currency = _currency(session)
        records.append(
            c.OrderPayment(
                order_external_id=order,
                status="paid",
                amount=money(session["amount_total"], currency),
                currency=currency,
                occurred_at=when(session["created"]),
                reference=session.get("payment_intent") or session["id"],
                customer=person,
            )
        )
    return records


def charge_refunds(connection, charge: dict) -> list:
    """The refunds of a refunded charge: those it carries (older API versions list them), else asked of Stripe."""
    order = order_reference(charge)
    if not order:
        return []
    listed = (charge.get("refunds") or {}).get("data") or []
    refunds = listed or client.charge_refunds(connection, charge["id"])
    return [r for r in (refund_payment(refund, order) for refund in refunds) if r]


def refund_records(connection, refund: dict) -> list:
    """A refund on its own: the order is in its metadata, else in its charge's (asked of Stripe)."""
    order = order_reference(refund)
    if not order and refund.get("charge"):
        order = order_reference(client.charge(connection, refund["charge"]))
    record = refund_payment(refund, order)
    return [record] if record else []


PAID = ("charge.succeeded", "payment_intent.succeeded")
FAILED = ("charge.failed", "payment_intent.payment_failed")


def event_records(connection, topic: str, event: dict) -> list:
    if not isinstance(event, dict) or not isinstance((event.get("data") or {}).get("object"), dict):
        raise UnexpectedPayload("the event has no data.object")
    obj = event["data"]["object"]
    if not obj.get("id"):
        raise UnexpectedPayload("the event's object has no id")
    if topic in PAID or topic in FAILED:
        status = "paid" if topic in PAID else "failed"
        record = charge_payment(obj, status) if topic.startswith("charge.") else intent_payment(obj, status)
        return [record] if record else []
    if topic == "charge.refunded":
        return charge_refunds(connection, obj)
    if topic == "refund.created":
        return refund_records(connection, obj)
    if topic == "checkout.session.completed":
        return session_records(obj)
    if topic in ("customer.created", "customer.updated"):
        # A customer has no update time of its own: the event's creation time orders its versions.
        return [customer(obj, updated_at=when(event["created"]))]
    if topic == "customer.deleted":
        return [c.CustomerDeleted(external_id=obj["id"])]
    return []


def backfill_charge(connection, charge: dict) -> list:
    """A charge read by a backfill: paid or failed, and the refunds it lists."""
    status = {"succeeded": "paid", "failed": "failed"}.get(charge.get("status"))
    records = []
    if status:
        record = charge_payment(charge, status)
        records += [record] if record else []
    order = order_reference(charge)
    for refund in (charge.get("refunds") or {}).get("data") or []:
        record = refund_payment(refund, order)
        records += [record] if record else []
    return records
