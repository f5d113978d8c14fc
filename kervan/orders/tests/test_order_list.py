"""The order list (kervan/orders/selectors.py order_list and its page, export, bulk actions and API): every filter
and sort, Turkish folding, bad values refused naming their field, the page keeping the other filters, the
permission matrix, and bounded query counts."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from kervan.accounts.actors import Actor
from kervan.accounts.permissions import Role
from kervan.accounts.testing import assert_page_matrix, assert_read_matrix
from kervan.core.errors import KervanError, PermissionDenied
from kervan.core.models import AuditLog, Source
from kervan.customers.models import Customer
from kervan.customers.tests.factories import IST, make_customer, make_order
from kervan.orders.actions import order_set_status, refund_create, return_create
from kervan.orders.lists import order_search
from kervan.orders.models import Order
from kervan.orders.selectors import OrderFilters, order_list

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, 0, tzinfo=IST)


@pytest.fixture
def shop(db):
    """A few customers and orders covering every filter: numbers, statuses, channels, sources, totals, a shipment
    with a tracking number, a return (refunded and not) and a refund."""
    web = Source.objects.create(key="web-store", name="Web store", kind="woocommerce")
    trendyol = Source.objects.create(key="trendyol", name="Trendyol", kind="marketplace")
    isil = make_customer(first_name="Işıl", last_name="Çağlar", email="isil@example.com", phone="05324443322")
    mert = make_customer(first_name="Mert", last_name="Kaya", email="mert@example.com")
    o = {}
    o["a"] = make_order(isil, number="#1001", total_lines=((1, "100.00"),), placed_at=at(1), source=web)
    o["b"] = make_order(isil, number="#1002", total_lines=((2, "250.00"),), placed_at=at(2), source=web, status="paid")
    o["c"] = make_order(
        mert,
        number="#2001",
        total_lines=((1, "1000.00"),),
        placed_at=at(3),
        source=trendyol,
        sales_channel="marketplace",
        marketplace="trendyol",
        status="paid",
    )
    o["d"] = make_order(mert, number="K000777", total_lines=((3, "40.00"),), placed_at=at(4), status="paid")
    o["e"] = make_order(mert, number="#3001", total_lines=((1, "75.00"),), placed_at=at(2, 15), status="paid")
    order_set_status(actor=SYSTEM, order=o["c"], status="shipped", carrier="Aras Kargo", tracking_number="AR123456")
    # b: returned, and the refund settles the return; d: returned, refunded in part by a refund that names no return
    # (the return still waits for its money); a: refunded, no return
    for key, refund in (("b", "500.00"), ("d", "40.00")):
        order = o[key]
        order_set_status(actor=SYSTEM, order=order, status="delivered")
        line = order.lines.get()
        ret, _ = return_create(
            actor=SYSTEM, order=order, lines=[{"order_line_id": line.pk, "quantity": 1}], reason="size"
        )
        settles = ret if key == "b" else None
        refund_create(actor=SYSTEM, order=order, amount=refund, reason="size", return_request=settles)
    refund_create(actor=SYSTEM, order=o["a"], amount="10.00", reason="other")
    return {k: Order.objects.get(pk=v.pk) for k, v in o.items()} | {"isil": isil, "mert": mert}


def numbers(sort="newest", **filters) -> list[str]:
    qs, order = order_list(actor=SYSTEM, filters=OrderFilters(sort=sort, **filters))
    return [o.number for o in qs.order_by(order, "-pk" if order.startswith("-") else "pk")]


def refused(**filters) -> tuple[str, str]:
    with pytest.raises(KervanError) as caught:
        numbers(**filters)
    return caught.value.field, caught.value.code


def test_sorts(shop):
    assert numbers() == ["K000777", "#2001", "#3001", "#1002", "#1001"]
    assert numbers("oldest") == ["#1001", "#1002", "#3001", "#2001", "K000777"]
    assert numbers("total") == ["#2001", "#1002", "K000777", "#1001", "#3001"]
    assert numbers("number") == ["#1001", "#1002", "#2001", "#3001", "K000777"]
    assert refused(sort="biggest") == ("sort", "invalid_sort")


def test_search_by_number_exact_prefix_and_spelling(shop):
    assert numbers(q="#1001") == ["#1001"]
    assert numbers(q="1001") == ["#1001"]  # without the "#" shops print
    assert numbers(q="#10") == ["#1002", "#1001"]  # the beginning of a number
    assert numbers(q="k000777") == ["K000777"]  # typed in lower case
    assert numbers(q="K0007") == ["K000777"]
    assert numbers(q="k0007") == ["K000777"]  # a beginning typed in lower case
    assert numbers(q="#1009") == []  # a beginning no number has, one below "#101"


def test_a_number_prefix_is_answered_from_the_number_index(shop):
    """SQLite's LIKE is case-blind and cannot use the number index: the prefix is asked as a key range there."""
    from django.test.utils import CaptureQueriesContext

    from kervan.orders.models import Order
    from kervan.orders.selectors import number_starts_with

    with CaptureQueriesContext(connection) as queries:
        found = list(Order.objects.filter(number_starts_with("#10")).values_list("number", flat=True))
    assert sorted(found) == ["#1001", "#1002"]
    sql = queries.captured_queries[-1]["sql"]
    assert ("LIKE" not in sql) if connection.vendor == "sqlite" else ("LIKE" in sql)


def test_search_by_customer_turkish_folded_and_by_tracking_number(shop):
    assert numbers(q="ISIL CAGLAR") == ["#1002", "#1001"]
    assert numbers(q="ışıl") == ["#1002", "#1001"]
    assert numbers(q="mert@example.com") == ["K000777", "#2001", "#3001"]
    assert numbers(q="0532 444 33 22") == ["#1002", "#1001"]
    assert numbers(q="+905324443322") == ["#1002", "#1001"]
    assert numbers(q="AR123456") == ["#2001"]
    assert numbers(q="nobody at all") == []


def test_filters(shop):
    assert numbers(status=["paid"]) == ["#3001"]
    assert numbers(status=["delivered", "placed"]) == ["K000777", "#1002", "#1001"]
    assert numbers(status=["delivered,shipped"]) == ["K000777", "#2001", "#1002"]  # the API's comma form
    assert numbers(sales_channel="marketplace") == ["#2001"]
    assert numbers(source="trendyol") == ["#2001"]
    assert numbers(placed_from="2026-03-02", placed_to="2026-03-03") == ["#2001", "#3001", "#1002"]
    assert numbers(placed_to="2026-03-01") == ["#1001"]
    assert numbers(min_total="120", max_total="500") == ["K000777", "#1002"]
    assert numbers(min_total="500", max_total="500") == ["#1002"]
    assert numbers(has_return="yes") == ["K000777", "#1002"]
    assert numbers(has_return="waiting") == ["K000777"]
    assert numbers(has_return="no") == ["#2001", "#3001", "#1001"]
    assert numbers(has_refund="yes") == ["K000777", "#1002", "#1001"]
    assert numbers(has_refund="no") == ["#2001", "#3001"]
    assert numbers(customer=str(shop["mert"].pk)) == ["K000777", "#2001", "#3001"]
    assert numbers(ids=[shop["a"].pk, shop["c"].pk]) == ["#2001", "#1001"]
    assert numbers(q="mert", status=["shipped", "delivered"], min_total="500") == ["#2001"]


def test_the_day_boundaries_are_the_shops(shop):
    late = make_order(shop["mert"], number="LATE", placed_at=dt.datetime(2026, 3, 5, 23, 30, tzinfo=IST))
    assert late.placed_at.astimezone(dt.UTC).day == 5
    assert "LATE" in numbers(placed_from="2026-03-05", placed_to="2026-03-05")
    assert "LATE" not in numbers(placed_from="2026-03-06")


@pytest.mark.parametrize(
    "filters, field",
    [
        ({"status": ["lost"]}, "status"),
        ({"sales_channel": "fax"}, "sales_channel"),
        ({"source": "nowhere"}, "source"),
        ({"placed_from": "banana"}, "placed_from"),
        ({"placed_from": "0001-01-01"}, "placed_from"),
        ({"placed_to": "9999-12-31"}, "placed_to"),
        ({"placed_from": "2026-03-05", "placed_to": "2026-03-01"}, "placed_to"),
        ({"min_total": "çok"}, "min_total"),
        ({"min_total": "100", "max_total": "50"}, "max_total"),
        ({"has_return": "maybe"}, "has_return"),
        ({"has_refund": "maybe"}, "has_refund"),
        ({"customer": "abc"}, "customer"),
        ({"customer": "0"}, "customer"),
    ],
)
def test_bad_values_are_refused_naming_their_field(shop, filters, field):
    assert refused(**filters)[0] == field


def test_a_role_without_orders_read_is_refused(shop, make_api_key):
    key, _secret = make_api_key(scopes={"customers": "read"})
    with pytest.raises(PermissionDenied):
        order_list(actor=Actor.for_api_key(key), filters=OrderFilters())


# --- the page ------------------------------------------------------------------------------------------------------


def shown(response) -> list[str]:
    return [o.number for o in response.context["page"].items]


def test_the_page_lists_and_filters(shop, admin_client):
    response = admin_client.get("/orders/")
    assert response.status_code == 200 and shown(response) == ["K000777", "#2001", "#3001", "#1002", "#1001"]
    assert response.context["count_text"] == "5 results"
    body = response.content.decode()
    assert "Işıl Çağlar" in body and "Trendyol" in body
    response = admin_client.get("/orders/", {"status": ["paid", "delivered"], "sort": "total"})
    assert shown(response) == ["#1002", "K000777", "#3001"]
    assert response.context["count_text"] == "3 results"


def test_a_bad_filter_is_flagged_beside_it_while_the_others_stay_applied(shop, admin_client):
    response = admin_client.get("/orders/", {"status": "paid", "placed_from": "banana"})
    assert response.status_code == 200
    assert shown(response) == ["#3001"]  # the status still filters
    state = response.context["state"]
    assert set(state.errors) == {"placed_from"} and "is not a date" in state.errors["placed_from"]
    body = response.content.decode()
    label = body.split('name="placed_from"')[0].rsplit("<label", 1)[1]
    assert "has-error" in label and 'value="banana"' in body
    response = admin_client.get("/orders/", {"has_return": "waiting", "sort": "loudest"})
    assert shown(response) == ["K000777"]
    assert set(response.context["state"].errors) == {"sort"} and response.context["state"].sort == "newest"


def test_the_today_page_links_open_the_right_orders(shop, admin_client):
    assert shown(admin_client.get("/orders/?has_return=waiting")) == ["K000777"]
    assert shown(admin_client.get("/orders/?status=paid&placed_to=2026-03-03")) == ["#3001"]
    assert shown(admin_client.get("/orders/?status=paid&placed_to=2026-03-01")) == []


def test_optional_columns(shop, admin_client):
    body = admin_client.get("/orders/", {"cols": ["number", "items", "tracking"]}).content.decode()
    assert 'data-col="items"' in body and 'data-col="tracking"' in body and 'data-col="customer"' not in body
    assert "Aras Kargo AR123456" in body
    assert '<td class="num" data-label="Items">3</td>' in body  # K000777: three items on one line


def test_an_empty_list_says_what_to_do_next(admin_client):
    body = admin_client.get("/orders/").content.decode()
    assert "No orders yet." in body and 'href="/imports/"' in body


def test_the_page_and_the_api_read_a_bounded_number_of_queries(shop, admin_client, api, django_assert_max_num_queries):
    for n in range(30):
        order = make_order(make_customer(), number=f"B{n:03d}", placed_at=at(10))
        order_set_status(actor=SYSTEM, order=order, status="shipped", carrier="PTT", tracking_number=f"PT{n}")
    admin_client.get("/orders/")  # warm the session and caches
    cols = ["number", "customer", "placed", "status", "channel", "source", "total", "items", "refunded", "tracking"]
    # session, tracking + customer look-ups, the page, its lines and shipments, count, saved views, sources: 9
    with django_assert_max_num_queries(11):
        response = admin_client.get("/orders/", {"cols": cols, "q": "B0"})
    assert len(response.context["page"].items) == 30
    with django_assert_max_num_queries(9):
        response = admin_client.get("/orders/", {"cols": cols, "sort": "total", "status": ["shipped", "paid"]})
    assert len(response.context["page"].items) == 32
    with django_assert_max_num_queries(6):  # the key (+ its last use), 2 look-ups, the page
        assert len(api.get("/orders/", {"q": "B0", "limit": 100}).json()["items"]) == 30


def test_export_streams_the_filtered_list_formula_safe_and_audited(shop, admin_client):
    Customer.objects.filter(pk=shop["mert"].pk).update(first_name="=HYPERLINK(1)")
    response = admin_client.get("/orders/export.csv", {"customer": shop["mert"].pk, "placed_from": "banana"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [r["number"] for r in rows] == [
        "K000777",
        "#2001",
        "#3001",
    ]  # the bad date is left out, the customer applies
    assert rows[1]["tracking_numbers"] == "AR123456" and rows[0]["items"] == "3"
    assert rows[0]["customer_name"].startswith("'=HYPERLINK")
    assert Decimal(rows[1]["total"]) == Decimal("1000.00")
    log = AuditLog.objects.get(action="export", object_type="orders.order")
    assert log.changes["filters"]["customer"] == str(shop["mert"].pk)


def test_bulk_export_downloads_the_ticked_orders(shop, admin_client):
    response = admin_client.post("/lists/orders/bulk/", {"action": "export", "ids": [shop["a"].pk, shop["d"].pk]})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [r["number"] for r in rows] == ["K000777", "#1001"]


def test_bulk_tag_tags_the_customers_of_the_ticked_orders(shop, admin_client):
    response = admin_client.post(
        "/lists/orders/bulk/",
        {
            "action": "tag_customers",
            "value-tag_customers": "İade",
            "ids": [shop["a"].pk, shop["b"].pk],
            "next": "/orders/",
        },
        follow=True,
    )
    assert "Tag added to 1 customer." in response.content.decode()
    assert list(Customer.objects.filter(tags__name="İade").values_list("pk", flat=True)) == [shop["isil"].pk]


def test_refused_bulk_actions_change_nothing(shop, make_user):
    analyst = Client()
    analyst.force_login(make_user(Role.ANALYST, "analist"))  # reads orders and customers, writes neither
    response = analyst.post(
        "/lists/orders/bulk/", {"action": "tag_customers", "value-tag_customers": "x", "ids": [shop["a"].pk]}
    )
    assert response.status_code == 403 and not Customer.objects.filter(tags__name="x").exists()
    support = Client()
    support.force_login(make_user(Role.SUPPORT, "destek"))  # no exports
    response = support.post("/lists/orders/bulk/", {"action": "export", "ids": [shop["a"].pk]})
    assert response.status_code == 403 and not AuditLog.objects.filter(action="export").exists()
    assert support.get("/orders/export.csv").status_code == 403
    assert [a.key for a in support.get("/orders/").context["bulk"]] == ["tag_customers"]


def test_pages_follow_the_role_matrix(shop):
    assert_page_matrix("/orders/", "orders")
    assert_page_matrix("/orders/export.csv", "exports")
    assert_read_matrix("/api/v1/orders/", "orders")


# --- the API -------------------------------------------------------------------------------------------------------


def api_numbers(api, **params) -> list[str]:
    response = api.get("/orders/", params)
    assert response.status_code == 200, response.content
    return [o["number"] for o in response.json()["items"]]


def test_api_filters_and_sorts(shop, api):
    assert api_numbers(api, q="ışıl çağlar") == ["#1002", "#1001"]
    assert api_numbers(api, status=["paid", "delivered"], sort="total") == ["#1002", "K000777", "#3001"]
    assert api_numbers(api, status="paid,delivered", sort="oldest") == ["#1002", "#3001", "K000777"]
    assert api_numbers(api, has_return="waiting") == ["K000777"]
    assert api_numbers(api, source="trendyol", placed_from="2026-03-01") == ["#2001"]
    assert api_numbers(api, customer_id=shop["isil"].pk) == ["#1002", "#1001"]  # the older parameter still works
    assert api_numbers(api, since="2026-03-03T00:00:00+03:00") == ["K000777", "#2001"]


def test_api_cursor_pages_through_a_sort(shop, api):
    seen, cursor = [], None
    while True:
        body = api.get("/orders/", {"sort": "total", "limit": 1, **({"cursor": cursor} if cursor else {})}).json()
        seen += [o["number"] for o in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == ["#2001", "#1002", "K000777", "#1001", "#3001"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"placed_from": "banana"}, "placed_from"),
        ({"status": "lost"}, "status"),
        ({"sort": "loudest"}, "sort"),
        ({"min_total": "x"}, "min_total"),
        ({"has_return": "maybe"}, "has_return"),
        ({"source": "nowhere"}, "source"),
    ],
)
def test_api_bad_values_answer_400_naming_the_field(shop, api, params, field):
    response = api.get("/orders/", params)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] and body["code"] and body.get("field") == field


def test_api_refuses_a_key_without_orders_read(shop, make_api_key):
    from kervan.conftest import ApiClient

    _key, secret = make_api_key(scopes={"customers": "read"})
    response = ApiClient(secret).get("/orders/")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


# --- the global search ---------------------------------------------------------------------------------------------


def test_search_source_finds_an_order_by_number_then_prefix_and_by_tracking(shop):
    assert [h.title for h in order_search(SYSTEM, "#1001", 8)] == ["#1001"]
    assert [h.title for h in order_search(SYSTEM, "1001", 8)] == ["#1001"]
    assert [h.title for h in order_search(SYSTEM, "#100", 8)] == ["#1001", "#1002"]
    assert [h.title for h in order_search(SYSTEM, "ar123456", 8)] == ["#2001"]
    assert order_search(SYSTEM, "Işıl", 8) == []  # customers are the customers source's
    hit = order_search(SYSTEM, "K000777", 8)[0]
    assert hit.url == f"/orders/{shop['d'].pk}/" and "Mert Kaya" in hit.subtitle


def test_global_search_opens_a_single_order_and_lists_several(shop, admin_client):
    response = admin_client.get("/search/", {"q": "K000777"})
    assert response.status_code == 302 and response["Location"] == f"/orders/{shop['d'].pk}/"
    body = admin_client.get("/search/", {"q": "#100"}).content.decode()
    assert 'data-source="orders"' in body and "#1001" in body and "#1002" in body


def test_the_menu_has_orders(admin_client):
    body = admin_client.get("/orders/").content.decode()
    assert 'data-nav="orders"' in body and 'href="/orders/"' in body


def test_api_refuses_a_cursor_made_under_another_sort(shop, api):
    cursor = api.get("/orders/", {"sort": "total", "limit": 1}).json()["next_cursor"]
    for sort in ("newest", "number"):
        response = api.get("/orders/", {"sort": sort, "limit": 1, "cursor": cursor})
        assert response.status_code == 400 and response.json()["code"] == "invalid_cursor"
    assert api.get("/orders/", {"sort": "total", "limit": 1, "cursor": cursor}).status_code == 200


def test_nul_characters_in_the_query_string_never_reach_the_database(shop, admin_client):
    response = admin_client.get("/orders/", {"q": "#20\x0001", "source": "trendyol\x00", "status": "sh\x00ipped"})
    assert response.status_code == 200 and shown(response) == ["#2001"]
    assert admin_client.get("/catalog/products/", {"q": "a\x00b"}).status_code == 200
