"""The customer list's queries are counted, page and API: a fixed handful whatever the number of rows, sort or
filter, so an N+1 (a query per row for its stats, tags or consent) cannot come back unseen."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kervan.accounts.actors import Actor
from kervan.customers.actions import customers_tag
from kervan.customers.tests.factories import make_customer, make_order

pytestmark = pytest.mark.django_db

# The page: session, the list's page, its count in at most two queries (PostgreSQL: the planner's estimate, then a
# bounded count when the estimate is near the exact range; SQLite: all customers less the merged ones), saved
# views, the tag filter's choices (the city choices come from the cache after the first request) — plus, on a fresh
# session, the user and the 2FA policy.
PAGE_QUERIES = 9
# The API: the key (and, once a minute, its last-used time), the list's page.
API_QUERIES = 3


def allowed(base: int, params: dict) -> int:
    """A filter adds at most three: the ids of up to SELECTIVE matching customers, the tag's id (for a tag), and the
    stats of the page's rows when those few matches are sorted by a customer column (customers.selectors says why);
    never one per row."""
    return base + 3 * any(k != "sort" for k in params)


# (query, rows it matches among the sixty below)
FILTERS = [
    ({}, 60),
    ({"sort": "total_spent"}, 60),
    ({"sort": "orders"}, 60),
    ({"sort": "last_order"}, 60),
    ({"sort": "name"}, 60),
    ({"sort": "oldest"}, 60),
    ({"q": "kars"}, 30),
    ({"tag": "vip", "sort": "total_spent"}, 60),
    ({"tag": "toptan", "sort": "orders"}, 30),
    ({"city": "Kars", "has_orders": "yes", "sort": "last_order"}, 3),
    ({"has_orders": "no", "consent_email": "unknown", "sort": "orders"}, 54),
    ({"min_spent": "10", "created_from": "2020-01-01", "sort": "total_spent"}, 6),
    ({"created_to": "2020-01-01", "sort": "last_order"}, 0),
]


@pytest.fixture
def sixty():
    customers = [make_customer(city="Kars" if n % 2 else "Ankara") for n in range(60)]
    for customer in customers[:6]:
        make_order(customer)
    customers_tag(actor=Actor.system(), customer_ids=[c.pk for c in customers], tag="vip")
    customers_tag(actor=Actor.system(), customer_ids=[c.pk for c in customers[:30]], tag="toptan")
    return customers


@pytest.mark.parametrize(("params", "rows"), FILTERS)
def test_the_list_page_runs_a_fixed_handful_of_queries(
    admin_client, sixty, params, rows, django_assert_max_num_queries
):
    with django_assert_max_num_queries(allowed(PAGE_QUERIES, params)):
        response = admin_client.get("/customers/", params)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('class="customer-link"') == min(50, rows) and 'class="field-error"' not in body


def test_the_page_and_show_more_do_not_grow_with_the_rows(admin_client, sixty, django_assert_max_num_queries):
    admin_client.get("/customers/")  # the session's user, the 2FA policy and the city choices are now cached
    with CaptureQueriesContext(connection) as full_page:
        first = admin_client.get("/customers/", {"sort": "total_spent"}).content.decode()
    assert first.count('class="customer-link"') == 50
    with django_assert_max_num_queries(len(full_page.captured_queries) - 2):  # no count, no saved views
        cursor = first.split("cursor=")[1].split('"')[0]
        more = admin_client.get("/customers/", {"sort": "total_spent", "cursor": cursor}, HTTP_HX_REQUEST="true")
    assert more.content.decode().count('class="customer-link"') == 10
    with django_assert_max_num_queries(len(full_page.captured_queries)):
        admin_client.get("/customers/", {"sort": "total_spent", "cols": ["customer", "city", "orders", "created"]})


@pytest.mark.parametrize(("params", "rows"), FILTERS)
def test_the_list_api_runs_a_fixed_handful_of_queries(api, sixty, params, rows, django_assert_max_num_queries):
    params = {**params, "has_orders": {"yes": "true", "no": "false"}.get(params.get("has_orders", ""), "")}
    params = {k: v for k, v in params.items() if v}
    with django_assert_max_num_queries(allowed(API_QUERIES, params)):
        response = api.get("/customers/", {**params, "limit": 200})
    assert response.status_code == 200, response.content
    items = response.json()["items"]
    assert len(items) == rows and all(item["stats"]["currency"] for item in items)
    cursor_page = api.get("/customers/", {**params, "limit": 5}).json()
    if cursor_page["next_cursor"]:
        with django_assert_max_num_queries(allowed(API_QUERIES, params)):
            assert api.get("/customers/", {**params, "limit": 5, "cursor": cursor_page["next_cursor"]}).json()


def count_queries(qs) -> tuple[object, list[str]]:
    from kervan.workspace.lists import count_rows

    with CaptureQueriesContext(connection) as queries:
        count = count_rows(qs)
    return count, [q["sql"] for q in queries.captured_queries]


def test_a_list_far_beyond_the_exact_range_is_estimated_without_counting(sixty, monkeypatch):
    from kervan.customers.selectors import CustomerFilters, customer_list
    from kervan.workspace import lists

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no planner estimate: its lists are always counted exactly")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    qs, _ = customer_list(actor=Actor.system(), filters=CustomerFilters())
    monkeypatch.setattr(lists, "EXACT_COUNT_UP_TO", 10)  # 60 rows: far beyond 2 x 10
    count, sql = count_queries(qs)
    assert (count.value, count.exact) == (60, False) and not any("COUNT(" in s for s in sql), sql
    monkeypatch.setattr(lists, "EXACT_COUNT_UP_TO", 40)  # near it: the bounded count decides
    count, sql = count_queries(qs)
    assert (count.value, count.exact) == (60, False) and any("LIMIT 41" in s for s in sql), sql
    monkeypatch.setattr(lists, "EXACT_COUNT_UP_TO", 100)
    count, _ = count_queries(qs)
    assert (count.value, count.exact) == (60, True)


def test_a_filter_that_matches_nobody_counts_zero_without_a_query(sixty):
    from kervan.customers.selectors import CustomerFilters, customer_list

    for filters in (CustomerFilters(tag="yok"), CustomerFilters(q="zzzzqqq"), CustomerFilters(city="Hakkari")):
        qs, _ = customer_list(actor=Actor.system(), filters=filters)
        count, sql = count_queries(qs)
        assert (count.value, count.exact) == (0, True) and sql == []


def test_the_count_of_the_whole_list_leaves_out_merged_profiles(sixty):
    from kervan.customers.actions import customer_merge
    from kervan.customers.selectors import SORTS, CustomerFilters, customer_list
    from kervan.workspace.lists import count_rows

    customer_merge(actor=Actor.system(), survivor=sixty[0], merged=sixty[1])
    for sort in SORTS:
        qs, _ = customer_list(actor=Actor.system(), filters=CustomerFilters(sort=sort))
        count = count_rows(qs)
        assert (count.value, count.exact) == (59, True), sort


def test_a_big_list_on_sqlite_is_estimated_from_a_sample_of_its_keys(sixty, monkeypatch):
    """SQLite has no planner estimate: beyond the exact range the count is scaled from key slices spread over the
    table, labelled as an estimate, and exact when asked."""
    from kervan.customers.selectors import CustomerFilters, customer_list
    from kervan.workspace import lists

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL estimates with its planner")
    monkeypatch.setattr(lists, "EXACT_COUNT_UP_TO", 12)
    monkeypatch.setattr(lists, "SAMPLE_SLICES", 4)  # 4 slices of 3 keys over 60
    monkeypatch.setattr("kervan.customers.selectors.SELECTIVE", 0)  # "many" match: no ids read, nothing known
    qs, _ = customer_list(actor=Actor.system(), filters=CustomerFilters(consent_email="unknown"))
    count, sql = count_queries(qs)
    assert count.exact is False and 50 <= count.value <= 70, count
    assert sum("COUNT(" in s for s in sql) == 1 and "UNION ALL" in sql[-1]  # only the sample: never all rows
    half, _ = customer_list(actor=Actor.system(), filters=CustomerFilters(q="kars"))  # every other customer
    count = lists.count_rows(half)
    assert count.exact is False and 20 <= count.value <= 40, count
    assert lists.count_rows(half, exact=True).value == 30


def test_a_count_that_would_make_the_list_wait_gives_way_to_the_estimate(sixty, monkeypatch):
    """PostgreSQL: a bounded count the planner prices above the limit is not run; SQLite: one that runs past its
    budget is stopped. Either way the list shows the estimate, labelled, and counts exactly when asked."""
    from kervan.customers.selectors import CustomerFilters, customer_list
    from kervan.workspace import lists

    monkeypatch.setattr(lists, "EXACT_COUNT_UP_TO", 12)
    monkeypatch.setattr(lists, "SAMPLE_SLICES", 4)
    monkeypatch.setattr("kervan.customers.selectors.SELECTIVE", 0)
    if connection.vendor == "postgresql":
        monkeypatch.setattr(lists, "COUNT_COST_LIMIT", 0.0)
    else:
        monkeypatch.setattr(lists, "COUNT_BUDGET_MS", 0)
        # the sample says "a few": the bounded count would run, and is stopped at once
        monkeypatch.setattr(lists, "_sampled_estimate", lambda qs: 20)
    qs, _ = customer_list(actor=Actor.system(), filters=CustomerFilters(q="kars"))  # every other customer
    count, sql = count_queries(qs)
    assert count.exact is False
    if connection.vendor == "postgresql":
        assert not any("COUNT(" in s for s in sql)  # only planned
    else:
        assert count.value == 20  # the sample's answer: the count was stopped
    assert lists.count_rows(qs, exact=True) == lists.Count(30, True)
