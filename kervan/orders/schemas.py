import datetime as dt
from decimal import Decimal

from ninja import Field, Schema

from kervan.core.api import DateTimeIn, InputSchema


class LineIn(InputSchema):
    sku: str = Field("", max_length=64)
    title: str = Field("", max_length=255)
    quantity: int = Field(..., ge=1, le=100_000)
    unit_price: Decimal = Field(..., ge=0, max_digits=14, decimal_places=2)
    discount: Decimal = Field(Decimal("0"), ge=0, max_digits=14, decimal_places=2)
    tax: Decimal = Field(Decimal("0"), ge=0, max_digits=14, decimal_places=2)


class OrderIn(InputSchema):
    customer_id: int
    lines: list[LineIn] = Field(..., min_length=1, max_length=500)
    placed_at: DateTimeIn | None = None
    currency: str = "TRY"
    shipping_total: Decimal = Field(Decimal("0"), ge=0, max_digits=14, decimal_places=2)
    total: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    source: str | None = None
    external_id: str = Field("", max_length=64)
    number: str = Field("", max_length=64)
    status: str = "placed"
    sales_channel: str = "web"
    marketplace: str = ""
    utm_source: str = Field("", max_length=100)
    utm_medium: str = Field("", max_length=100)
    utm_campaign: str = Field("", max_length=100)
    discount_codes: list[str] = Field(default_factory=list, max_length=20)


class PaymentIn(InputSchema):
    method: str = "card"
    amount: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    provider: str = Field("", max_length=40)
    reference: str = Field("", max_length=100)
    installments: int = Field(1, ge=1, le=36)


class StatusIn(InputSchema):
    status: str
    occurred_at: DateTimeIn | None = None
    carrier: str = Field("", max_length=60)
    tracking_number: str = Field("", max_length=100)
    note: str = Field("", max_length=500)
    payment: PaymentIn | None = None


class ReturnLineIn(InputSchema):
    order_line_id: int
    quantity: int = Field(..., ge=1)


class ReturnIn(InputSchema):
    lines: list[ReturnLineIn] = Field(..., min_length=1, max_length=500)
    reason: str
    note: str = Field("", max_length=2000)
    occurred_at: DateTimeIn | None = None
    external_id: str = Field("", max_length=64)
    restock: bool = True


class RefundIn(InputSchema):
    amount: Decimal = Field(..., gt=0, max_digits=14, decimal_places=2)
    reason: str = "other"
    note: str = Field("", max_length=2000)
    occurred_at: DateTimeIn | None = None
    external_id: str = Field("", max_length=64)
    return_id: int | None = None


class LineOut(Schema):
    id: int
    sku: str
    title: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    returned_quantity: int


class StatusChangeOut(Schema):
    status: str
    occurred_at: dt.datetime
    details: dict


class OrderOut(Schema):
    id: int
    number: str
    customer_id: int
    status: str
    currency: str
    subtotal: Decimal
    discount_total: Decimal
    tax_total: Decimal
    shipping_total: Decimal
    total: Decimal
    refunded_total: Decimal
    sales_channel: str
    marketplace: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    external_id: str
    placed_at: dt.datetime


class OrderDetailOut(OrderOut):
    lines: list[LineOut]
    timeline: list[StatusChangeOut]

    @staticmethod
    def resolve_timeline(order):
        return list(order.status_changes.all())


class OrderPage(Schema):
    items: list[OrderOut]
    next_cursor: str | None
