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

CUSTOMER_FIELDS = (
    *_PERSON,
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
    ),
    _f("status", _("Status (placed/paid/delivered)"), "durum", "siparis durumu", "status", "order status"),
    _f("currency", _("Currency"), "para birimi", "doviz", "currency", "kur"),
    *_PERSON,
    _f("sku", _("SKU"), "sku", "stok kodu", "urun kodu", "lineitem sku", "variant sku"),
    _f("title", _("Product title"), "urun adi", "urun", "product", "product name", "lineitem name", "item", "title"),
    _f("quantity", _("Quantity"), "adet", "miktar", "quantity", "qty", "lineitem quantity"),
    _f("unit_price", _("Unit price"), "birim fiyat", "fiyat", "unit price", "price", "lineitem price"),
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
    _f("shipping_total", _("Shipping"), "kargo", "kargo ucreti", "kargo tutari", "shipping", "shipping total"),
    _f("total", _("Order total"), "toplam", "siparis toplami", "genel toplam", "total", "order total"),
    _f("sales_channel", _("Sales channel"), "satis kanali", "kanal", "channel", "sales channel"),
    _f("marketplace", _("Marketplace"), "pazaryeri", "pazar yeri", "marketplace"),
    _f("carrier", _("Carrier (for shipped orders)"), "kargo firmasi", "kargo sirketi", "carrier", "shipping company"),
    _f(
        "tracking_number",
        _("Tracking number"),
        "takip no",
        "kargo takip no",
        "takip numarasi",
        "tracking number",
        "tracking",
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
)

FIELDS = {ImportKind.CUSTOMERS: CUSTOMER_FIELDS, ImportKind.PRODUCTS: PRODUCT_FIELDS, ImportKind.ORDERS: ORDER_FIELDS}

# Each group must have at least one of its fields mapped.
REQUIRED = {
    ImportKind.CUSTOMERS: [("email", "phone")],
    ImportKind.PRODUCTS: [("sku",)],
    ImportKind.ORDERS: [
        ("order_number",),
        ("placed_at",),
        ("quantity",),
        ("unit_price",),
        ("sku", "title"),
        ("email", "phone"),
    ],
}


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


def guess_mapping(kind: str, columns: list[str]) -> dict[str, str]:
    """{column: field} for the columns whose header is a known spelling of a field; each field at most once."""
    lookup: dict[str, str] = {}
    for field in kind_fields(kind):
        for spelling in (field.name, *field.headers):
            lookup.setdefault(_header_key(spelling), field.name)
            lookup.setdefault(_header_key(spelling).replace(" ", ""), field.name)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for column in columns:
        key = _header_key(column)
        name = lookup.get(key) or lookup.get(key.replace(" ", ""))
        if name and name not in used:
            mapping[column] = name
            used.add(name)
    return mapping


def check_mapping(kind: str, columns: list[str], mapping) -> dict[str, str]:
    """Refuse a mapping that names a column the file lacks, a field `kind` lacks, a field twice, or misses a
    required field. Returns the mapping without the columns that are not imported."""
    if not isinstance(mapping, dict):
        raise KervanError(gettext("mapping must be an object {column: field}."), "invalid_mapping", field="mapping")
    known = {f.name for f in kind_fields(kind)}
    cleaned: dict[str, str] = {}
    for column, field in mapping.items():
        if field in ("", None):
            continue
        if not isinstance(field, str) or field not in known:
            raise KervanError(
                gettext("'%(field)s' is not a field of a %(kind)s import.") % {"field": field, "kind": kind},
                "unknown_field",
                field="mapping",
            )
        if column not in columns:
            raise KervanError(
                gettext("The file has no column '%(column)s'.") % {"column": column}, "unknown_column", field="mapping"
            )
        if field in cleaned.values():
            raise KervanError(
                gettext("Two columns are mapped to '%(field)s'.") % {"field": field}, "duplicate_field", field="mapping"
            )
        cleaned[column] = field
    mapped = set(cleaned.values())
    if "full_name" in mapped and ({"first_name", "last_name"} & mapped):
        raise KervanError(
            gettext("Map either the full name or first/last name, not both."), "duplicate_field", field="mapping"
        )
    for group in REQUIRED[kind]:
        if not mapped & set(group):
            names = get_text_list(list(group))  # "email or phone", "email ya da phone"
            raise KervanError(
                gettext("Map a column to %(names)s.") % {"names": names}, "missing_required_field", field="mapping"
            )
    return cleaned
