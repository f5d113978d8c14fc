import datetime as dt
from decimal import Decimal

from ninja import Field, Schema

from kervan.core.api import DateTimeIn, InputSchema


class CustomerIn(InputSchema):
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=40)
    birth_date: dt.date | None = None
    gender: str = ""
    city: str = Field("", max_length=100)
    country: str = "TR"
    language: str = "tr"
    time_zone: str = "Europe/Istanbul"
    tags: list[str] = Field(default_factory=list, max_length=50)
    custom_fields: dict = Field(default_factory=dict)


class CustomerPatch(InputSchema):
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=40)
    birth_date: dt.date | None = None
    gender: str | None = None
    city: str | None = Field(None, max_length=100)
    country: str | None = None
    language: str | None = None
    time_zone: str | None = None
    tags: list[str] | None = Field(None, max_length=50)
    custom_fields: dict | None = None


class StatsOut(Schema):
    """The customer's totals, kept with every order change (README, "Customer totals"; `manage.py stats_rebuild`
    recomputes them from the orders)."""

    currency: str
    total_spent: Decimal = Field(
        description="Net value of the orders not cancelled: each order's total (lines after discounts, tax, shipping) "
        "minus what was refunded on it. An order counts from when it is placed, paid or not (cash on delivery, a "
        "bank transfer not yet received); a cancelled one never does."
    )
    order_count: int = Field(description="Orders not cancelled, fully refunded ones included.")
    average_order_value: Decimal = Field(
        description="total_spent / order_count, rounded half-to-even to 0.01; 0 without orders. Fully refunded "
        "orders are counted, so they lower it."
    )
    first_order_at: dt.datetime | None = Field(
        description="When the earliest order not cancelled was placed (its placed_at); null without one."
    )
    last_order_at: dt.datetime | None = Field(
        description="When the latest order not cancelled was placed (its placed_at); null without one."
    )
    returns_count: int = Field(
        description="Returns recorded: one return counts once, however many items and units it brings back."
    )
    refunded_total: Decimal = Field(description="Every refund on the customer's orders, cancelled orders included.")
    last_event_at: dt.datetime | None = Field(
        description="Last seen: the time of the customer's latest event (page view, order …), up to a minute "
        "behind it. Not an order total."
    )


class CustomerOut(Schema):
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    birth_date: dt.date | None
    gender: str
    city: str
    country: str
    language: str
    time_zone: str
    created_at: dt.datetime
    merged_into_id: int | None
    anonymised_at: dt.datetime | None = None  # when the person's data was erased (customers.privacy)
    consent: dict[str, str]
    stats: StatsOut | None


class IdentityOut(Schema):
    kind: str
    value: str
    source: str | None


class Customer360Out(CustomerOut):
    tags: list[str]
    custom_fields: dict
    identities: list[IdentityOut]
    consents: dict


class CustomerPage(Schema):
    items: list[CustomerOut]
    next_cursor: str | None


class NoteIn(InputSchema):
    body: str = Field(..., max_length=10_000)


class PersonalDataAnonymiseIn(InputSchema):
    reason: str = Field(..., max_length=500)  # why (a request by the person, a store removed …), for the audit log


class IdentityIn(InputSchema):
    kind: str
    value: str = Field(..., max_length=254)
    source: str | None = None  # Source.key, for store customer ids


class ConsentIn(InputSchema):
    channel: str
    status: str
    purpose: str = "marketing"
    source: str = Field("", max_length=100)
    proof: str = Field("", max_length=5000)
    occurred_at: DateTimeIn | None = None
    iys_source: str = ""
    recipient_type: str = "BIREYSEL"
    address: str = Field("", max_length=254)


class ConsentOut(Schema):
    id: int
    channel: str
    purpose: str
    status: str
    source: str
    proof: str
    occurred_at: dt.datetime
    address: str
    iys_channel: str
    iys_status: str
    iys_source: str
    iys_recipient_type: str


class MergeIn(InputSchema):
    merged_id: int


class DuplicateOut(Schema):
    customer: CustomerOut
    reasons: list[str]


class TimelineItemOut(Schema):
    kind: str
    id: int
    occurred_at: dt.datetime
    title: str
    data: dict


class TimelinePage(Schema):
    items: list[TimelineItemOut]
    next_cursor: str | None


class CustomFieldIn(InputSchema):
    key: str = Field(..., pattern=r"^[a-z][a-z0-9_]{0,49}$")
    label: str = Field(..., min_length=1, max_length=100)
    field_type: str
    choices: list[str] = Field(default_factory=list, max_length=100)
    required: bool = False


class CustomFieldOut(Schema):
    key: str
    label: str
    field_type: str
    choices: list[str]
    required: bool
