"""The customer list's selector: every sort walked page by page through its cursor (ties included), filters combined
with the sorts read from the stats table, and — on PostgreSQL — that each sort is served by an index walk that
stops after a page, not by reading and sorting every customer."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from kervan.accounts.actors import Actor
from kervan.core.pagination import paginate
from kervan.customers import selectors
from kervan.customers.actions import customer_merge, customers_tag
from kervan.customers.models import Customer
from kervan.customers.selectors import SORTS, CustomerFilters, customer_list
from kervan.customers.tests.factories import IST, make_customer, make_order

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system()
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MARCH = dt.datetime(2026, 3, 1, 12, 0, tzinfo=IST)
FEBRUARY = dt.datetime(2026, 2, 1, 12, 0, tzinfo=IST)


@pytest.fixture
def shop():
    """Nine customers with ties in every sort key: three spent 200.00 (two of them in one order each), two last
    ordered at the same moment as a third, three never ordered; two share a name; one is merged away."""
    c = {}
    c["a"] = make_customer(first_name="Ayşe", last_name="Kaya", city="Kars")
    c["b"] = make_customer(first_name="Burak", last_name="Şen", city="Kars")
    c["c"] = make_customer(first_name="Cem", last_name="Işık", city="Ankara")
    c["d"] = make_customer(first_name="Deniz", last_name="Ak", city="Ankara")
    c["e"] = make_customer(first_name="Ece", last_name="Öz", city="Kars")
    c["f"] = make_customer(first_name="Ece", last_name="Öz", city="Ankara")  # the same name as e
    c["g"] = make_customer(first_name="Gül", last_name="Tan", city="Ankara")
    c["h"] = make_customer(first_name="Hakan", last_name="Er", city="Ankara")
    gone = make_customer(first_name="Ayşe", last_name="Kaya", city="Kars")
    make_order(c["a"], total_lines=((1, "100.00"),), placed_at=FEBRUARY)
    make_order(c["a"], total_lines=((1, "100.00"),), placed_at=MARCH)
    make_order(c["b"], total_lines=((1, "200.00"),), placed_at=MARCH)
    make_order(c["c"], total_lines=((1, "200.00"),), placed_at=FEBRUARY)
    make_order(c["d"], total_lines=((1, "50.00"),), placed_at=MARCH)
    make_order(c["h"], total_lines=((3, "300.00"),), placed_at=FEBRUARY - dt.timedelta(days=3))
    customers_tag(actor=SYSTEM, customer_ids=[c["a"].pk, c["c"].pk, c["e"].pk, gone.pk], tag="vip")
    customer_merge(actor=SYSTEM, survivor=c["g"], merged=gone)  # g gains nothing to sort by: gone never ordered
    return {key: Customer.objects.select_related("stats").get(pk=row.pk) for key, row in c.items()}


def sort_key(sort: str):
    return {
        "newest": lambda c: (c.created_at, c.pk),
        "oldest": lambda c: (c.created_at, c.pk),
        "name": lambda c: (c.name_key, c.pk),
        "total_spent": lambda c: (c.stats.total_spent, c.pk),
        "orders": lambda c: (c.stats.order_count, c.pk),
        "last_order": lambda c: (c.stats.last_order_at or EPOCH, c.pk),
    }[sort]


def expected(shop: dict, sort: str, keep=lambda c: True) -> list[int]:
    rows = sorted((c for c in shop.values() if keep(c)), key=sort_key(sort), reverse=SORTS[sort].startswith("-"))
    return [c.pk for c in rows]


def walk(filters: CustomerFilters, limit: int = 2) -> list[int]:
    """Every row of the list, fetched `limit` at a time through the cursor."""
    qs, order = customer_list(actor=SYSTEM, filters=filters)
    seen, cursor = [], None
    for _ in range(100):
        page = paginate(qs, order=order, cursor=cursor, limit=limit)
        seen.extend(c.pk for c in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("the cursor never ended")


@pytest.mark.parametrize("sort", list(SORTS))
def test_every_sort_walks_every_customer_once_in_order_through_ties(shop, sort):
    assert walk(CustomerFilters(sort=sort), limit=2) == expected(shop, sort)
    assert walk(CustomerFilters(sort=sort), limit=1) == expected(shop, sort)


def test_the_tied_keys_are_really_tied(shop):
    """The fixture's ties, so the test above is about them: equal totals, counts, last orders, names, and no order."""
    spent = [c.stats.total_spent for c in shop.values()]
    assert spent.count(Decimal("200.00")) == 3 and spent.count(Decimal("0")) == 3
    assert [c.stats.last_order_at for c in shop.values()].count(MARCH) == 3
    assert shop["e"].name_key == shop["f"].name_key
    assert [c.stats.order_count for c in shop.values()].count(1) == 4


# a, c and e, and g, who gained the tag from the customer merged into it
VIP = {("Ayşe", "Kars"), ("Cem", "Ankara"), ("Ece", "Kars"), ("Gül", "Ankara")}


@pytest.mark.parametrize("sort", ["total_spent", "orders", "last_order", "newest"])
@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ({"city": "Kars"}, lambda c: c.city == "Kars"),
        ({"tag": "vip"}, lambda c: (c.first_name, c.city) in VIP),
        ({"has_orders": True}, lambda c: c.stats.order_count > 0),
        ({"has_orders": False}, lambda c: c.stats.order_count == 0),
        ({"min_spent": "200"}, lambda c: c.stats.total_spent >= 200),
        ({"q": "ECE öz"}, lambda c: c.first_name == "Ece"),
        ({"city": "Ankara", "has_orders": True, "min_spent": "100"}, lambda c: c.first_name in ("Cem", "Hakan")),
        ({"tag": "vip", "city": "Kars"}, lambda c: (c.first_name, c.city) in VIP and c.city == "Kars"),
    ],
)
@pytest.mark.parametrize("selective", [selectors.SELECTIVE, 0], ids=["read-matches", "walk-the-sort-index"])
def test_filters_apply_to_every_sort_both_ways_a_page_is_found(shop, sort, filters, keep, selective, monkeypatch):
    """Few matches are read and sorted; many are found walking the sort key's index (SELECTIVE=0 forces that)."""
    monkeypatch.setattr(selectors, "SELECTIVE", selective)
    assert walk(CustomerFilters(sort=sort, **filters)) == expected(shop, sort, keep)


def test_a_tag_nobody_has_is_an_empty_list(shop):
    assert walk(CustomerFilters(tag="yok")) == [] and walk(CustomerFilters(tag="yok", sort="orders")) == []


def test_a_merged_customer_is_in_no_sort_and_no_filter(shop):
    merged = Customer.objects.exclude(merged_into=None).get()
    for sort in SORTS:
        assert merged.pk not in walk(CustomerFilters(sort=sort), limit=50)
    assert merged.pk not in walk(CustomerFilters(tag="vip", sort="total_spent"))


def test_a_cursor_keeps_working_when_the_matches_outgrow_the_selective_read(shop, monkeypatch):
    """Page 1 was read from the few matches; meanwhile more customers match, and page 2 walks the sort index: the
    cursor is the same kind either way, and the list goes on where it stopped."""
    filters = CustomerFilters(sort="total_spent", city="Ankara")
    qs, order = customer_list(actor=SYSTEM, filters=filters)
    first = paginate(qs, order=order, limit=2)
    monkeypatch.setattr(selectors, "SELECTIVE", 0)
    qs, order = customer_list(actor=SYSTEM, filters=filters)
    rest = paginate(qs, order=order, cursor=first.next_cursor, limit=50)
    seen = [c.pk for c in first.items + rest.items]
    assert seen == expected(shop, "total_spent", lambda c: c.city == "Ankara")


def test_the_last_order_sort_reads_the_last_order_as_it_was_stored(shop):
    qs, order = customer_list(actor=SYSTEM, filters=CustomerFilters(sort="last_order"))
    page = paginate(qs, order=order, limit=50)
    by_pk = {c.pk: c.by_last_order for c in page.items}
    assert by_pk[shop["a"].pk] == MARCH and by_pk[shop["e"].pk] == EPOCH


def test_a_stale_cursor_keeps_its_place_when_the_row_it_names_moves(shop):
    """A cursor holds the sort value and id of the last row served: a customer who orders meanwhile moves up and is
    not served twice; the rest continue where the page ended."""
    qs, order = customer_list(actor=SYSTEM, filters=CustomerFilters(sort="total_spent"))
    first = paginate(qs, order=order, limit=3)
    assert [c.pk for c in first.items] == expected(shop, "total_spent")[:3]
    make_order(shop["g"], total_lines=((1, "5000.00"),))  # g jumps to the top, behind the cursor
    rest, cursor = [], first.next_cursor
    while cursor:
        page = paginate(qs, order=order, cursor=cursor, limit=2)
        rest.extend(c.pk for c in page.items)
        cursor = page.next_cursor
    assert rest == [pk for pk in expected(shop, "total_spent")[3:] if pk != shop["g"].pk]


def explain(
    filters: CustomerFilters, cursor: str | None = None, *, walks=("seqscan", "sort", "incremental_sort", "bitmapscan")
) -> str:
    """The plan of the query paginate runs for this page of the list."""
    qs, order = customer_list(actor=SYSTEM, filters=filters)
    with CaptureQueriesContext(connection) as queries:
        paginate(qs, order=order, cursor=cursor, limit=50)
    sql = next(q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"])  # not the page's stats
    with transaction.atomic(), connection.cursor() as cursor_:
        if connection.vendor == "postgresql":
            # Tiny tables are cheaper to read whole: forbid that, so the plan shows whether an index walk in the
            # list's order exists at all (a plan that still needs a Sort node has none).
            for setting in walks:
                cursor_.execute(f"SET LOCAL enable_{setting} = off")
            cursor_.execute(f"EXPLAIN {sql}")
        else:
            cursor_.execute(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(str(row[-1]) for row in cursor_.fetchall())


INDEX_OF = {
    "total_spent": "stats_spent_idx",
    "orders": "stats_orders_idx",
    "last_order": "stats_last_order_sort_idx",
    "newest": "customer_created_idx",
    "oldest": "customer_created_idx",
    "name": "customer_name_key_idx",
}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
@pytest.mark.parametrize("sort", ["total_spent", "orders", "last_order", "newest", "oldest"])
def test_postgresql_walks_the_index_of_the_sort_column_and_sorts_nothing(shop, sort, monkeypatch):
    monkeypatch.setattr(selectors, "SELECTIVE", 0)  # the filters below match "many" customers
    for filters in (CustomerFilters(sort=sort), CustomerFilters(sort=sort, city="Kars", tag="vip")):
        plan = explain(filters)
        assert INDEX_OF[sort] in plan and "Sort" not in plan, plan
        qs, order = customer_list(actor=SYSTEM, filters=filters)
        cursor = paginate(qs, order=order, limit=1).next_cursor
        plan = explain(filters, cursor)
        assert INDEX_OF[sort] in plan and "Sort" not in plan, plan
        # A deep page starts its walk at the cursor (an index condition), not at the top of the index.
        assert "Index Cond" in plan.split(INDEX_OF[sort])[1].split("->")[0], plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
@pytest.mark.parametrize("sort", list(SORTS))
def test_postgresql_reads_few_matches_by_id_and_never_walks_a_sort_index(shop, sort):
    """A selective filter: the page is the matching rows, read by primary key and sorted, whatever the sort."""
    for cursor in (None, "deep"):
        filters = CustomerFilters(sort=sort, city="Kars")
        if cursor:
            qs, order = customer_list(actor=SYSTEM, filters=filters)
            cursor = paginate(qs, order=order, limit=1).next_cursor
        plan = explain(filters, cursor, walks=("seqscan",))
        assert "Sort" in plan and not any(index in plan for index in INDEX_OF.values()), plan


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan")
@pytest.mark.parametrize("sort", ["total_spent", "orders", "last_order"])
def test_sqlite_walks_the_stats_index_for_the_stats_sorts(shop, sort):
    """SQLite walks the stats index in order too; it does not know that the tie-break (customer.id) equals the
    index's customer_id, so it sorts each run of equal keys ("RIGHT PART"), never the whole list."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    plan = explain(CustomerFilters(sort=sort))
    assert f"SCAN customers_customerstats USING INDEX {INDEX_OF[sort]}" in plan, plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan, plan


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan")
def test_sqlite_walks_the_list_order_when_indexed_filters_match_many(shop, monkeypatch):
    """Without statistics SQLite takes any indexed condition for a selective one (it would read every matching
    customer through the city or stats index and sort them); told that they match many, it walks the list's order.
    The few matches of a selective filter it reads by id."""
    monkeypatch.setattr(selectors, "SELECTIVE", 0)
    filters = CustomerFilters(city="Kars", has_orders=True, min_spent="10", created_from="2020-01-01")
    plan = explain(filters)
    assert "customers_customer USING INDEX customer_created_idx" in plan and "TEMP B-TREE" not in plan, plan
    monkeypatch.setattr(selectors, "SELECTIVE", 5000)
    plan = explain(CustomerFilters(city="Kars", sort="total_spent"))  # few: read by id and sorted
    assert "INTEGER PRIMARY KEY" in plan and "stats_spent_idx" not in plan, plan
