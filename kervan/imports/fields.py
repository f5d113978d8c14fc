"""What each kind of import can fill, how a column header is recognised (Turkish or English), and mapping checks.

A mapping is {column header: field name}; a column mapped to "" (or left out) is not imported.
"""

import re
from dataclasses import dataclass

from django.utils.text import get_text_list
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kervan.core.errors import KervanError
from kervan.core.text import search_fold
from kervan.imports.models import ImportKind

CUSTOM_PREFIX = "custom."


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    headers: tuple[str, ...] = ()  # recognised header spellings, compared after folding


def _f(name, label, *headers) -> Field:
    return Field(name, label, headers)


_PERSON = (
    _f(
        "email",
        _("Email"),
        "e-posta",
        "eposta",
        "e-mail",
        "email",
        "mail",
        "e-posta adresi",
        "email address",
        "mail adresi",
        "musteri e-posta",
        "customer email",
    ),
    _f(
        "phone",
        _("Phone"),
        "telefon",
        "tel",
        "cep",
        "cep telefonu",
        "gsm",
        "phone",
        "mobile",
        "phone number",
        "telefon numarasi",
        "cep tel",
        "mobile phone",
        "musteri telefon",
    ),
    _f("first_name", _("First name"), "ad", "adi", "isim", "first name", "firstname", "given name"),
    _f("last_name", _("Last name"), "soyad", "soyadi", "soyisim", "last name", "lastname", "surname", "family name"),
    _f(
        "full_name",
        _("Full name (first and last)"),
        "ad soyad",
        "adi soyadi",
        "isim soyisim",
        "full name",
        "name",
        "musteri adi",
        "customer name",
        "musteri",
        "customer",
        "alici",
        "alici adi",
    ),
    _f("city", _("City"), "sehir", "il", "city", "town"),
)

# The shop's own number for the customer: matched within the import's source (Identity "store customer id").
STORE_CUSTOMER_ID = _f(
    "customer_id",
    _("Customer id (in the store)"),
    "customer id",
    "customerid",
    "customer no",
    "customer number",
    "musteri no",
    "musteri id",
    "musteri numarasi",
    "musteri kodu",
    "uye no",
    "uye id",
    "cari kod",
)

CUSTOMER_FIELDS = (
    *_PERSON,
    STORE_CUSTOMER_ID,
    _f(
        "birth_date",
        _("Birth date"),
        "dogum tarihi",
        "birth date",
        "birthdate",
        "date of birth",
        "dob",
        "birthday",
        "dogum gunu",
    ),
    _f("gender", _("Gender"), "cinsiyet", "gender", "sex"),
    _f("country", _("Country (two letters)"), "ulke", "country", "ulke kodu", "country code"),
    _f("language", _("Language"), "dil", "language"),
    _f("tags", _("Tags"), "etiketler", "etiket", "tags", "tag", "labels"),
    _f(
        "consent_email",
        _("Email marketing consent"),
        "e-posta izni",
        "eposta izni",
        "email izni",
        "email consent",
        "e-posta onayi",
        "accepts email marketing",
        "email marketing",
        "bulten",
        "newsletter",
    ),
    _f(
        "consent_sms",
        _("SMS marketing consent"),
        "sms izni",
        "sms consent",
        "sms onayi",
        "accepts sms marketing",
        "sms marketing",
    ),
    _f("consent_call", _("Phone call consent"), "arama izni", "call consent", "telefon izni"),
    _f("consent_whatsapp", _("WhatsApp consent"), "whatsapp izni", "whatsapp consent"),
)

PRODUCT_FIELDS = (
    _f("sku", _("SKU"), "sku", "stok kodu", "urun kodu", "variant sku", "model kodu", "stock code", "varyant kodu"),
    _f(
        "title",
        _("Product title"),
        "urun adi",
        "urun",
        "title",
        "product",
        "product name",
        "name",
        "ad",
        "baslik",
        "urun ismi",
    ),
    _f("variant_title", _("Variant title"), "varyant", "secenek", "variant", "variant title", "option", "varyant adi"),
    _f(
        "product_id",
        _("Product id (groups variants)"),
        "urun id",
        "product id",
        "handle",
        "grup kodu",
        "ana urun kodu",
        "parent sku",
        "product handle",
        "ana sku",
    ),
    _f("price", _("Price"), "fiyat", "satis fiyati", "price", "variant price", "birim fiyat", "sale price"),
    _f(
        "compare_at_price",
        _("Compare-at price"),
        "liste fiyati",
        "piyasa fiyati",
        "eski fiyat",
        "compare at price",
        "compare-at price",
        "list price",
        "original price",
        "variant compare at price",
    ),
    _f("currency", _("Currency"), "para birimi", "doviz", "currency", "kur"),
    _f(
        "stock",
        _("Stock"),
        "stok",
        "stok adedi",
        "stok miktari",
        "stock",
        "inventory",
        "inventory quantity",
        "qty",
        "quantity",
        "variant inventory qty",
        "adet",
    ),
    _f("barcode", _("Barcode"), "barkod", "barcode", "ean", "gtin", "variant barcode"),
    _f("brand", _("Brand"), "marka", "brand", "vendor", "uretici"),
    _f("category", _("Category"), "kategori", "category", "product type", "urun tipi", "type"),
    _f("description", _("Description"), "aciklama", "description", "body", "urun aciklamasi", "body html"),
    _f("is_active", _("Active (yes/no)"), "aktif", "active", "yayinda", "published"),
)

ORDER_FIELDS = (
    _f(
        "order_number",
        _("Order number"),
        "siparis no",
        "siparis numarasi",
        "siparis",
        "order number",
        "order no",
        "order id",
        "order",
        "order name",
        "siparis kodu",
        "invoice no",
        "invoice",
        "fatura no",
    ),
    _f(
        "order_name",
        _("Order number shown to the customer"),
        "order name shown",
        "display number",
        "gorunen siparis no",
    ),
    _f(
        "placed_at",
        _("Order date"),
        "siparis tarihi",
        "tarih",
        "order date",
        "date",
        "created at",
        "placed at",
        "olusturma tarihi",
        "invoice date",
        "purchase date",
        "order purchase timestamp",
    ),
    _f("status", _("Status"), "durum", "siparis durumu", "status", "order status", "siparis statusu"),
    _f("currency", _("Currency"), "para birimi", "doviz", "currency", "kur", "order currency"),
    STORE_CUSTOMER_ID,
    *_PERSON,
    _f("country", _("Country"), "ulke", "country", "shipping country", "teslimat ulkesi", "ulke kodu", "country code"),
    _f("sku", _("SKU"), "sku", "stok kodu", "urun kodu", "lineitem sku", "variant sku", "stock code", "product id"),
    _f(
        "title",
        _("Product title"),
        "urun adi",
        "urun",
        "product",
        "product name",
        "lineitem name",
        "item",
        "title",
        "description",
    ),
    _f("quantity", _("Quantity"), "adet", "miktar", "quantity", "qty", "lineitem quantity"),
    _f("unit_price", _("Unit price"), "birim fiyat", "fiyat", "unit price", "price", "lineitem price", "birim fiyati"),
    _f("line_total", _("Line total"), "line total", "satir toplami", "satis tutari", "line amount", "item total"),
    _f(
        "line_discount",
        _("Line discount"),
        "indirim",
        "satir indirimi",
        "discount",
        "lineitem discount",
        "line discount",
        "indirim tutari",
    ),
    _f("line_tax", _("Line tax"), "kdv", "vergi", "tax", "line tax", "kdv tutari"),
    _f("line_shipping", _("Shipping per line (added up)"), "freight", "freight value", "satir kargo"),
    _f("shipping_total", _("Shipping"), "kargo", "kargo ucreti", "kargo tutari", "shipping", "shipping total"),
    _f("total", _("Order total"), "toplam", "siparis toplami", "genel toplam", "total", "order total"),
    _f(
        "refunded_amount",
        _("Refunded amount"),
        "refunded amount",
        "iade tutari",
        "total refunded",
        "refunded",
        "iade edilen tutar",
    ),
    _f(
        "original_order",
        _("Original order (of a cancellation or return)"),
        "original order",
        "original order number",
        "parent order",
        "parent id",
        "refund for",
        "iade edilen siparis",
        "asil siparis",
    ),
    _f("paid_at", _("Paid at"), "paid at", "paid date", "odeme tarihi"),
    _f("cancelled_at", _("Cancelled at"), "cancelled at", "canceled at", "iptal tarihi"),
    _f("fulfillment_status", _("Fulfillment status"), "fulfillment status", "gonderim durumu"),
    _f("sales_channel", _("Sales channel"), "satis kanali", "kanal", "channel", "sales channel"),
    _f("marketplace", _("Marketplace"), "pazaryeri", "pazar yeri", "marketplace"),
    _f(
        "carrier",
        _("Carrier"),
        "kargo firmasi",
        "kargo sirketi",
        "carrier",
        "shipping carrier",
        # Not "shipping company": Shopify, WooCommerce and OpenCart exports name the shipping address's company so.
    ),
    _f(
        "tracking_number",
        _("Tracking number"),
        "takip no",
        "kargo takip no",
        "takip numarasi",
        "tracking number",
        "tracking",
        "kargo takip numarasi",
    ),
    _f(
        "discount_codes",
        _("Discount codes"),
        "kupon",
        "kupon kodu",
        "indirim kodu",
        "discount code",
        "discount codes",
        "coupon",
    ),
    _f("utm_source", _("UTM source"), "utm source", "utm_source"),
    _f("utm_medium", _("UTM medium"), "utm medium", "utm_medium"),
    _f("utm_campaign", _("UTM campaign"), "utm campaign", "utm_campaign"),
    _f("line_item", _("Line item (name:…|sku:…|quantity:…|total:…)"), "line item"),
    _f("refund_items", _("Refunds (amount:…|reason:…|date:…)"), "refund items"),
)

# A payments file of related files (kervan.imports.related): one row per payment of an order.
PAYMENT_FIELDS = (
    _f("payment_amount", _("Payment amount"), "payment value", "payment amount", "amount", "odeme tutari", "tutar"),
    _f(
        "payment_method",
        _("Payment method"),
        "payment type",
        "payment method",
        "method",
        "odeme tipi",
        "odeme yontemi",
        "odeme sekli",
    ),
    _f("payment_installments", _("Installments"), "payment installments", "installments", "taksit", "taksit sayisi"),
    _f("payment_date", _("Payment date"), "payment date", "paid at", "odeme tarihi", "date"),
    _f("payment_sequence", _("Payment number (in its order)"), "payment sequential", "payment sequence", "sequence"),
    _f("payment_provider", _("Payment provider"), "payment provider", "provider", "gateway", "odeme saglayici"),
    _f(
        "payment_reference",
        _("Payment reference"),
        "payment reference",
        "reference",
        "transaction id",
        "payment id",
        "islem no",
    ),
    _f("payment_status", _("Payment status"), "payment status", "odeme durumu"),
)
# A reviews file of related files: one row per review of an order (or of a product of it).
REVIEW_FIELDS = (
    _f("review_id", _("Review id"), "review id", "yorum id", "degerlendirme id"),
    _f("review_rating", _("Rating (1 to 5)"), "review score", "rating", "score", "stars", "puan", "yildiz"),
    _f("review_title", _("Review title"), "review comment title", "review title", "title", "baslik"),
    _f(
        "review_text",
        _("Review text"),
        "review comment message",
        "review text",
        "comment",
        "message",
        "review",
        "yorum",
    ),
    _f("review_date", _("Review date"), "review creation date", "review date", "created at", "date", "tarih"),
    _f("review_sku", _("Reviewed product (SKU)"), "sku", "product id", "product sku", "stok kodu", "urun kodu"),
)

# Fields several columns may be mapped to (WooCommerce's line_item_1, line_item_2 …).
MULTI = {"line_item"}

FIELDS = {
    ImportKind.CUSTOMERS: CUSTOMER_FIELDS,
    ImportKind.PRODUCTS: PRODUCT_FIELDS,
    ImportKind.ORDERS: ORDER_FIELDS,
    # Related files: the customers, orders and items files fill order fields, the others their own.
    ImportKind.RELATED: (*ORDER_FIELDS, *PAYMENT_FIELDS, *REVIEW_FIELDS),
}

# Each group must have at least one of its fields mapped (orders: see missing_groups).
REQUIRED = {
    ImportKind.CUSTOMERS: [("email", "phone", "customer_id")],
    ImportKind.PRODUCTS: [("sku",)],
    ImportKind.ORDERS: [("order_number",), ("placed_at",)],
    ImportKind.RELATED: [],  # checked file by file (kervan.imports.related_check.check_related_mapping)
}
# An order file has a line per row (a price and a product), WooCommerce's encoded line items, or one row per order
# without lines (Magento's order grid): then it needs the order's total.
LINE_FIELDS = {"sku", "title", "quantity", "unit_price", "line_total", "line_discount", "line_tax", "line_shipping"}


def missing_groups(kind: str, mapped: set[str]) -> list[tuple[str, ...]]:
    """The groups of fields of which none is mapped, each group one thing the import cannot do without."""
    missing = [group for group in REQUIRED[kind] if not mapped & set(group)]
    if kind == ImportKind.ORDERS and "line_item" not in mapped:
        if mapped & LINE_FIELDS:
            missing += [g for g in (("unit_price", "line_total"), ("sku", "title")) if not mapped & set(g)]
        elif "total" not in mapped:
            missing.append(("unit_price", "line_total", "total"))
    return missing


def kind_fields(kind: str) -> list[Field]:
    """The fields of `kind`, with the customer custom fields an Admin defined (as "custom.<key>") for customers."""
    if kind not in FIELDS:
        raise KervanError(
            gettext("kind must be one of: %(choices)s.") % {"choices": ", ".join(FIELDS)}, "invalid_kind", field="kind"
        )
    fields = list(FIELDS[kind])
    if kind == ImportKind.CUSTOMERS:
        from kervan.customers.models import CustomFieldDefinition

        for definition in CustomFieldDefinition.objects.all():
            fields.append(Field(CUSTOM_PREFIX + definition.key, definition.label, (definition.key, definition.label)))
    return fields


_SEPARATORS = re.compile(r"[\s_\-./:()#*]+")


def _header_key(text: str) -> str:
    return _SEPARATORS.sub(" ", search_fold(text)).strip()


def guess_mapping(kind: str, columns: list[str], known: dict[str, str] | None = None) -> dict[str, str]:
    """{column: field} for the columns whose header is a known spelling of a field (`known`: {header: field} of a
    preset, looked at first; a header it maps to "" is left unmapped); each field at most once, but every "line item N"
    column of a WooCommerce export."""
    left_out = {_header_key(header) for header, name in (known or {}).items() if not name}
    lookup: dict[str, str] = {}
    for header, name in (known or {}).items():
        lookup.setdefault(_header_key(header), name)
    for field in kind_fields(kind):
        for spelling in (field.name, *field.headers):
            lookup.setdefault(_header_key(spelling), field.name)
            lookup.setdefault(_header_key(spelling).replace(" ", ""), field.name)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for column in columns:
        key = _header_key(column)
        if key in left_out:
            continue
        name = lookup.get(key) or lookup.get(key.replace(" ", ""))
        if name is None and kind == ImportKind.ORDERS and _NUMBERED_LINE_ITEM.fullmatch(key):
            name = "line_item"
        if name and (name not in used or name in MULTI):
            mapping[column] = name
            used.add(name)
    return mapping


_NUMBERED_LINE_ITEM = re.compile(r"line ?item ?\d+")


def field_labels(kind: str) -> dict[str, str]:
    return {f.name: str(f.label) for f in kind_fields(kind)}


def check_mapping(kind: str, columns: list[str], mapping) -> dict[str, str]:
    """Refuse a mapping that names a column the file lacks, a field `kind` lacks, a field twice, or misses a
    required field (all of them named at once, as the mapping page labels them). Returns the mapping without the
    columns that are not imported."""
    if not isinstance(mapping, dict):
        raise KervanError(gettext("mapping must be an object {column: field}."), "invalid_mapping", field="mapping")
    labels = field_labels(kind)
    cleaned: dict[str, str] = {}
    for column, field in mapping.items():
        if field in ("", None):
            continue
        if not isinstance(field, str) or field not in labels:
            raise KervanError(
                gettext("'%(field)s' is not a field of a %(kind)s import.") % {"field": field, "kind": kind},
                "unknown_field",
                field="mapping",
            )
        if column not in columns:
            raise KervanError(
                gettext("The file has no column '%(column)s'.") % {"column": column}, "unknown_column", field="mapping"
            )
        if field in cleaned.values() and field not in MULTI:
            raise KervanError(
                gettext("Two columns are mapped to '%(field)s'.") % {"field": labels[field]},
                "duplicate_field",
                field="mapping",
            )
        cleaned[column] = field
    mapped = set(cleaned.values())
    if "full_name" in mapped and ({"first_name", "last_name"} & mapped):
        raise KervanError(
            gettext("Map either the full name or first/last name, not both."), "duplicate_field", field="mapping"
        )
    missing = missing_groups(kind, mapped)
    if missing:
        # "Order date; Unit price or Line total": every field still needed, named as the page names them.
        names = "; ".join(str(get_text_list([labels[name] for name in group])) for group in missing)
        raise KervanError(
            gettext("Map a column to each of these fields: %(names)s.") % {"names": names},
            "missing_required_field",
            field="mapping",
        )
    return cleaned
