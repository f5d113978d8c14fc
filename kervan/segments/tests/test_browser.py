"""A real browser: build a segment with two conditions, watch the live count, save it, open its members."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from kervan.accounts.models import User
from kervan.customers.models import Customer, CustomerStats

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_build_a_segment_see_the_live_count_save_and_open_members(page):
    User.objects.create_user("pazarlama", password="kervan-browser-pw", role="marketing", language="en")
    for first, city, spent in (("Işıl", "İstanbul", "3000"), ("Mert", "ISTANBUL", "100"), ("Ece", "Ankara", "5000")):
        c = Customer.objects.create(first_name=first, city=city)
        CustomerStats.objects.create(customer=c, total_spent=Decimal(spent), order_count=1)

    page.goto("/segments/new/")
    page.fill("input[name=username]", "pazarlama")
    page.fill("input[name=password]", "kervan-browser-pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/segments/new/")

    page.fill("input[name=name]", "Büyük İstanbullular")
    first_row = page.locator(".cond-row").first
    first_row.locator("input[name$=-value]").fill("2000")  # the default row: total spent more than …
    expect(page.locator("#count-value")).to_have_text("2")

    page.click("#add-condition")
    expect(page.locator(".cond-row")).to_have_count(2)
    second = page.locator(".cond-row").nth(1)  # a new row: city is …
    second.locator("input[name$=-value]").fill("istanbul")
    expect(page.locator("#count-value")).to_have_text("1")
    assert "Işıl" in page.locator("#live-count").inner_text()

    page.click("#save-segment")
    page.wait_for_url("**/segments/*/")
    assert "1 member" in page.locator("#members-link").inner_text()
    page.click("#members-link")
    page.wait_for_url("**/customers/?segment=*")
    table = page.locator("table").first.inner_text()
    assert "Işıl" in table and "Mert" not in table and "Ece" not in table
