import pytest

from kervan.catalog.models import Product, StockLevel, StockMovement

pytestmark = pytest.mark.django_db


def test_product_with_variants_stock_and_history(api):
    category = api.post("/catalog/categories", {"name": "Ayakkabı"}).json()
    assert category["slug"] == "ayakkabi"
    response = api.post(
        "/catalog/products",
        {
            "title": "Koşu Ayakkabısı",
            "category_id": category["id"],
            "brand": "Kervan",
            "variants": [
                {"sku": "KA-42", "title": "42", "price": "1299.90", "stock": 10},
                {"sku": "KA-43", "title": "43", "price": "1299.90"},
            ],
        },
    )
    assert response.status_code == 201, response.content
    assert [v["stock"] for v in response.json()["variants"]] == [10, 0]
    adjusted = api.post("/catalog/variants/KA-42/stock", {"delta": -3, "reason": "adjustment", "reference": "sayım"})
    assert adjusted.json()["stock"] == 7
    history = api.get("/catalog/variants/KA-42/stock-history").json()
    assert [(m["delta"], m["quantity_after"]) for m in history] == [(-3, 7), (10, 10)]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"title": "x", "variants": []}, 422),
        ({"title": "x", "variants": [{"sku": "A", "price": "-1"}]}, 422),
        ({"title": "x", "variants": [{"sku": "A", "price": "1"}], "category_id": 999}, 404),
        ({"title": "x", "variants": [{"sku": "A", "price": "1"}, {"sku": "A", "price": "2"}]}, 409),
    ],
)
def test_bad_products_write_nothing(api, body, status):
    response = api.post("/catalog/products", body)
    assert response.status_code == status, response.content
    assert set(response.json()) >= {"detail", "code"}
    assert Product.objects.count() == 0 and StockLevel.objects.count() == 0 and StockMovement.objects.count() == 0


def test_unknown_sku_and_bad_reason(api):
    assert api.post("/catalog/variants/NOPE/stock", {"delta": 1}).status_code == 404
    api.post("/catalog/products", {"title": "T", "variants": [{"sku": "T1", "price": "5"}]})
    assert api.post("/catalog/variants/T1/stock", {"delta": 1, "reason": "magic"}).status_code == 400
    assert api.post("/catalog/variants/T1/stock", {"delta": 0}).status_code == 400
