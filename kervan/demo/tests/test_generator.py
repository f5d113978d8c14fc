"""The generator on its own, without a database: determinism, shapes and internal consistency of the rows."""

import random
from collections import Counter
from decimal import Decimal

from kervan.demo.catalog import build_catalog, shelf_price
from kervan.demo.generator import SOURCES, TAGS, CatalogueItem, DemoSettings, ShopGenerator
from kervan.demo.rows import COLUMNS, fmt_money, fmt_ts
from kervan.demo.seasons import ShopCalendar, efsane_cuma


def _catalogue(seed: int) -> list[CatalogueItem]:
    items, variant_id = [], 0
    for product_id, spec in enumerate(build_catalog(random.Random(f"kervan-demo-catalogue:{seed}")), 1):
        for variant in spec.variants:
            variant_id += 1
            items.append(
                CatalogueItem(
                    variant_id=variant_id,
                    product_id=product_id,
                    sku=f"SKU-{variant_id}",
                    title=f"{spec.title} {variant.title}",
                    price=variant.price,
                    category=spec.category,
                )
            )
    return items


def generate(customers: int = 60, seed: int = 7, **options) -> tuple[dict[str, list[tuple]], ShopGenerator]:
    settings = DemoSettings(customers=customers, seed=seed, batch_size=25, **options)
    generator = ShopGenerator(
        settings,
        catalogue=_catalogue(seed),
        sources={key: n for n, key in enumerate(SOURCES, 1)},
        tags={name: n for n, name in enumerate(TAGS, 1)},
        first_ids={},
    )
    rows: dict[str, list[tuple]] = {}
    for batch in generator.batches():
        for table, table_rows in batch.items():
            rows.setdefault(table, []).extend(table_rows)
    return rows, generator


def as_dicts(rows, table):
    return [dict(zip(COLUMNS[table], row, strict=True)) for row in rows[table]]


def test_same_seed_same_rows_and_another_seed_other_rows():
    first, _ = generate(seed=11)
    second, _ = generate(seed=11)
    other, _ = generate(seed=12)
    assert first == second
    assert first["customer"] != other["customer"]


def test_rows_match_their_columns_and_ids_are_unique():
    rows, generator = generate(customers=80)
    for table, table_rows in rows.items():
        assert all(len(row) == len(COLUMNS[table]) for row in table_rows), table
        ids = [row[0] for row in table_rows]
        assert len(ids) == len(set(ids)), table
    assert generator.counts["customer"] == 80
    assert len(rows["stats"]) == 80  # one stats row per customer, buyers or not


def test_people_look_turkish_and_reach_details_are_unique():
    rows, _ = generate(customers=300)
    customers = as_dicts(rows, "customer")
    emails = [c["email"] for c in customers if c["email"]]
    phones = [c["phone"] for c in customers if c["phone"]]
    assert len(emails) == len(set(emails)) and len(phones) == len(set(phones))
    assert all(p.startswith("+905") and len(p) == 13 and p[1:].isdigit() for p in phones)
    assert all(e.isascii() and e.count("@") == 1 for e in emails)
    assert all(c["email"] or c["phone"] for c in customers)
    names = " ".join(c["first_name"] + c["last_name"] for c in customers)
    assert any(letter in names for letter in "İıŞşĞğÇçÖöÜü")
    cities = Counter(c["city"] for c in customers)
    assert cities.most_common(1)[0][0] == "İstanbul"
    assert Counter(c["language"] for c in customers)["tr"] > 250


def test_order_counts_are_heavy_tailed():
    rows, _ = generate(customers=1000)
    per_customer = Counter(order[6] for order in rows["order"])
    counts = [per_customer.get(c[0], 0) for c in rows["customer"]]
    assert sum(1 for n in counts if n <= 2) > 600  # most buy 0–2 times
    assert max(counts) >= 15  # a few loyal buyers buy many times
    assert 2000 < len(rows["order"]) < 3000  # about 2.5 per customer by default


def test_everything_happens_before_now():
    rows, generator = generate(customers=120)
    now = fmt_ts(generator.calendar.now)
    first = fmt_ts(generator.calendar.day_start[0])
    for order in as_dicts(rows, "order"):
        assert first <= order["placed_at"] < now
        assert order["placed_at"] <= order["updated_at"] < now
    for table, column in (("status", "occurred_at"), ("event", "occurred_at"), ("refund", "occurred_at")):
        assert all(row[column] < now for row in as_dicts(rows, table)), table


def test_orders_peak_on_efsane_cuma():
    calendar = ShopCalendar()
    bf = calendar.days.index(efsane_cuma(2025))
    ordinary = calendar.days.index(efsane_cuma(2025)) - 21
    assert calendar.demand[bf] > 2.5 * calendar.demand[ordinary]


def test_money_formats():
    assert fmt_money(0) == "0.00"
    assert fmt_money(4990) == "49.90"
    assert fmt_money(123456) == "1234.56"
    assert fmt_money(-5) == "-0.05"
    assert shelf_price(143.2) == 14990
    assert shelf_price(1210) == 124990
    assert str(Decimal(fmt_money(99999))) == "999.99"
