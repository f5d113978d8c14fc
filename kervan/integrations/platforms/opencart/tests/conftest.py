"""A realistic OpenCart 4 shop in a MariaDB database of its own per test (see shopdb.py), dropped afterwards."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from kervan.integrations.platforms.opencart.tests.shopdb import ShopDB, available_or_skip

ISTANBUL = "Europe/Istanbul"


def order_row(order_id: int, customer: dict | None, added: str, modified: str, status: int, **extra) -> dict:
    person = customer or {}
    row = {
        "order_id": order_id,
        "store_id": 0,
        "store_name": "Anadolu Çarşı",
        "store_url": "https://carsi.example.com.tr/",
        "customer_id": person.get("customer_id", 0),
        "customer_group_id": 1,
        "firstname": person.get("firstname", ""),
        "lastname": person.get("lastname", ""),
        "email": person.get("email", ""),
        "telephone": person.get("telephone", ""),
        "payment_firstname": person.get("firstname", ""),
        "payment_lastname": person.get("lastname", ""),
        "payment_city": "İstanbul",
        "payment_country": "Türkiye",
        "payment_country_id": 215,
        "payment_method": json.dumps({"name": "Kredi Kartı", "code": "iyzico.iyzico"}),
        "shipping_firstname": person.get("firstname", ""),
        "shipping_lastname": person.get("lastname", ""),
        "shipping_address_1": "Bağdat Cad. No: 12",
        "shipping_city": "İstanbul",
        "shipping_postcode": "34710",
        "shipping_country": "Türkiye",
        "shipping_country_id": 215,
        "shipping_method": json.dumps({"name": "Yurtiçi Kargo", "code": "flat.flat"}),
        "comment": "",
        "order_status_id": status,
        "affiliate_id": 0,
        "commission": Decimal("0"),
        "marketing_id": 0,
        "tracking": "",
        "language_id": 1,
        "language_code": "tr-tr",
        "currency_id": 1,
        "currency_code": "TRY",
        "currency_value": Decimal("1.00000000"),
        "ip": "88.230.12.4",
        "user_agent": "Mozilla/5.0",
        "accept_language": "tr-TR,tr;q=0.9",
        "date_added": added,
        "date_modified": modified,
    }
    row.update(extra)
    return row


AYSE = {
    "customer_id": 1,
    "customer_group_id": 1,
    "store_id": 0,
    "language_id": 1,
    "firstname": "Ayşe",
    "lastname": "Yılmaz",
    "email": "ayse.yilmaz@example.com.tr",
    "telephone": "0532 111 22 33",
    "password": "$2y$10$abcdefghijklmnopqrstuv",
    "custom_field": "",
    "newsletter": 1,
    "ip": "88.230.12.4",
    "status": 1,
    "safe": 0,
    "commenter": 0,
    "token": "",
    "code": "",
    "date_added": "2026-10-01 12:00:00",
}
MEHMET = {
    **AYSE,
    "customer_id": 2,
    "firstname": "Mehmet",
    "lastname": "Öztürk",
    "email": "mehmet.ozturk@example.com",
    "telephone": "+90 533 222 33 44",
    "newsletter": 0,
    "date_added": "2026-10-20 08:30:00",
}


def seed(shop: ShopDB, now_local: dt.datetime) -> None:
    shop.insert(
        "setting",
        [
            {"store_id": 0, "code": "config", "key": "config_name", "value": "Anadolu Çarşı"},
            {"store_id": 0, "code": "config", "key": "config_currency", "value": "TRY"},
            {"store_id": 0, "code": "config", "key": "config_timezone", "value": ISTANBUL},
        ],
    )
    shop.insert("country", [{"country_id": 215, "name": "Türkiye", "iso_code_2": "TR", "iso_code_3": "TUR"}])
    shop.insert("customer", [AYSE, MEHMET])
    products = [
        (40, "CZV-01", "Bakır Cezve", "450.0000", 12, 1, "catalog/cezve.jpg"),
        (41, "TK-250", "Türk Kahvesi 250 g", "120.0000", 100, 1, ""),
        (42, "FNC-OLD", "Eski Fincan", "75.0000", 0, 0, ""),
    ]
    for product_id, model, name, price, quantity, status, image in products:
        shop.insert("product", [{
            "product_id": product_id, "model": model, "sku": "", "quantity": quantity, "image": image,
            "price": price, "status": status, "date_added": "2026-09-01 09:00:00",
            "date_modified": f"2026-10-01 09:00:{product_id:02d}",
        }])  # fmt: skip
        shop.insert("product_description", [{"product_id": product_id, "language_id": 1, "name": name}])
    # 1001: Ayşe, two lines, a coupon and shipping, delivered.
    shop.insert("order", [order_row(1001, AYSE, "2026-11-02 14:05:00", "2026-11-05 16:30:00", 5, total="1511.9000",
                                    payment_method=json.dumps({"name": "Kapıda Ödeme", "code": "cod.cod"}),
                                    tracking="ekim-bulteni")])  # fmt: skip
    shop.insert("order_product", [
        {"order_product_id": 1, "order_id": 1001, "product_id": 40, "master_id": 0, "name": "Bakır Cezve",
         "model": "CZV-01", "quantity": 2, "price": "450.0000", "total": "900.0000", "tax": "90.0000", "reward": 0},
        {"order_product_id": 2, "order_id": 1001, "product_id": 41, "master_id": 0, "name": "Türk Kahvesi 250 g",
         "model": "TK-250", "quantity": 3, "price": "120.0000", "total": "360.0000", "tax": "24.0000", "reward": 0},
    ])  # fmt: skip
    totals(shop, 1001, [("sub_total", "Ara Toplam", "1260"), ("shipping", "Yurtiçi Kargo", "49.9"),
                        ("coupon", "Kupon (YAZ50)", "-50"), ("tax", "KDV (%20)", "252"),
                        ("total", "Toplam", "1511.9")])  # fmt: skip
    history(shop, 1001, [(1, "2026-11-02 14:05:00", ""), (2, "2026-11-02 14:07:00", "Ödeme alındı"),
                         (3, "2026-11-03 10:00:00", "Kargoya verildi"), (5, "2026-11-05 16:30:00", "")])  # fmt: skip
    # 1002: a guest, in euros, being processed (paid).
    guest = {"firstname": "Zeynep", "lastname": "Kaya", "email": "zeynep.kaya@example.net", "telephone": ""}
    shop.insert("order", [order_row(1002, guest, "2026-11-10 09:00:00", "2026-11-10 09:02:00", 2, total="204.0000",
                                    currency_code="EUR", currency_value="0.02850000",
                                    payment_method=json.dumps({"name": "Havale / EFT", "code": "bank_transfer.bank_transfer"}))])  # noqa: E501 # fmt: skip
    shop.insert("order_product", [
        {"order_product_id": 3, "order_id": 1002, "product_id": 41, "master_id": 0, "name": "Türk Kahvesi 250 g",
         "model": "TK-250", "quantity": 1, "price": "120.0000", "total": "120.0000", "tax": "24.0000", "reward": 0},
    ])  # fmt: skip
    totals(shop, 1002, [("sub_total", "Ara Toplam", "120"), ("shipping", "Kargo", "60"), ("tax", "KDV", "24"),
                        ("total", "Toplam", "204")])  # fmt: skip
    history(shop, 1002, [(1, "2026-11-10 09:00:00", ""), (2, "2026-11-10 09:02:00", "")])
    # 1003: Mehmet, cancelled.
    shop.insert("order", [order_row(1003, MEHMET, "2026-11-12 11:00:00", "2026-11-12 18:20:00", 7, total="540.0000")])
    shop.insert("order_product", [
        {"order_product_id": 4, "order_id": 1003, "product_id": 40, "master_id": 0, "name": "Bakır Cezve",
         "model": "CZV-01", "quantity": 1, "price": "450.0000", "total": "450.0000", "tax": "90.0000", "reward": 0},
    ])  # fmt: skip
    totals(shop, 1003, [("sub_total", "Ara Toplam", "450"), ("tax", "KDV", "90"), ("total", "Toplam", "540")])
    history(shop, 1003, [(1, "2026-11-12 11:00:00", ""), (7, "2026-11-12 18:20:00", "Müşteri vazgeçti")])
    # 1004: Ayşe, paid then refunded.
    shop.insert("order", [order_row(1004, AYSE, "2026-11-15 10:00:00", "2026-11-18 12:00:00", 11, total="144.0000")])
    shop.insert("order_product", [
        {"order_product_id": 5, "order_id": 1004, "product_id": 41, "master_id": 0, "name": "Türk Kahvesi 250 g",
         "model": "TK-250", "quantity": 1, "price": "120.0000", "total": "120.0000", "tax": "24.0000", "reward": 0},
    ])  # fmt: skip
    totals(shop, 1004, [("sub_total", "Ara Toplam", "120"), ("tax", "KDV", "24"), ("total", "Toplam", "144")])
    history(shop, 1004, [(1, "2026-11-15 10:00:00", ""), (2, "2026-11-15 10:01:00", ""),
                         (11, "2026-11-18 12:00:00", "Ürün hasarlı geldi")])  # fmt: skip
    # 1005: Mehmet's checkout an hour ago, never confirmed (status 0): an abandoned cart.
    started = (now_local - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    shop.insert("order", [order_row(1005, MEHMET, started, started, 0, total="540.0000")])
    shop.insert("order_product", [
        {"order_product_id": 6, "order_id": 1005, "product_id": 40, "master_id": 0, "name": "Bakır Cezve",
         "model": "CZV-01", "quantity": 1, "price": "450.0000", "total": "450.0000", "tax": "90.0000", "reward": 0},
    ])  # fmt: skip
    totals(shop, 1005, [("sub_total", "Ara Toplam", "450"), ("tax", "KDV", "90"), ("total", "Toplam", "540")])


def totals(shop: ShopDB, order_id: int, rows: list[tuple[str, str, str]]) -> None:
    shop.insert("order_total", [
        {"order_id": order_id, "extension": "opencart", "code": code, "title": title, "value": value, "sort_order": i}
        for i, (code, title, value) in enumerate(rows)
    ])  # fmt: skip


def history(shop: ShopDB, order_id: int, rows: list[tuple[int, str, str]]) -> None:
    shop.insert("order_history", [
        {"order_id": order_id, "order_status_id": status, "notify": 0, "comment": comment, "date_added": when}
        for status, when, comment in rows
    ])  # fmt: skip


@pytest.fixture
def shop():
    available_or_skip()
    from zoneinfo import ZoneInfo

    from kervan.core import clock

    database = ShopDB()
    try:
        seed(database, clock.now().astimezone(ZoneInfo(ISTANBUL)).replace(tzinfo=None))
        yield database
    finally:
        database.drop()
