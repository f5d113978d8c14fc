"""A real browser: logging in lands on the Today page, its cards show, the sales chart is drawn by Chart.js from
Kervan's own static files with no script error, and a card's figure opens the list that shows its rows."""

import datetime as dt

import pytest

from kervan.accounts.models import User
from kervan.core import clock
from kervan.core.testing import page_problems
from kervan.customers.tests.factories import make_customer, make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_lands_on_today_the_chart_draws_and_a_card_opens_its_list(page, live_server):
    problems = page_problems(page)
    User.objects.create_user("satis", password="kervan-browser-pw", role="sales", language="en")
    customer = make_customer(first_name="Işıl", last_name="Çağlar")
    now = clock.now()
    late = make_order(customer, status="paid", placed_at=now - dt.timedelta(days=4), total_lines=((1, "250.00"),))
    for days in (1, 2, 3, 8, 15):
        make_order(customer, placed_at=now - dt.timedelta(days=days), total_lines=((days, "100.00"),))

    page.goto("/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", "satis")
    page.fill("input[name=password]", "kervan-browser-pw")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    assert page.locator("h1").first.inner_text() == "Today"
    for card in ("orders_to_ship", "returns_waiting", "abandoned_checkouts", "new_customers", "sales"):
        assert page.locator(f"#today-{card}").is_visible(), card
    assert page.locator("#today-orders-to-ship-link .value").inner_text() == "1"
    assert page.locator("#today-new-customers-link .value").inner_text() == "1"

    # Chart.js (from /static/vendor/chartjs/) drew the 30 days on the canvas; the table holds the same numbers.
    page.wait_for_function("() => window.Chart && window.Chart.getChart(document.getElementById('today-sales-chart'))")
    drawn = page.evaluate(
        """() => {
            const chart = Chart.getChart(document.getElementById('today-sales-chart'));
            const canvas = chart.canvas;
            return {labels: chart.data.labels.length, bars: chart.data.datasets[0].data.filter(v => v > 0).length,
                    width: canvas.width, height: canvas.height,
                    painted: canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data
                             .some((v, i) => i % 4 === 3 && v > 0)};
        }"""
    )
    assert drawn["labels"] == 30 and drawn["bars"] >= 4
    assert drawn["width"] > 200 and drawn["height"] > 100 and drawn["painted"]
    page.click("#today-sales summary")
    assert page.locator("#today-sales-table tbody tr").count() == 30

    page.click("#today-orders-to-ship-link")
    page.wait_for_url("**/orders/?status=paid&placed_to=*")
    assert page.locator("#list-count").inner_text().startswith("1 result")
    assert late.number in page.locator("table").first.inner_text()

    # The logo and the menu lead back to Today.
    page.click(".topbar .brand")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator('.topbar nav a[data-nav="today"]').get_attribute("class") == "active"
    assert problems == []


def test_today_fits_a_phone(page, live_server):
    User.objects.create_user("telefon", password="kervan-browser-pw", role="admin", language="tr")
    make_order(make_customer(), placed_at=clock.now() - dt.timedelta(days=1))
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "telefon")
    page.fill("input[name=password]", "kervan-browser-pw")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.wait_for_function("() => window.Chart && window.Chart.getChart(document.getElementById('today-sales-chart'))")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert page.locator("#today-sales-chart").bounding_box()["width"] <= 390
