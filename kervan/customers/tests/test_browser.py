"""A real browser: log in, search a customer the Turkish way, open the Customer 360 page."""

import datetime as dt

import pytest

from kervan.accounts.models import User
from kervan.customers.actions import note_add
from kervan.customers.tests.factories import IST, make_customer, make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_search_and_open_customer_360(page):
    user = User.objects.create_user("satis", password="kervan-browser-pw", role="sales", language="en")
    customer = make_customer(first_name="Işıl", last_name="Çağlar", city="İstanbul", phone="05324443322")
    make_customer(first_name="Mert", last_name="Kaya", city="Ankara")
    make_order(customer, total_lines=((2, "450.00"),), placed_at=dt.datetime(2026, 2, 14, 15, 30, tzinfo=IST))
    from kervan.accounts.actors import Actor

    note_add(actor=Actor.for_user(user), customer=customer, body="Sevgililer günü hediyesi aldı")

    page.goto("/customers/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", "satis")
    page.fill("input[name=password]", "kervan-browser-pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/customers/")

    page.fill("#list-filters input[name=q]", "ISIL CAGLAR")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=ISIL+CAGLAR**")
    links = page.locator("a.customer-link")
    assert links.count() == 1
    assert links.first.inner_text() == "Işıl Çağlar"

    links.first.click()
    page.wait_for_url(f"**/customers/{customer.pk}/")
    assert page.locator("#customer-name").inner_text() == "Işıl Çağlar"
    assert "900.00" in page.locator("#kpi-total").inner_text()
    assert page.locator("#kpi-orders").inner_text() == "1"
    timeline = page.locator("#timeline")
    assert "Sevgililer günü hediyesi aldı" in timeline.inner_text()
    assert "placed" in timeline.inner_text()
