"""The Today page: the card registry (roles, cards with nothing to show), each card's numbers against hand-built data,
and each card's link showing the same rows in its list."""

import datetime as dt
import html
import re
import zoneinfo
from decimal import Decimal

import pytest
from django.test import Client

from kervan.accounts.actors import Actor
from kervan.accounts.models import User
from kervan.accounts.permissions import Role
from kervan.customers.actions import customer_merge
from kervan.customers.models import Customer
from kervan.customers.tests.factories import make_customer, make_order
from kervan.events.actions import event_record
from kervan.imports.models import ImportJob, ImportStatus
from kervan.orders.actions import order_set_status, refund_create, return_create
from kervan.workspace import today as today_module
from kervan.workspace.today import TodayCard, register_today_card, shown_cards

pytestmark = pytest.mark.django_db
IST = zoneinfo.ZoneInfo("Europe/Istanbul")
# A Friday afternoon in the shop's time zone.
NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=IST)
SYSTEM = Actor.system()


@pytest.fixture
def at_now(clock):
    with clock.frozen(NOW):
        yield clock


def _client(role: str) -> Client:
    user = User.objects.create_user(username=f"{role}-today", password="kervan-test-pw", role=role, language="en")
    client = Client()
    client.force_login(user)
    return client


def _card_ids(page: str) -> list[str]:
    return re.findall(r'<section class="card today-card[^"]*" id="today-([a-z_]+)"', page)


def _link(page: str, element_id: str) -> str:
    match = re.search(rf'href="([^"]+)" id="{element_id}"', page)
    assert match, f"no link #{element_id}"
    return html.unescape(match.group(1))


def _figure(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">\s*<span class="value">([^<]+)</span>', page)
    assert match, f"no figure #{element_id}"
    return match.group(1)


def _list_count(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return re.search(r'id="list-count">([^<·]+)', response.content.decode()).group(1).strip()


# The registry -------------------------------------------------------------------------------------------------------


@pytest.fixture
def extra_cards():
    """Two cards of another app: one on the audit area (Admin and Analyst only), one with nothing to show."""
    cards = [
        TodayCard(
            "test_audit",
            "Audit card",
            area="audit",
            template="workspace/_today_count.html",
            context=lambda actor: {"count": today_module.BoundedCount(3, False), "label": "audited", "url": "/"},
            position=1,
        ),
        TodayCard("test_empty", "Empty card", area="customers", template="missing.html", context=lambda actor: None),
    ]
    for card in cards:
        register_today_card(card)
    yield cards
    for card in cards:
        today_module._cards.pop(card.key)


def test_a_card_shows_only_to_roles_that_may_read_its_area_and_none_hides_it(extra_cards, at_now):
    admin = _client(Role.ADMIN).get("/").content.decode()
    assert _card_ids(admin)[0] == "test_audit"  # position 1: first
    assert "test_empty" not in _card_ids(admin)
    assert "test_audit" in _card_ids(_client(Role.ANALYST).get("/").content.decode())
    support = _client(Role.SUPPORT).get("/").content.decode()
    assert "test_audit" not in _card_ids(support) and "Audit card" not in support


def test_a_card_registered_twice_differently_is_refused(extra_cards):
    register_today_card(extra_cards[0])  # the same card again (ready() twice) is harmless
    with pytest.raises(ValueError):
        register_today_card(TodayCard("test_audit", "Other", area="orders", template="x.html", context=lambda a: {}))


@pytest.mark.parametrize(
    "role, expected",
    [
        (Role.ADMIN, {"orders_to_ship", "returns_waiting", "abandoned_checkouts", "new_customers", "imports", "sales"}),
        (Role.SALES, {"orders_to_ship", "returns_waiting", "abandoned_checkouts", "new_customers", "imports", "sales"}),
        (Role.SUPPORT, {"orders_to_ship", "returns_waiting", "abandoned_checkouts", "new_customers", "sales"}),
        (Role.READ_ONLY, {"orders_to_ship", "returns_waiting", "abandoned_checkouts", "new_customers", "sales"}),
    ],
)
def test_each_role_sees_the_cards_of_its_areas(role, expected, at_now):
    ImportJob.objects.create(kind="customers", status=ImportStatus.CHECKING, token=f"t-{role}", file_name="a.csv")
    response = _client(role).get("/")
    assert response.status_code == 200
    assert set(_card_ids(response.content.decode())) == expected


def test_a_role_without_an_area_gets_none_of_its_cards_from_the_registry(at_now):
    actor = Actor(scopes={"customers": "read"})
    assert [shown.card.key for shown in shown_cards(actor)] == ["new_customers"]


def test_the_home_page_is_today_and_login_lands_on_it(admin_user, at_now):
    client = Client()
    assert client.get("/").url.startswith("/accounts/login/")
    response = client.post("/accounts/login/", {"username": "ayse", "password": "kervan-test-pw"})
    assert response.status_code == 302 and response.url == "/"
    page = client.get("/").content.decode()
    assert '<a href="/" data-nav="today" class="active">Today</a>' in page


# The cards' numbers ---------------------------------------------------------------------------------------------------


def test_paid_not_shipped_counts_paid_orders_placed_two_days_ago_or_earlier(at_now):
    c = make_customer()
    late = make_order(c, status="paid", placed_at=NOW - dt.timedelta(days=3))
    make_order(c, status="paid", placed_at=dt.datetime(2026, 11, 18, 23, 30, tzinfo=IST))  # counted: on the 18th
    make_order(c, status="paid", placed_at=dt.datetime(2026, 11, 19, 0, 30, tzinfo=IST))  # the 19th: one day
    make_order(c, status="paid", placed_at=NOW - dt.timedelta(hours=1))
    make_order(c, status="placed", placed_at=NOW - dt.timedelta(days=5))  # not paid yet
    shipped = make_order(c, status="paid", placed_at=NOW - dt.timedelta(days=6))
    order_set_status(actor=SYSTEM, order=shipped, status="shipped", carrier="Yurtiçi", tracking_number="1")
    cancelled = make_order(c, status="paid", placed_at=NOW - dt.timedelta(days=6))
    order_set_status(actor=SYSTEM, order=cancelled, status="cancelled")

    client = _client(Role.SUPPORT)
    page = client.get("/").content.decode()
    assert _figure(page, "today-orders-to-ship-link") == "2"
    url = _link(page, "today-orders-to-ship-link")
    assert url == "/orders/?status=paid&placed_to=2026-11-18"
    assert _list_count(client, url) == "2 results"
    listed = client.get(url).content.decode()
    assert late.number in listed and shipped.number not in listed


def test_paid_not_shipped_follows_the_setting(at_now, settings):
    settings.KERVAN_TODAY_UNSHIPPED_DAYS = 5
    make_order(make_customer(), status="paid", placed_at=NOW - dt.timedelta(days=3))
    page = _client(Role.ADMIN).get("/").content.decode()
    assert _figure(page, "today-orders-to-ship-link") == "0"
    assert _link(page, "today-orders-to-ship-link") == "/orders/?status=paid&placed_to=2026-11-15"
    assert "placed 5 days ago or earlier" in page


def test_returns_waiting_are_those_no_refund_has_settled(at_now):
    c = make_customer()

    def returned(refund: str | None, *, names_the_return: bool = True):
        order = make_order(c, status="delivered", placed_at=NOW - dt.timedelta(days=10), total_lines=((2, "50.00"),))
        line = order.lines.get()
        ret, _ = return_create(
            actor=SYSTEM, order=order, lines=[{"order_line_id": line.pk, "quantity": 1}], reason="size"
        )
        if refund:
            settles = ret if names_the_return else None
            refund_create(actor=SYSTEM, order=order, amount=refund, return_request=settles)
        return order

    waiting = returned(None)
    partly_elsewhere = returned("20.00", names_the_return=False)  # a refund for something else: still waiting
    settled = returned("50.00")  # the return's own refund (the order is not refunded in full)
    done = returned("100.00", names_the_return=False)  # the whole order refunded
    make_order(c, status="delivered", placed_at=NOW - dt.timedelta(days=10))  # no return
    refunded_only = make_order(c, status="delivered", placed_at=NOW - dt.timedelta(days=10))
    refund_create(actor=SYSTEM, order=refunded_only, amount="10.00")  # a refund without a return

    client = _client(Role.READ_ONLY)
    page = client.get("/").content.decode()
    assert _figure(page, "today-returns-link") == "2"
    url = _link(page, "today-returns-link")
    assert url == "/orders/?has_return=waiting"
    listed = client.get(url).content.decode()
    assert _list_count(client, url) == "2 results"
    assert waiting.number in listed and partly_elsewhere.number in listed
    assert settled.number not in listed and done.number not in listed


def test_abandoned_checkouts_are_those_of_the_last_24_hours_no_order_followed(at_now):
    def checkout(when, customer=None, visitor=""):
        event_record(
            name="Started Checkout",
            occurred_at=when,
            dedupe_key=f"checkout:{when.isoformat()}:{customer.pk if customer else visitor}",
            customer_id=customer.pk if customer else None,
            anonymous_id=visitor,
        )

    left, bought, old, again = make_customer(), make_customer(), make_customer(), make_customer()
    checkout(NOW - dt.timedelta(hours=2), left)  # counted
    checkout(NOW - dt.timedelta(hours=3), bought)
    make_order(bought, placed_at=NOW - dt.timedelta(hours=2, minutes=50))  # ordered after it: not counted
    checkout(NOW - dt.timedelta(hours=30), old)  # too old
    make_order(again, placed_at=NOW - dt.timedelta(hours=5))
    checkout(NOW - dt.timedelta(hours=4), again)  # came back after an earlier order, left: counted
    checkout(NOW - dt.timedelta(hours=1), visitor="anon-1")  # a visitor not yet known: counted
    checkout(NOW - dt.timedelta(hours=6), visitor="anon-2")
    event_record(
        name="Placed Order", occurred_at=NOW - dt.timedelta(hours=5), dedupe_key="anon-2-order", anonymous_id="anon-2"
    )

    client = _client(Role.ADMIN)
    page = client.get("/").content.decode()
    assert _figure(page, "today-checkouts-link") == "3"
    assert "of 5 checkouts started" in page
    url = _link(page, "today-checkouts-link")
    assert url == "/events/?name=Started+Checkout&since=2026-11-19+15%3A00"
    listed = client.get(url)
    assert listed.status_code == 200
    assert _list_count(client, url) == "5 results"  # the list shows every checkout of the window


def test_new_customers_today_as_the_customer_list_counts_them(at_now):
    today = [make_customer() for _ in range(3)]
    yesterday = make_customer()
    Customer.objects.filter(pk__in=[c.pk for c in today]).update(created_at=NOW - dt.timedelta(hours=14))  # 01:00
    Customer.objects.filter(pk=yesterday.pk).update(created_at=dt.datetime(2026, 11, 19, 23, 59, tzinfo=IST))
    customer_merge(actor=SYSTEM, survivor=today[0], merged=today[1])  # a merged-away profile is not a customer

    client = _client(Role.SUPPORT)
    page = client.get("/").content.decode()
    assert _figure(page, "today-new-customers-link") == "2"
    url = _link(page, "today-new-customers-link")
    assert url == "/customers/?created_from=2026-11-20"
    assert _list_count(client, url) == "2 results"


def test_imports_running_and_failed_lately_or_no_card(at_now):
    client = _client(Role.SALES)
    assert "imports" not in _card_ids(client.get("/").content.decode())

    def job(status, created, name):
        job = ImportJob.objects.create(kind="customers", status=status, token=name, file_name=f"{name}.csv")
        ImportJob.objects.filter(pk=job.pk).update(created_at=created)

    job(ImportStatus.QUEUED, NOW - dt.timedelta(minutes=5), "queued")
    job(ImportStatus.FAILED, NOW - dt.timedelta(days=2), "failed")
    job(ImportStatus.REFUSED, NOW - dt.timedelta(days=6), "refused")
    job(ImportStatus.FAILED, NOW - dt.timedelta(days=9), "old-failure")
    job(ImportStatus.DONE, NOW - dt.timedelta(hours=1), "done")

    page = client.get("/").content.decode()
    assert _figure(page, "today-imports-running-link") == "1"
    assert _figure(page, "today-imports-failed-link") == "2"
    running = client.get(_link(page, "today-imports-running-link")).content.decode()
    assert "queued.csv" in running and "done.csv" not in running
    url = _link(page, "today-imports-failed-link")
    assert url == "/imports/?status=failed&since=2026-11-14"
    failed = client.get(url).content.decode()
    assert "failed.csv" in failed and "refused.csv" in failed and "old-failure.csv" not in failed


def test_a_bad_imports_filter_is_said_and_the_whole_list_shown(at_now):
    ImportJob.objects.create(kind="customers", status=ImportStatus.DONE, token="d", file_name="done.csv")
    response = _client(Role.ADMIN).get("/imports/?status=lost&since=2026-11-14")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="imports-filter-error"' in page and "lost" in page and "done.csv" in page
    bad_day = _client(Role.MARKETING).get("/imports/?status=failed&since=14.11.2026").content.decode()
    assert "is not a date" in bad_day and "done.csv" in bad_day


def test_sales_today_against_the_same_weekday_last_week(at_now):
    c = make_customer()
    make_order(c, placed_at=NOW - dt.timedelta(hours=2), total_lines=((1, "300.00"),))
    make_order(c, placed_at=NOW - dt.timedelta(hours=14, minutes=30), total_lines=((1, "200.00"),))  # 00:30
    refunded = make_order(c, status="paid", placed_at=NOW - dt.timedelta(hours=3), total_lines=((1, "150.00"),))
    refund_create(actor=SYSTEM, order=refunded, amount="50.00")
    cancelled = make_order(c, status="paid", placed_at=NOW - dt.timedelta(hours=1), total_lines=((1, "999.00"),))
    order_set_status(actor=SYSTEM, order=cancelled, status="cancelled")
    week_ago = NOW - dt.timedelta(days=7)
    make_order(c, placed_at=week_ago - dt.timedelta(hours=1), total_lines=((1, "400.00"),))  # by this time
    make_order(c, placed_at=week_ago + dt.timedelta(hours=2), total_lines=((1, "100.00"),))  # later that day
    make_order(c, placed_at=NOW - dt.timedelta(days=40), total_lines=((1, "777.00"),))  # before the chart

    page = _client(Role.MARKETING).get("/").content.decode()
    today_figure = re.search(r'id="today-sales-today">(.*?)</a>', page, re.S).group(1)
    assert "₺600.00" in today_figure and "3 orders" in today_figure  # 300 + 200 + (150 − 50)
    week = re.search(r'id="today-sales-week-ago">(.*?)</div>\s*<a', page, re.S).group(1)
    assert "Last Friday by this time" in week and "₺400.00" in week and "1 order" in week
    assert "Revenue +50% today" in week
    whole = re.search(r'id="today-sales-week-ago-whole">(.*?)</a>', page, re.S).group(1)
    assert "₺500.00" in whole and "2 orders" in whole
    assert _link(page, "today-sales-today") == "/orders/?placed_from=2026-11-20&placed_to=2026-11-20"

    table = re.search(r'id="today-sales-table">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">([^<]+)</td><td class=\"num\">([^<]+)</td></tr>", table)
    assert len(rows) == 30
    assert rows[0] == ("Fri, 20 Nov", "3", "₺600.00") and rows[-1][0] == "Thu, 22 Oct"
    assert ("Fri, 13 Nov", "2", "₺500.00") in rows
    assert sum(int(orders) for _day, orders, _revenue in rows) == 5  # the order 40 days ago is not in the 30

    chart = re.search(r'<script id="today-sales-chart-data" type="application/json">(.*?)</script>', page, re.S)
    assert chart and '"type": "bar"' in chart.group(1) and "600.0" in chart.group(1)
    assert 'data-chart="today-sales-chart-data"' in page
    assert '/static/vendor/chartjs/chart.min.js"' in page and "/static/workspace/charts.js" in page


def test_revenue_is_in_the_reporting_currency(at_now):
    from kervan.currency.models import ExchangeRate

    ExchangeRate.objects.create(currency="EUR", on=NOW.date(), try_per_unit=Decimal("40.0000"), source="manual")
    make_order(make_customer(), placed_at=NOW - dt.timedelta(hours=1), currency="EUR", total_lines=((1, "10.00"),))
    page = _client(Role.ADMIN).get("/").content.decode()
    assert "₺400.00" in re.search(r'id="today-sales-today">(.*?)</a>', page, re.S).group(1)


def test_the_chart_script_is_served_from_the_installed_package(client):
    response = client.get("/static/vendor/chartjs/chart.min.js")
    assert response.status_code == 200
    assert b"Chart.js v3" in b"".join(response.streaming_content)[:200]
