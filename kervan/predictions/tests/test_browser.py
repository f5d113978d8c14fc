"""A real browser: the Analytics page draws its charts and the RFM page its grid chart with Chart.js from Kervan's
own static files (no inline script, no script error), and the Customer 360 page shows the predictions card."""

import datetime as dt

import pytest

from kervan.accounts.models import User
from kervan.core import clock
from kervan.customers.tests.factories import make_customer, make_order
from kervan.predictions.actions import predictions_refresh

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rfm_page_draws_the_grid_and_the_360_card_shows(page, live_server):
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    User.objects.create_user("analist", password="kervan-browser-pw", role="analyst", language="en")
    now = clock.now()
    customers = [make_customer(first_name=f"Işıl{i}") for i in range(6)]
    for i, customer in enumerate(customers):
        for k in range(i + 1):
            make_order(customer, placed_at=now - dt.timedelta(days=10 * i + 3 * k + 1))
    predictions_refresh()

    page.goto("/accounts/login/")
    page.fill("input[name=username]", "analist")
    page.fill("input[name=password]", "kervan-browser-pw")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.click("nav >> text=Analytics")
    page.wait_for_url(f"{live_server.url}/analytics/")
    # The Analytics page draws its charts (no script error), and links to the RFM page.
    page.wait_for_function(
        "() => window.Chart && window.Chart.getChart(document.getElementById('analytics-sales-chart'))"
    )
    orders = page.evaluate(
        "() => Chart.getChart(document.getElementById('analytics-sales-chart')).data.datasets[1].data"
    )
    assert sum(orders) == sum(range(1, 7)) - sum(1 for i in range(6) for k in range(i + 1) if 10 * i + 3 * k + 1 > 29)
    assert page.evaluate("() => !!Chart.getChart(document.getElementById('analytics-clv-chart'))")
    page.click("#analytics-rfm-link")
    page.wait_for_url(f"{live_server.url}/analytics/rfm/")
    page.wait_for_function("() => window.Chart && window.Chart.getChart(document.getElementById('rfm-grid-chart'))")
    datasets = page.evaluate(
        "() => Chart.getChart(document.getElementById('rfm-grid-chart')).data.datasets.map(d => d.data)"
    )
    assert sum(sum(row) for row in datasets) == 6
    assert page.locator("#rfm-grid tbody tr").count() == 5

    page.goto(f"/customers/{customers[5].pk}/")
    card = page.locator("#predictions-card")
    assert card.is_visible()
    assert "pooled defaults" in card.inner_text()
    assert problems == []
