import pytest

from kervan.core.errors import KervanError
from kervan.customers.models import CustomFieldDefinition
from kervan.imports.fields import check_mapping, guess_mapping


@pytest.mark.django_db
def test_turkish_customer_headers_are_recognised():
    columns = ["Ad", "Soyad", "E-posta", "Telefon", "Doğum tarihi", "Şehir", "Cinsiyet", "Etiketler", "Not"]
    assert guess_mapping("customers", columns) == {
        "Ad": "first_name",
        "Soyad": "last_name",
        "E-posta": "email",
        "Telefon": "phone",
        "Doğum tarihi": "birth_date",
        "Şehir": "city",
        "Cinsiyet": "gender",
        "Etiketler": "tags",
    }


@pytest.mark.django_db
def test_english_and_odd_spellings_are_recognised():
    columns = ["First Name", "LAST_NAME", "Email Address", "Mobile", "Date of birth", "City", "Accepts Email Marketing"]
    assert guess_mapping("customers", columns) == {
        "First Name": "first_name",
        "LAST_NAME": "last_name",
        "Email Address": "email",
        "Mobile": "phone",
        "Date of birth": "birth_date",
        "City": "city",
        "Accepts Email Marketing": "consent_email",
    }
    assert guess_mapping("customers", ["AD SOYAD", "EPOSTA", "CEP TELEFONU", "İL"]) == {
        "AD SOYAD": "full_name",
        "EPOSTA": "email",
        "CEP TELEFONU": "phone",
        "İL": "city",
    }


@pytest.mark.django_db
def test_product_and_order_headers():
    assert guess_mapping("products", ["SKU", "Ürün Adı", "Fiyat", "Stok", "Para Birimi", "Marka", "Kategori"]) == {
        "SKU": "sku",
        "Ürün Adı": "title",
        "Fiyat": "price",
        "Stok": "stock",
        "Para Birimi": "currency",
        "Marka": "brand",
        "Kategori": "category",
    }
    assert guess_mapping(
        "orders", ["Sipariş No", "Sipariş Tarihi", "E-posta", "SKU", "Adet", "Birim Fiyat", "Kargo", "Durum"]
    ) == {
        "Sipariş No": "order_number",
        "Sipariş Tarihi": "placed_at",
        "E-posta": "email",
        "SKU": "sku",
        "Adet": "quantity",
        "Birim Fiyat": "unit_price",
        "Kargo": "shipping_total",
        "Durum": "status",
    }


@pytest.mark.django_db
def test_each_field_is_guessed_once_and_custom_fields_are_offered():
    CustomFieldDefinition.objects.create(key="shoe_size", label="Ayakkabı numarası", field_type="number")
    mapping = guess_mapping("customers", ["E-posta", "Email", "Ayakkabı numarası"])
    assert mapping == {"E-posta": "email", "Ayakkabı numarası": "custom.shoe_size"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kind,mapping,code",
    [
        ("customers", {"Ad": "first_name"}, "missing_required_field"),
        ("customers", {"E-posta": "favourite_colour"}, "unknown_field"),
        ("customers", {"Nope": "email"}, "unknown_column"),
        ("customers", {"E-posta": "email", "Ad": "email"}, "duplicate_field"),
        ("customers", ["email"], "invalid_mapping"),
        ("products", {"Ad": "title"}, "missing_required_field"),
        ("orders", {"E-posta": "email"}, "missing_required_field"),
        ("invoices", {"E-posta": "email"}, "invalid_kind"),
    ],
)
def test_bad_mappings_are_refused(kind, mapping, code):
    with pytest.raises(KervanError) as exc:
        check_mapping(kind, ["Ad", "E-posta"], mapping)
    assert exc.value.code == code


@pytest.mark.django_db
def test_unmapped_columns_are_dropped():
    assert check_mapping("customers", ["Ad", "E-posta"], {"Ad": "", "E-posta": "email"}) == {"E-posta": "email"}
