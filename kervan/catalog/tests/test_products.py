"""The product list (kervan/catalog/selectors.py product_list, its page, export, API and global search): search by
name (Turkish-folded) and SKU, category, low stock, units sold and revenue over a period from the daily rollup,
every sort, bad values refused naming their field, permissions and bounded query counts."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client

from kervan.accounts.actors import Actor
from kervan.accounts.permissions import Role
from kervan.accounts.testing import assert_page_matrix, assert_read_matrix
from kervan.catalog.actions import category_create, product_create
from kervan.catalog.lists import product_search
from kervan.catalog.models import Product, ProductDailySales, Variant
from kervan.catalog.selectors import ProductFilters, product_list
from kervan.core.errors import KervanError, PermissionDenied
from kervan.core.models import AuditLog
from kervan.customers.tests.factories import IST, make_customer

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=IST)


def on(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, 0, tzinfo=IST)


@pytest.fixture
def catalogue(clock):
    """Three products: a boot (two sizes, one low on stock) sold well, a T-shirt sold once, a lamp never sold."""
    with clock.frozen(NOW):
        shoes = category_create(actor=SYSTEM, name="Ayakkabı")
        boots = category_create(actor=SYSTEM, name="Bot", parent=shoes)
        home = category_create(actor=SYSTEM, name="Ev")
        boot = product_create(
            actor=SYSTEM,
            title="KIŞLIK Deri Bot",
            brand="Deri Usta",
            category=boots,
            variants=[
                {"sku": "BOT-40", "title": "40", "price": "1500.00", "stock": 3},
                {"sku": "BOT-41", "title": "41", "price": "1600.00", "stock": 20},
            ],
        )
        shirt = product_create(
            actor=SYSTEM,
            title="Basic Tişört",
            brand="Lale Moda",
            variants=[{"sku": "TS-1", "price": "200.00", "stock": 50}],
        )
        lamp = product_create(
            actor=SYSTEM,
            title="Masa Lambası",
            category=home,
            variants=[{"sku": "LMB-1", "price": "400.00", "stock": 9}],
        )
        Variant.objects.filter(sku="LMB-1").update(low_stock_threshold=10)
        buyer = make_customer(first_name="Işıl")
        _order(buyer, on(18), [("BOT-40", 2, "1500.00"), ("TS-1", 1, "200.00")])
        _order(buyer, on(19), [("BOT-41", 1, "1600.00")])
        _order(buyer, on(1), [("TS-1", 10, "200.00")])  # outside the last 7 days, inside the last 30
        _order(buyer, dt.datetime(2026, 1, 5, 12, tzinfo=IST), [("LMB-1", 5, "400.00")])  # before the default period
    return {"boot": boot, "shirt": shirt, "lamp": lamp, "shoes": shoes, "boots": boots, "home": home}


def _order(customer, placed_at, lines, **kwargs):
    from kervan.orders.actions import NewOrder, order_create

    order, _ = order_create(
        actor=SYSTEM,
        new_order=NewOrder(
            customer=customer,
            placed_at=placed_at,
            lines=[{"sku": sku, "quantity": q, "unit_price": price} for sku, q, price in lines],
            **kwargs,
        ),
    )
    return order


def titles(sort="newest", **filters) -> list[str]:
    qs, order = product_list(actor=SYSTEM, filters=ProductFilters(sort=sort, **filters))
    return [p.title for p in qs.order_by(order, "-pk" if order.startswith("-") else "pk")]


def figures(**filters) -> dict[str, tuple[int, Decimal, int]]:
    qs, _order = product_list(actor=SYSTEM, filters=ProductFilters(**filters))
    return {p.title: (p.units_sold, p.revenue, p.stock_total) for p in qs}


def test_units_sold_revenue_and_stock_over_the_period(catalogue, clock):
    with clock.frozen(NOW):
        assert figures() == {  # the last 30 days by default
            "KIŞLIK Deri Bot": (3, Decimal("4600.00"), 20),  # 3 + 20 - 2 - 1 left
            "Basic Tişört": (11, Decimal("2200.00"), 39),
            "Masa Lambası": (0, Decimal("0.00"), 4),
        }
        assert figures(sold_from="2026-03-14")["Basic Tişört"] == (1, Decimal("200.00"), 39)
        assert figures(sold_from="2026-01-01", sold_to="2026-01-31")["Masa Lambası"][:2] == (5, Decimal("2000.00"))


def test_sorts(catalogue, clock):
    with clock.frozen(NOW):
        assert titles() == ["Masa Lambası", "Basic Tişört", "KIŞLIK Deri Bot"]
        assert titles("name") == ["Basic Tişört", "KIŞLIK Deri Bot", "Masa Lambası"]
        assert titles("units_sold") == ["Basic Tişört", "KIŞLIK Deri Bot", "Masa Lambası"]
        assert titles("revenue") == ["KIŞLIK Deri Bot", "Basic Tişört", "Masa Lambası"]
        assert titles("stock") == ["Masa Lambası", "KIŞLIK Deri Bot", "Basic Tişört"]
        with pytest.raises(KervanError) as caught:
            titles("popular")
        assert caught.value.field == "sort"


def test_search_by_name_turkish_folded_and_by_sku(catalogue, clock):
    with clock.frozen(NOW):
        assert titles(q="kislik") == ["KIŞLIK Deri Bot"]
        assert titles(q="KIŞLIK bot") == ["KIŞLIK Deri Bot"]
        assert titles(q="tisort") == ["Basic Tişört"]
        assert titles(q="LAMBASI") == ["Masa Lambası"]
        assert titles(q="deri usta") == ["KIŞLIK Deri Bot"]  # the brand
        assert titles(q="BOT-41") == ["KIŞLIK Deri Bot"]
        assert titles(q="bot-4") == ["KIŞLIK Deri Bot"]  # a SKU's beginning, any case
        assert titles(q="ts-1") == ["Basic Tişört"]
        assert titles(q="yok böyle") == []


def test_filters(catalogue, clock):
    with clock.frozen(NOW):
        assert titles(category=str(catalogue["shoes"].pk)) == ["KIŞLIK Deri Bot"]  # its sub-category's too
        assert titles(category=str(catalogue["home"].pk)) == ["Masa Lambası"]
        # BOT-40 has 1 left (≤ 5, the default); the lamp has 4 (≤ its own threshold, 10); the T-shirt 39
        assert titles(low_stock="yes") == ["Masa Lambası", "KIŞLIK Deri Bot"]
        assert titles(low_stock="no") == ["Basic Tişört"]
        assert titles(ids=[catalogue["lamp"].pk]) == ["Masa Lambası"]


def test_the_low_stock_default_is_a_setting(catalogue, clock, settings):
    settings.KERVAN_LOW_STOCK_DEFAULT = 0
    with clock.frozen(NOW):
        assert titles(low_stock="yes") == ["Masa Lambası"]


@pytest.mark.parametrize(
    "filters, field",
    [
        ({"category": "abc"}, "category"),
        ({"category": "999999"}, "category"),
        ({"low_stock": "maybe"}, "low_stock"),
        ({"sold_from": "banana"}, "sold_from"),
        ({"sold_to": "2026-13-01"}, "sold_to"),
        ({"sold_to": "9999-12-31"}, "sold_to"),
        ({"sold_from": "0001-01-01"}, "sold_from"),
        ({"sold_from": "2026-03-10", "sold_to": "2026-03-01"}, "sold_to"),
        ({"sold_from": "2024-01-01", "sold_to": "2026-03-01"}, "sold_from"),  # longer than a year
    ],
)
def test_bad_values_are_refused_naming_their_field(catalogue, clock, filters, field):
    with clock.frozen(NOW), pytest.raises(KervanError) as caught:
        titles(**filters)
    assert caught.value.field == field


def test_a_role_without_catalog_read_is_refused(make_api_key):
    key, _secret = make_api_key(scopes={"orders": "read"})
    with pytest.raises(PermissionDenied):
        product_list(actor=Actor.for_api_key(key), filters=ProductFilters())


def test_search_keys_follow_the_title(db):
    product = product_create(actor=SYSTEM, title="Çay Demlik", variants=[{"sku": "CD-1", "price": "1"}])
    assert product.search_key == "cay demlik"
    product.title = "IŞIKLI Çaydanlık"
    product.save(update_fields=["title"])
    assert Product.objects.get(pk=product.pk).search_key == "isikli caydanlik"


# --- the page ------------------------------------------------------------------------------------------------------


def shown(response) -> list[str]:
    return [p.title for p in response.context["page"].items]


def test_the_page_shows_stock_per_variant_and_the_periods_figures(catalogue, clock, admin_client):
    with clock.frozen(NOW):
        response = admin_client.get("/catalog/products/", {"sort": "revenue"})
    assert response.status_code == 200
    assert shown(response) == ["KIŞLIK Deri Bot", "Basic Tişört", "Masa Lambası"]
    body = response.content.decode()
    assert '<span class="pill refused" title="BOT-40">40: 1</span>' in body  # low: highlighted
    assert '<span class="pill" title="BOT-41">41: 19</span>' in body
    assert "₺4,600.00" in body and "₺1,500.00 – ₺1,600.00" in body
    assert "19.02.2026 – 20.03.2026" in body  # the period the figures cover
    assert response.context["count_text"] == "3 results"


def test_a_bad_filter_is_flagged_beside_it_while_the_others_stay_applied(catalogue, clock, admin_client):
    with clock.frozen(NOW):
        response = admin_client.get("/catalog/products/", {"low_stock": "yes", "sold_from": "banana", "sort": "x"})
    assert shown(response) == ["Masa Lambası", "KIŞLIK Deri Bot"]
    assert set(response.context["state"].errors) == {"sold_from", "sort"}
    body = response.content.decode()
    assert "has-error" in body.split('name="sold_from"')[0].rsplit("<label", 1)[1]


def test_an_empty_list_says_what_to_do_next(admin_client):
    body = admin_client.get("/catalog/products/").content.decode()
    assert "No products yet." in body and 'href="/imports/"' in body


def test_the_page_and_the_api_read_a_bounded_number_of_queries(
    catalogue, clock, admin_client, api, django_assert_max_num_queries
):
    with clock.frozen(NOW):
        for n in range(30):
            product_create(
                actor=SYSTEM,
                title=f"Ürün {n}",
                variants=[{"sku": f"U{n}-{v}", "price": "10", "stock": v} for v in range(3)],
            )
        admin_client.get("/catalog/products/")  # counts the period's days once
        cols = ["product", "skus", "variants", "stock", "units_sold", "revenue", "price", "category", "created"]
        with django_assert_max_num_queries(10):
            response = admin_client.get("/catalog/products/", {"cols": cols, "sort": "units_sold"})
        assert len(response.context["page"].items) == 33
        with django_assert_max_num_queries(8):
            assert len(api.get("/catalog/products", {"sort": "stock", "limit": 100}).json()["items"]) == 33
        with django_assert_max_num_queries(10):  # the product, its variants, the rollup's 4, its recent orders' 2
            assert admin_client.get(f"/catalog/products/{catalogue['boot'].pk}/").status_code == 200


def test_export_streams_the_filtered_list_and_is_audited(catalogue, clock, admin_client):
    Product.objects.filter(pk=catalogue["shirt"].pk).update(brand="=cmd|' /C calc'!A0")
    with clock.frozen(NOW):
        response = admin_client.get("/catalog/products/export.csv", {"q": "t", "sort": "units_sold"})
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [r["title"] for r in rows] == ["Basic Tişört", "KIŞLIK Deri Bot"]
    assert rows[0]["units_sold"] == "11" and rows[0]["brand"].startswith("'=") and rows[1]["skus"] == "BOT-40 BOT-41"
    assert AuditLog.objects.filter(action="export", object_type="catalog.product").count() == 1


def test_bulk_export_downloads_the_ticked_products(catalogue, clock, admin_client):
    with clock.frozen(NOW):
        response = admin_client.post("/lists/products/bulk/", {"action": "export", "ids": [catalogue["lamp"].pk]})
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [r["title"] for r in rows] == ["Masa Lambası"]


def test_refused_export_changes_nothing(catalogue, make_user):
    support = Client()
    support.force_login(make_user(Role.SUPPORT, "destek"))  # reads the catalogue, no exports
    assert support.post("/lists/products/bulk/", {"action": "export", "ids": [1]}).status_code == 403
    assert support.get("/catalog/products/export.csv").status_code == 403
    assert not AuditLog.objects.filter(action="export").exists()
    assert support.get("/catalog/products/").context["bulk"] == []


def test_pages_follow_the_role_matrix(catalogue):
    assert_page_matrix("/catalog/products/", "catalog")
    assert_page_matrix(f"/catalog/products/{catalogue['boot'].pk}/", "catalog")
    assert_read_matrix("/api/v1/catalog/products", "catalog")


def test_the_product_page_shows_variants_stock_sales_and_recent_orders(catalogue, clock, admin_client):
    with clock.frozen(NOW):
        response = admin_client.get(f"/catalog/products/{catalogue['boot'].pk}/")
    body = response.content.decode()
    assert response.status_code == 200 and "KIŞLIK Deri Bot" in body
    assert '<dd id="product-units">3</dd>' in body and '<dd id="product-stock">20</dd>' in body
    assert "BOT-40" in body and "BOT-41" in body
    orders = body.split('id="product-orders"')[1]
    assert orders.count('href="/orders/') == 2  # the two orders with a boot, not the others
    assert admin_client.get("/catalog/products/999999/").status_code == 404


def test_a_panel_is_shown_only_to_roles_that_read_its_area(catalogue, clock, make_user, monkeypatch):
    from kervan.catalog import registry

    assert [p.key for p in registry.product_panels()] == ["orders"]
    # a panel of the audit area (which support may not read) next to the orders one (which it may)
    audit_panel = registry.ProductPanel("audit", "audit", "orders/_product_orders.html", lambda actor, product: {})
    monkeypatch.setitem(registry._panels, "audit", audit_panel)
    client = Client()
    client.force_login(make_user(Role.SUPPORT, "destek"))
    with clock.frozen(NOW):
        body = client.get(f"/catalog/products/{catalogue['boot'].pk}/").content.decode()
        assert body.count('id="product-orders"') == 1
        admin = Client()
        admin.force_login(make_user(Role.ADMIN, "yonetici"))
        assert (
            admin.get(f"/catalog/products/{catalogue['boot'].pk}/").content.decode().count('id="product-orders"') == 2
        )


# --- the API -------------------------------------------------------------------------------------------------------


def test_api_filters_sorts_and_figures(catalogue, clock, api):
    with clock.frozen(NOW):
        body = api.get("/catalog/products", {"sort": "units_sold", "sold_from": "2026-03-14"}).json()
        assert [(p["title"], p["units_sold"]) for p in body["items"]] == [
            ("KIŞLIK Deri Bot", 3),
            ("Basic Tişört", 1),
            ("Masa Lambası", 0),
        ]
        assert (body["sold_from"], body["sold_to"], body["currency"]) == ("2026-03-14", "2026-03-20", "TRY")
        assert body["items"][0]["revenue"] == "4600.00" and body["items"][0]["stock_total"] == 20
        assert [p["title"] for p in api.get("/catalog/products", {"q": "kislik"}).json()["items"]] == [
            "KIŞLIK Deri Bot"
        ]
        low = api.get("/catalog/products", {"low_stock": "yes", "sort": "stock"}).json()["items"]
        assert [p["title"] for p in low] == ["Masa Lambası", "KIŞLIK Deri Bot"]
        older = api.get("/catalog/products", {"category_id": catalogue["home"].pk}).json()["items"]
        assert [p["title"] for p in older] == ["Masa Lambası"]  # the older parameter still works
        first = api.get("/catalog/products", {"sort": "revenue", "limit": 2}).json()
        rest = api.get("/catalog/products", {"sort": "revenue", "limit": 2, "cursor": first["next_cursor"]}).json()
        assert [p["title"] for p in first["items"] + rest["items"]] == [
            "KIŞLIK Deri Bot",
            "Basic Tişört",
            "Masa Lambası",
        ]


@pytest.mark.parametrize(
    "params, field",
    [({"sold_from": "banana"}, "sold_from"), ({"sort": "x"}, "sort"), ({"low_stock": "maybe"}, "low_stock")],
)
def test_api_bad_values_answer_400_naming_the_field(catalogue, clock, api, params, field):
    with clock.frozen(NOW):
        response = api.get("/catalog/products", params)
    assert response.status_code == 400
    assert response.json()["code"] and response.json()["detail"] and response.json()["field"] == field


# --- the global search ---------------------------------------------------------------------------------------------


def test_search_source_finds_a_sku_exactly_and_names_folded(catalogue):
    assert [h.title for h in product_search(SYSTEM, "bot-40", 8)] == ["KIŞLIK Deri Bot"]
    assert [h.title for h in product_search(SYSTEM, "kışlık", 8)] == ["KIŞLIK Deri Bot"]
    assert [h.title for h in product_search(SYSTEM, "LAMBA", 8)] == ["Masa Lambası"]
    hit = product_search(SYSTEM, "basic", 8)[0]
    assert hit.url == f"/catalog/products/{catalogue['shirt'].pk}/" and "TS-1" in hit.subtitle
    assert product_search(SYSTEM, "BOT-4", 8) == []  # a SKU exactly here; the list takes its beginning


def test_the_menu_has_products(admin_client):
    body = admin_client.get("/catalog/products/").content.decode()
    assert 'data-nav="products"' in body


def test_the_rollup_is_used(catalogue, clock):
    with clock.frozen(NOW):
        titles()
    assert ProductDailySales.objects.filter(product=catalogue["shirt"]).count() == 2


def test_api_refuses_a_cursor_made_under_another_sort(catalogue, clock, api):
    with clock.frozen(NOW):
        cursor = api.get("/catalog/products", {"sort": "units_sold", "limit": 1}).json()["next_cursor"]
        for sort in ("newest", "name", "revenue", "stock"):  # stock is a number too, but another order
            response = api.get("/catalog/products", {"sort": sort, "limit": 1, "cursor": cursor})
            assert response.status_code == 400 and response.json()["code"] == "invalid_cursor"
        assert api.get("/catalog/products", {"sort": "units_sold", "limit": 1, "cursor": cursor}).status_code == 200


def test_bulk_writes_keep_the_search_key(db):
    """The product import creates and updates products in bulk."""
    Product.objects.bulk_create([Product(title="Şişme MONT", brand="Ege")])
    product = Product.objects.get()
    assert product.search_key == "sisme mont ege"
    product.title = "Kapüşonlu Hırka"
    Product.objects.bulk_update([product], ["title"])
    assert Product.objects.get().search_key == "kapusonlu hirka ege"
