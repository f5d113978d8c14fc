"""Writing what a platform says (kervan.integrations.canonical records) into Kervan, through Kervan's own actions:
customers by identity resolution (the connection's Source scopes the platform's customer ids), orders through
order_create / order_set_status, refunds and returns through their actions, products and stock through the catalog's,
abandoned checkouts as "Started Checkout" events, consent into the ledger, privacy requests into the customer
privacy actions. Every platform's webhooks and polls land here; one way in.

Idempotency. A record is applied only if it is newer than the newest version applied of the same object
(SyncState: the platform's update time per object), so a retried or out-of-order delivery changes nothing; and
every write it makes is idempotent by itself (an order by (source, external id), a refund by its external id, an
event by its dedupe key), so even a record applied twice counts once. An order's status only moves forward (the
order actions' NEXT_STATUSES): a late "paid" after "shipped" is ignored.

`apply` runs a delivery's records in one transaction: all or nothing.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.audit import audit
from kervan.core.emails import normalize_email
from kervan.core.errors import KervanError
from kervan.core.phones import normalize_phone
from kervan.customers.actions import customer_create, customer_tags_change
from kervan.customers.consent import consent_record
from kervan.customers.identity import customer_identify, customer_resolve
from kervan.customers.models import ConsentRecord, Customer, Identity
from kervan.events.actions import event_record
from kervan.events.models import CanonicalEvent
from kervan.imports.orders_amounts import PATHS
from kervan.imports.orders_plan import GUEST_TAG
from kervan.integrations import canonical as c
from kervan.integrations.models import Connection, SyncState
from kervan.integrations.sync_catalogue import CatalogueWriter
from kervan.orders.actions.orders import NewOrder, order_create, order_set_status
from kervan.orders.actions.refunds import refund_create
from kervan.orders.actions.returns import return_create
from kervan.orders.actions.shipments import shipment_add
from kervan.orders.models import NEXT_STATUSES, Order, OrderStatus, Payment, ReturnReason, SalesChannel


class RetryLater(Exception):
    """What the record needs is not in Kervan yet (a payment for an order whose webhook has not arrived): the
    delivery is tried again later, and dead after its retries."""


@dataclass
class Result:
    """What a delivery or a page did, by record kind: {"orders": {"created": 1, "updated": 2, "ignored": 1}}."""

    counts: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)  # what was left out and why (shown on the delivery)

    def count(self, kind: str, what: str, n: int = 1) -> None:
        by_kind = self.counts.setdefault(kind, {})
        by_kind[what] = by_kind.get(what, 0) + n

    def note(self, text: str) -> None:
        if len(self.notes) < 50:
            self.notes.append(text)

    def as_dict(self) -> dict:
        return {"counts": self.counts, "notes": self.notes}


def apply(connection: Connection, records: list, *, actor: Actor | None = None, skip_failures: bool = False) -> Result:
    """Write `records` (one delivery, or a page of a poll or a backfill) in one transaction.

    A webhook delivery is all or nothing: a refused record (KervanError) fails it, to the dead-letter list, and one
    that needs what Kervan does not have yet (RetryLater) makes it wait. A backfill or poll (`skip_failures`) goes on
    past such a record — one bad order in a shop's ten-year history must not stop the rest, nor a payment of an order
    the shop no longer has — counting it as "refused" or "missing" with the reason in the notes."""
    actor = actor or Actor.system()
    result = Result()
    writer = Writer(connection, actor, result)
    with transaction.atomic():
        for record in records:
            if not skip_failures:
                writer.write(record)
                continue
            try:
                with transaction.atomic():
                    writer.write(record)
            except RetryLater as missing:
                writer.people.clear()
                result.count(_kind(record), "missing")
                result.note(str(missing))
            except KervanError as refused:
                writer.people.clear()
                result.count(_kind(record), "refused")
                result.note(refused.detail)
    return result


def _kind(record) -> str:
    """The counts' name for a record's kind (as backfills name theirs)."""
    if isinstance(record, (c.StoreOrder, c.OrderDeleted)):
        return "orders"
    if isinstance(record, (c.StoreCustomer, c.CustomerDeleted)):
        return "customers"
    if isinstance(record, (c.StoreProduct, c.ProductDeleted, c.StockLevel)):
        return "products"
    return "payments" if isinstance(record, c.OrderPayment) else "other"


class Writer(CatalogueWriter):
    def __init__(self, connection: Connection, actor: Actor, result: Result) -> None:
        self.connection = connection
        self.source = connection.source
        self.actor = actor
        self.result = result
        # The people this delivery named, resolved once: an order's payload names its customer for the order, the
        # profile and the consent alike. Forgotten when a record is rolled back (its savepoint may undo a creation).
        self.people: dict[c.StoreCustomer, tuple[Customer | None, bool]] = {}

    def write(self, record) -> None:
        handlers = {
            c.StoreCustomer: self.customer,
            c.StoreOrder: self.order,
            c.OrderRefunds: self.order_refunds,
            c.OrderPayment: self.payment,
            c.OrderDeleted: self.order_deleted,
            c.CustomerDeleted: self.customer_deleted,
            c.StoreProduct: self.product,
            c.ProductDeleted: self.product_deleted,
            c.StockLevel: self.stock,
            c.Checkout: self.checkout,
            c.ConsentChange: self.consent,
            c.PrivacyRequest: self.privacy,
        }
        handlers[type(record)](record)

    # -- versions ---------------------------------------------------------------------------------------------------

    def newer(self, kind: str, external_id: str, updated_at: dt.datetime | None) -> bool:
        """Whether this version of the object is newer than the newest applied (and, if so, remember it). An
        object without an update time is always applied: its writes are idempotent by themselves."""
        if not external_id or updated_at is None:
            return True
        state, created = SyncState.objects.select_for_update().get_or_create(
            connection=self.connection, kind=kind, external_id=external_id, defaults={"updated_at": updated_at}
        )
        if created:
            return True
        if updated_at <= state.updated_at:
            self.result.count(kind + "s", "ignored")
            return False
        state.updated_at = updated_at
        state.save(update_fields=["updated_at"])
        return True

    # -- customers --------------------------------------------------------------------------------------------------

    def customer(self, record: c.StoreCustomer) -> None:
        if not self.newer("customer", record.external_id, record.updated_at):
            return
        customer, created = self.find_or_create_customer(record)
        if customer is None:
            self.result.count("customers", "ignored")
            self.result.note(_("A customer without an id, email or phone was left out."))
            return
        if record.tags:
            customer_tags_change(actor=self.actor, customer_id=customer.pk, add=record.tags)
        self.result.count("customers", "created" if created else "updated")

    def find_or_create_customer(self, record: c.StoreCustomer) -> tuple[Customer | None, bool]:
        """The customer behind `record` (identity resolution: the store's id, then email, then phone), created if
        new; (None, False) when the record names nobody (a guest without contact details)."""
        if record not in self.people:
            self.people[record] = self._identify(record)
        return self.people[record]

    def _identify(self, record: c.StoreCustomer) -> tuple[Customer | None, bool]:
        email = _readable(normalize_email, record.email)
        phone = _readable(normalize_phone, record.phone, record.country or None)
        if not (record.external_id or email or phone):
            return None, False
        traits = {
            "first_name": record.first_name[:100],
            "last_name": record.last_name[:100],
            "city": record.city[:100],
            "country": record.country.upper()[:2] if len(record.country) == 2 else "",
            "language": record.language[:2].lower() if record.language else "",
            "birth_date": record.birth_date,
        }
        return customer_identify(
            actor=self.actor,
            email=email,
            phone=phone,
            source=self.source,
            source_customer_id=record.external_id,
            traits=traits,
        )

    def customer_deleted(self, record: c.CustomerDeleted) -> None:
        """The shop deleted its customer: the store's id no longer names them (the profile stays: its orders, and
        other stores' identities, are still Kervan's)."""
        identity = Identity.objects.filter(
            kind=Identity.Kind.SOURCE_ID, source=self.source, value=record.external_id
        ).first()
        if identity is None:
            self.result.count("customers", "ignored")
            return
        identity.delete()
        audit(
            actor=self.actor,
            action="update",
            obj=identity.customer,
            customer_id=identity.customer_id,
            changes={"store_customer_id": [f"{self.source.name}: {record.external_id}", None]},
        )
        self.result.count("customers", "unlinked")

    # -- orders -----------------------------------------------------------------------------------------------------

    def order(self, record: c.StoreOrder) -> None:
        if not self.newer("order", record.external_id, record.updated_at):
            return
        order = Order.objects.filter(source=self.source, external_id=record.external_id).first()
        if order is None and not record.lines:
            # What a Magento invoice or shipment says of its order (no lines: not the order itself) before the
            # order's own delivery arrived: wait for it (woomag).
            raise RetryLater(_("Order %(id)s is not in Kervan yet.") % {"id": record.external_id})
        if order is None:
            order = self.order_create(record)
            self.result.count("orders", "created")
        else:
            self.result.count("orders", "updated")
        self.order_status(order, record)
        if record.tracking_number and not order.shipments.filter(tracking_number=record.tracking_number).exists():
            if order.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
                shipment_add(
                    order=order,
                    carrier=record.carrier,
                    tracking_number=record.tracking_number,
                    shipped_at=record.shipped_at or record.updated_at or clock.now(),
                )
        self.refunds(order, record.refunds)
        if record.test:
            self.result.note(_("Order %(number)s is a test order of the platform.") % {"number": record.number})

    def order_create(self, record: c.StoreOrder) -> Order:
        customer, _created = self.find_or_create_customer(record.customer)
        if customer is None:  # a guest order: a profile of its own, as the file import keeps them
            customer = customer_create(actor=self.actor, tags=[GUEST_TAG], source=self.source)
        order, _created = order_create(
            actor=self.actor,
            new_order=NewOrder(
                customer=customer,
                lines=[
                    {
                        "sku": line.sku,
                        "title": line.title,
                        "quantity": line.quantity,
                        "unit_price": line.unit_price,
                        "discount": line.discount,
                        "tax": line.tax,
                    }
                    for line in record.lines
                ],
                placed_at=record.placed_at,
                currency=record.currency,
                shipping_total=record.shipping_total,
                total=record.total,
                source=self.source,
                external_id=record.external_id,
                number=record.number,
                sales_channel=record.sales_channel or SalesChannel.WEB,
                utm_source=record.utm_source,
                utm_medium=record.utm_medium,
                utm_campaign=record.utm_campaign,
                discount_codes=record.discount_codes,
            ),
            adjust_stock=False,  # the store keeps its stock and sends its own counts (products, stock levels)
        )
        return order

    def order_status(self, order: Order, record: c.StoreOrder) -> None:
        """Move the order towards the status the platform gives, through the statuses the import would record
        (kervan.imports.orders_amounts.PATHS), never back."""
        path = PATHS[record.status]
        if record.status == OrderStatus.DELIVERED:
            # order_set_status reaches delivered only from paid/fulfilled/shipped (NEXT_STATUSES); the import's path
            # skips paid because it writes the history itself. A delivered store order was paid (woomag).
            path = (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.DELIVERED)
        for status in path:
            if status == order.status or status not in NEXT_STATUSES[order.status]:
                continue
            order = order_set_status(
                actor=self.actor,
                order=order,
                status=status,
                occurred_at=_status_time(record, status),
                carrier=record.carrier,
                tracking_number=record.tracking_number,
                payment=self.payment_details(record) if status == OrderStatus.PAID else None,
                restock=False,
            )
        if order.status != record.status and record.status not in _reached(order):
            self.result.note(
                _("Order %(number)s stays %(current)s: the platform says %(status)s, which cannot follow it.")
                % {"number": order.number, "current": order.status, "status": record.status}
            )

    def payment_details(self, record: c.StoreOrder) -> dict:
        method = record.payment_method if record.payment_method in Payment.Method.values else Payment.Method.CARD
        return {"method": method, "provider": self.connection.platform}

    def refunds(self, order: Order, refunds) -> None:
        for refund in refunds:
            if order.refunds.filter(external_id=refund.external_id).exists():
                self.result.count("refunds", "ignored")
                continue
            try:
                with transaction.atomic():
                    returned = self.return_lines(order, refund)
                    refund_create(
                        actor=self.actor,
                        order=order,
                        amount=refund.amount,
                        note=refund.reason[:500],
                        occurred_at=refund.occurred_at,
                        external_id=refund.external_id,
                        return_request=returned,
                    )
            except KervanError as refused:  # e.g. more than the order has left: the rest of the delivery stands
                self.result.count("refunds", "refused")
                self.result.note(
                    _("Refund %(id)s of order %(number)s was not recorded: %(reason)s")
                    % {"id": refund.external_id, "number": order.number, "reason": refused.detail}
                )
                continue
            self.result.count("refunds", "created")

    def return_lines(self, order: Order, refund: c.StoreRefund):
        if not refund.lines or order.status == OrderStatus.CANCELLED:
            return None
        by_sku = {line.sku: line for line in order.lines.all() if line.sku}
        lines = [{"order_line_id": by_sku[sku].pk, "quantity": units} for sku, units in refund.lines if sku in by_sku]
        if not lines:
            return None
        returned, _created = return_create(
            actor=self.actor,
            order=order,
            lines=lines,
            reason=ReturnReason.OTHER,
            note=refund.reason[:500],
            occurred_at=refund.occurred_at,
            external_id=refund.external_id,
            restock=False,  # the store's own stock count comes with its stock updates
        )
        return returned

    def order_refunds(self, record: c.OrderRefunds) -> None:
        order = Order.objects.filter(source=self.source, external_id=record.order_external_id).first()
        if order is None:
            raise RetryLater(_("Order %(id)s is not in Kervan yet.") % {"id": record.order_external_id})
        self.refunds(order, record.refunds)

    def order_deleted(self, record: c.OrderDeleted) -> None:
        """The shop deleted an order: Kervan keeps its history (reports must not change behind the shop's back)
        but cancels it if it can still be cancelled."""
        order = Order.objects.filter(source=self.source, external_id=record.external_id).first()
        if order is None or OrderStatus.CANCELLED not in NEXT_STATUSES[order.status]:
            self.result.count("orders", "ignored")
            return
        order_set_status(
            actor=self.actor, order=order, status=OrderStatus.CANCELLED, note="deleted in the store", restock=False
        )
        self.result.count("orders", "cancelled")

    def payment(self, record: c.OrderPayment) -> None:
        """A payment platform's word on a store order, found by its id or number in any connected store."""
        order = (
            # A store's own transaction on its own order (Shopify order_transactions/create) first.
            Order.objects.filter(source=self.source, external_id=record.order_external_id).first()
            or Order.objects.filter(external_id=record.order_external_id).exclude(source=self.source).first()
            or Order.objects.filter(number=record.order_external_id).first()
        )
        if order is None:
            raise RetryLater(_("Order %(id)s is not in Kervan yet.") % {"id": record.order_external_id})
        key = f"payment:{self.connection.pk}:{record.reference}:{record.status}"
        amount = record.amount
        if record.currency and record.currency != order.currency:  # a payment in another currency than the order's
            self.result.note(
                _("Payment %(reference)s is in %(currency)s, order %(number)s in %(order_currency)s: recorded as the "
                  "order's total.") % {"reference": record.reference, "currency": record.currency,
                                       "number": order.number, "order_currency": order.currency}
            )  # fmt: skip
            amount = None
        if record.status == "paid" and OrderStatus.PAID in NEXT_STATUSES[order.status]:
            order_set_status(
                actor=self.actor,
                order=order,
                status=OrderStatus.PAID,
                occurred_at=record.occurred_at,
                payment={
                    "method": record.method if record.method in Payment.Method.values else Payment.Method.CARD,
                    "amount": amount,
                    "provider": self.connection.platform,
                    "reference": record.reference,
                    "installments": record.installments,
                },
            )
            self.result.count("payments", "paid")
        elif record.status == "refunded" and amount is not None:
            self.refunds(
                order,
                [c.StoreRefund(external_id=record.reference, amount=record.amount, occurred_at=record.occurred_at)],
            )
        elif record.status == "failed":
            event_record(
                name="Payment Failed",
                occurred_at=record.occurred_at,
                dedupe_key=key,
                customer_id=order.customer_id,
                source=self.source,
                properties={"order_id": order.pk, "number": order.number, "value": str(record.amount),
                            "currency": record.currency, "provider": self.connection.platform},
            )  # fmt: skip
            self.result.count("payments", "failed")
        else:
            self.result.count("payments", "ignored")

    # -- behaviour and consent --------------------------------------------------------------------------------------

    def checkout(self, record: c.Checkout) -> None:
        """An abandoned checkout becomes a "Started Checkout" event with the cart and the recovery link: the
        abandoned-cart flow starts from it, and the customer's next order ends that flow."""
        if record.completed:
            self.result.count("checkouts", "ignored")
            return
        customer, _created = self.find_or_create_customer(record.customer)
        if customer is None:  # nobody to write to
            self.result.count("checkouts", "ignored")
            return
        when = record.updated_at or record.occurred_at or clock.now()
        recorded = event_record(
            name=CanonicalEvent.STARTED_CHECKOUT,
            occurred_at=min(when, clock.now()),
            dedupe_key=f"checkout:{self.connection.pk}:{record.token}:{when.isoformat()}",
            customer_id=customer.pk,
            source=self.source,
            properties={
                "checkout_token": record.token,
                "value": str(record.total),
                "currency": record.currency,
                "recovery_url": record.recovery_url,
                "items": [
                    {
                        "sku": line.sku,
                        "title": line.title,
                        "quantity": line.quantity,
                        "price": str(line.unit_price),
                        "product_id": line.product_id,
                        "variant_id": line.variant_id,
                    }
                    for line in record.lines
                ],  # fmt: skip
            },
        )
        self.result.count("checkouts", "recorded" if recorded else "ignored")

    def consent(self, record: c.ConsentChange) -> None:
        key = f"{record.customer.external_id or record.customer.email}:{record.channel}"
        if not self.newer("consent", key, record.occurred_at):
            return
        customer, _created = self.find_or_create_customer(record.customer)
        if customer is None:
            self.result.count("consents", "ignored")
            return
        # The same connection repeating the state it last reported is not a new decision (OpenCart keeps no date
        # of a newsletter change, so its state is re-read and only a change may reach the ledger).
        source = f"{self.connection.get_platform_display()}: {self.connection.name}"[:100]
        status = ConsentRecord.Status.GRANTED if record.granted else ConsentRecord.Status.REFUSED
        last = (
            ConsentRecord.objects.filter(
                customer=customer, channel=record.channel, purpose=ConsentRecord.Purpose.MARKETING, source=source
            )
            .order_by("-occurred_at", "-id")
            .values_list("status", flat=True)
            .first()
        )
        if last == status:
            self.result.count("consents", "unchanged")
            return
        consent_record(
            actor=self.actor,
            customer=customer,
            channel=record.channel,
            status=status,
            source=source,
            proof=record.proof[:1000],
            occurred_at=min(record.occurred_at, clock.now()),
        )
        self.result.count("consents", "recorded")

    def privacy(self, record: c.PrivacyRequest) -> None:
        from kervan.customers import privacy

        if record.kind == "erase_shop":
            erased = privacy.customers_anonymise_all(
                actor=self.actor, source=self.source, reason=_("%(platform)s asked to erase the shop's data.")
                % {"platform": self.connection.get_platform_display()}
            )  # fmt: skip
            self.result.count("privacy", "anonymised", erased)
            return
        customer = self.privacy_customer(record)
        if customer is None:
            self.result.count("privacy", "not_found")
            return
        if record.kind == "export":
            export = privacy.customer_data_export(actor=self.actor, customer=customer)
            self.result.counts.setdefault("privacy", {})["export"] = export
        else:
            privacy.customer_anonymise(
                actor=self.actor,
                customer=customer,
                reason=_("%(platform)s asked to erase the customer's data.")
                % {"platform": self.connection.get_platform_display()},
            )
            self.result.count("privacy", "anonymised")

    def privacy_customer(self, record: c.PrivacyRequest) -> Customer | None:
        person = record.customer or c.StoreCustomer()
        email = _readable(normalize_email, person.email)
        phone = _readable(normalize_phone, person.phone)
        customer = customer_resolve(email=email, phone=phone, source=self.source, source_customer_id=person.external_id)
        if customer is None and record.order_external_ids:
            order = Order.objects.filter(source=self.source, external_id__in=record.order_external_ids).first()
            customer = order.customer if order else None
        return customer


def _readable(normalize, value: str, *args) -> str:
    """A platform's email or phone as Kervan stores it, or "" when it cannot be read (the record is still kept)."""
    if not value:
        return ""
    try:
        return normalize(value, *args)
    except KervanError:
        return ""


def _status_time(record: c.StoreOrder, status: str) -> dt.datetime:
    when = {
        OrderStatus.PAID: record.paid_at,
        OrderStatus.FULFILLED: record.shipped_at,
        OrderStatus.SHIPPED: record.shipped_at,
        OrderStatus.DELIVERED: record.delivered_at,
        OrderStatus.CANCELLED: record.cancelled_at,
    }.get(status)
    chosen = when or record.updated_at or record.placed_at
    return max(min(chosen, clock.now()), record.placed_at)


def _reached(order: Order) -> set[str]:
    return set(order.status_changes.values_list("status", flat=True))
