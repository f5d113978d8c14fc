"""A real browser on the order list: filter, save a view and reopen it from the views bar, tick two rows and run the
bulk actions (a CSV download; a tag with its message), and find an order by number from the header's search."""

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from kervan.accounts.models import User
from kervan.customers.models import Customer
from kervan.customers.tests.factories import IST, make_customer, make_order
from kervan.workspace.models import SavedView

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, role: str = "sales") -> User:
    user = User.objects.create_user(f"{role}-browser", password="kervan-browser-pw", role=role, language="en")
    staff = Client()
    staff.force_login(user)
    cookie = staff.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    return user


def test_filter_save_a_view_bulk_actions_and_the_global_search(page, live_server):
    deniz = make_customer(first_name="Deniz", last_name="Ak")
    ece = make_customer(first_name="Ece", last_name="Şen")
    when = dt.datetime(2026, 3, 1, 12, tzinfo=IST)
    make_order(deniz, number="#5001", placed_at=when, sales_channel="marketplace", marketplace="trendyol")
    make_order(ece, number="#5002", placed_at=when + dt.timedelta(hours=1), sales_channel="marketplace")
    target = make_order(ece, number="#5003", placed_at=when + dt.timedelta(hours=2))
    log_in(page, live_server)

    page.goto("/orders/")
    assert page.locator("a.order-link").count() == 3
    page.select_option("#list-filters select[name=sales_channel]", "marketplace")  # submits the form
    page.wait_for_url("**sales_channel=marketplace**")
    assert sorted(page.locator("a.order-link").all_inner_texts()) == ["#5001", "#5002"]
    assert "2 results" in page.locator("#list-count").inner_text()

    page.click("details.save-view summary")
    page.fill("details.save-view input[name=name]", "Pazaryeri")
    page.click("details.save-view button.primary")
    page.wait_for_url("**view=**")
    assert SavedView.objects.get(name="Pazaryeri").query == "sales_channel=marketplace"

    page.goto("/orders/")
    assert page.locator("a.order-link").count() == 3
    page.click("a.view-link[data-view=Pazaryeri]")
    page.wait_for_url("**sales_channel=marketplace**")
    assert sorted(page.locator("a.order-link").all_inner_texts()) == ["#5001", "#5002"]

    boxes = page.locator("input[name=ids]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.select_option("select[name=action]", "export")
    with page.expect_download() as caught:
        page.click("#bulk-form .bulk-bar button[type=submit]")
    download = caught.value
    assert download.suggested_filename == "kervan-orders.csv"
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    assert "#5001" in text and "#5002" in text and "#5003" not in text

    boxes = page.locator("input[name=ids]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.select_option("select[name=action]", "tag_customers")
    page.fill("#bulk-form input[name=value-tag_customers]", "Pazaryeri müşterisi")
    page.click("#bulk-form .bulk-bar button[type=submit]")
    page.wait_for_selector("ul.messages")
    assert "Tag added to 2 customers." in page.locator("ul.messages").inner_text()
    tagged = set(Customer.objects.filter(tags__name="Pazaryeri müşterisi").values_list("pk", flat=True))
    assert tagged == {deniz.pk, ece.pk}

    page.fill("form.global-search input[name=q]", "#5003")
    page.press("form.global-search input[name=q]", "Enter")
    page.wait_for_url(f"**/orders/{target.pk}/")
    assert "#5003" in page.locator("h1").first.inner_text()
