"""The settings of one file, chosen beside its column mapping: what its cells mean where the cells do not say.

- currency: the orders' currency when the file has no currency column (or a row leaves it empty);
- time_zone: the zone of its times that carry no offset (a UK shop's 08:26 is 08:26 in London);
- date_order: "dmy" or "mdy" for dates like 12/1/2010 (a four-digit first number is always year-month-day);
- decimal: "auto", "." or "," — which character separates the decimals of its amounts;
- statuses: {a status as the file writes it: a Kervan status} for every distinct value of its status column;
- default_status: the status of an order whose row has none (a history export without a status column holds
  completed sales: "delivered");
- cancel_prefix: an order number starting with it is a cancellation document ("C" in C536379, the UCI layout);
- guest_ids: store customer ids that mean "no customer" ("0" in WooCommerce);
- phone_region: the country a phone number without a country code is read in;
- sales_channel, marketplace: of the orders whose row does not say (a Trendyol export: marketplace, trendyol).

Saved with the mapping per source (ImportProfile) and offered for the source's next file.
"""

import zoneinfo
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.core.errors import KervanError
from kervan.imports.codes import COUNTRIES, CURRENCIES
from kervan.imports.values import DATE_ORDERS, DECIMAL_SEPARATORS, fold_choice
from kervan.orders.models import Marketplace, OrderStatus, SalesChannel

# What a status of the file can become: an order status, or one of these outcomes.
RETURNED = "returned"  # delivered, then every line came back and was refunded
REFUNDED = "refunded"  # paid, then the whole amount was refunded
SKIP = "skip"  # not an order to keep (a draft, an abandoned checkout): its rows are counted as skipped
STATUS_CHOICES = (
    *OrderStatus.choices,
    (RETURNED, gettext_lazy("Returned and refunded")),
    (REFUNDED, gettext_lazy("Refunded in full")),
    (SKIP, gettext_lazy("Do not import these orders")),
)
STATUS_VALUES = tuple(value for value, _label in STATUS_CHOICES)

# Suggestions for the statuses shops and platforms write (compared folded: case, Turkish letters, spaces).
_SUGGESTED = {
    OrderStatus.PLACED: (
        "placed", "new", "yeni", "beklemede", "alindi", "siparis alindi", "pending", "pending payment", "open",
        "on-hold", "on hold", "acik", "created", "olusturuldu", "awaiting payment", "odeme bekleniyor", "authorized",
        "unpaid", "partially_paid", "partially paid", "pending_payment", "holded",
    ),
    OrderStatus.PAID: (
        "paid", "odendi", "onaylandi", "odeme alindi", "processing", "hazirlaniyor", "approved", "invoiced",
        "faturalandi", "faturalandirildi", "confirmed", "partially_refunded", "partially refunded", "processed",
        "canceled reversal", "cancelled reversal",  # OpenCart: a payment reversal withdrawn, the money kept
    ),
    OrderStatus.FULFILLED: ("fulfilled", "hazirlandi", "paketlendi", "packed", "ready to ship", "picking", "ready"),
    OrderStatus.SHIPPED: (
        "shipped", "kargoda", "kargolandi", "kargoya verildi", "in transit", "in_transit", "dispatched", "sent",
        "gonderildi", "yolda", "shipping", "tasiniyor",
    ),
    OrderStatus.DELIVERED: (
        "delivered", "teslim edildi", "completed", "complete", "tamamlandi", "closed", "teslim alindi",
    ),
    OrderStatus.CANCELLED: (
        "cancelled", "canceled", "iptal", "iptal edildi", "unavailable", "voided", "void", "failed", "declined",
        "rejected", "reddedildi", "tedarik edilemedi", "cancel", "iptal edilen", "denied", "expired",
    ),
    RETURNED: ("returned", "iade", "iade edildi", "iade alindi", "return", "returned to sender", "iade edilen"),
    REFUNDED: ("refunded", "odeme iadesi", "ucret iadesi", "para iadesi", "geri odendi", "reversed", "chargeback"),
    SKIP: ("draft", "checkout-draft", "checkout draft", "trash", "abandoned", "taslak"),
}  # fmt: skip
SUGGESTIONS = {spelling: status for status, spellings in _SUGGESTED.items() for spelling in spellings}


def status_key(value: str) -> str:
    """A status cell as the mapping compares it: folded, with runs of spaces, "_" and "-" as one space."""
    return " ".join(fold_choice(value).replace("_", " ").replace("-", " ").split())


_SUGGESTION_KEYS = {status_key(spelling): status for spelling, status in SUGGESTIONS.items()}


def suggest_status(value: str, extra: dict[str, str] | None = None) -> str:
    """The Kervan status suggested for a status the file writes ("" when there is no good guess)."""
    key = status_key(value)
    if extra:
        for spelling, status in extra.items():
            if status_key(spelling) == key:
                return status
    return _SUGGESTION_KEYS.get(key, "")


@dataclass
class FileSettings:
    currency: str = ""
    time_zone: str = ""
    date_order: str = "dmy"
    decimal: str = "auto"
    statuses: dict[str, str] = field(default_factory=dict)
    default_status: str = OrderStatus.DELIVERED
    cancel_prefix: str = ""
    guest_ids: list[str] = field(default_factory=list)
    phone_region: str = ""
    sales_channel: str = SalesChannel.WEB
    marketplace: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def zone(self) -> str:
        return self.time_zone or settings.TIME_ZONE

    def status_of(self, raw: str) -> str | None:
        """The Kervan status (or RETURNED/REFUNDED/SKIP) the file's `raw` status is mapped to; None if unmapped."""
        return self._lookup.get(status_key(raw))

    def __post_init__(self) -> None:
        self._lookup = {status_key(k): v for k, v in self.statuses.items()}


SETTING_LABELS = {
    "currency": gettext_lazy("Currency"),
    "time_zone": gettext_lazy("Time zone"),
    "date_order": gettext_lazy("Date order"),
    "decimal": gettext_lazy("Decimal separator"),
    "default_status": gettext_lazy("Status of orders without one"),
    "cancel_prefix": gettext_lazy("Cancellation number prefix"),
    "guest_ids": gettext_lazy("Customer ids that mean a guest"),
    "phone_region": gettext_lazy("Country of phone numbers"),
    "statuses": gettext_lazy("Statuses"),
    "sales_channel": gettext_lazy("Sales channel"),
    "marketplace": gettext_lazy("Marketplace"),
}


def clean_settings(data, *, source=None) -> FileSettings:
    """Check settings given by a user (the mapping page, the API, a --mapping file); a bad one is refused naming
    it. An empty currency or time zone falls back to the source's (then the shop's) when the file is read."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise KervanError(_("The settings must be an object."), "invalid_settings", field="settings")
    known = set(FileSettings.__dataclass_fields__)
    for name in data:
        if name not in known:
            raise KervanError(
                _("'%(name)s' is not a setting of an import.") % {"name": name}, "unknown_setting", field="settings"
            )
    values = FileSettings()
    currency = str(data.get("currency") or "").strip().upper()
    if currency and currency not in CURRENCIES:
        raise KervanError(
            _("'%(value)s' is not a currency code such as TRY.") % {"value": data.get("currency")},
            "invalid_currency",
            field="currency",
        )
    values.currency = currency
    zone = str(data.get("time_zone") or "").strip()
    if zone:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise KervanError(
                _("'%(value)s' is not a time zone such as Europe/Istanbul.") % {"value": zone},
                "invalid_time_zone",
                field="time_zone",
            )
    values.time_zone = zone
    values.date_order = _choice(data, "date_order", DATE_ORDERS, values.date_order)
    values.decimal = _choice(data, "decimal", DECIMAL_SEPARATORS, values.decimal)
    values.default_status = _choice(
        data, "default_status", [s for s in STATUS_VALUES if s != SKIP], values.default_status
    )
    values.cancel_prefix = str(data.get("cancel_prefix") or "").strip()[:10]
    guest_ids = data.get("guest_ids") or []
    if isinstance(guest_ids, str):
        guest_ids = [v for v in guest_ids.split(",")]
    if not isinstance(guest_ids, list):
        raise KervanError(_("guest_ids must be a list."), "invalid_settings", field="guest_ids")
    values.guest_ids = [str(v).strip() for v in guest_ids if str(v).strip()][:20]
    region = str(data.get("phone_region") or "").strip().upper()
    if region and region not in COUNTRIES:
        raise KervanError(
            _("'%(value)s' is not a two-letter country code such as TR.") % {"value": region},
            "invalid_country",
            field="phone_region",
        )
    values.phone_region = region
    values.sales_channel = _choice(data, "sales_channel", SalesChannel.values, values.sales_channel)
    values.marketplace = _choice(data, "marketplace", [m for m in Marketplace.values if m], values.marketplace)
    statuses = data.get("statuses") or {}
    if not isinstance(statuses, dict):
        raise KervanError(_("statuses must be an object {status in the file: status}."), "invalid_settings")
    for raw, status in statuses.items():
        if status not in STATUS_VALUES:
            raise KervanError(
                _("'%(status)s' is not a status an order can be imported as (for '%(value)s').")
                % {"status": status, "value": raw},
                "invalid_status",
                field="statuses",
            )
    values.statuses = {str(k): v for k, v in statuses.items()}
    values.__post_init__()
    del source  # reserved: settings that depend on the source (none yet)
    return values


def _choice(data: dict, name: str, choices, default: str) -> str:
    value = data.get(name)
    if value in (None, ""):
        return default
    if value not in choices:
        raise KervanError(
            _("%(setting)s must be one of: %(choices)s.")
            % {"setting": SETTING_LABELS[name], "choices": ", ".join(choices)},
            "invalid_setting",
            field=name,
        )
    return value
