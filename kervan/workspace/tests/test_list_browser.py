"""A real browser on the customer list: filter, save the view, reopen it from the views bar, tick rows and tag them,
export the ticked rows; the header's search box finds a customer."""

from pathlib import Path

import pytest

from kervan.accounts.models import User
from kervan.customers.models import Customer
from kervan.customers.tests.factories import make_customer
from kervan.workspace.models import SavedView

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page):
    User.objects.create_user("pazarlama", password="kervan-browser-pw", role="marketing", language="en")
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "pazarlama")
    page.fill("input[name=password]", "kervan-browser-pw")
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_filter_save_a_view_reopen_it_and_tag_ticked_rows(page):
    izmir = [make_customer(first_name=name, last_name="Ege", city="İzmir") for name in ("Ada", "Bora", "Cem")]
    make_customer(first_name="Derya", last_name="Karadeniz", city="Rize")
    _login(page)
    page.goto("/customers/")
    page.select_option("#list-filters select[name=city]", "İzmir")  # applies at once (data-autosubmit)
    page.wait_for_url("**city=**")
    assert page.locator("a.customer-link").count() == 3
    assert page.locator("#list-count").inner_text().startswith("3 results")

    page.click("details.save-view summary")
    page.fill("details.save-view input[name=name]", "İzmirliler")
    page.click("details.save-view button.primary")
    page.wait_for_url("**view=**")
    assert SavedView.objects.get().query == "city=%C4%B0zmir"

    page.goto("/customers/")
    assert page.locator("a.customer-link").count() == 4
    page.click("a[data-view='İzmirliler']")
    page.wait_for_url("**view=**")
    assert page.locator("a.customer-link").count() == 3

    boxes = page.locator("#customers-rows input[name=ids]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.select_option("select[name=action]", "tag")
    page.fill(".bulk-bar input[name=value-tag]", "Ege kampanyası")
    page.click(".bulk-bar button[type=submit]")
    page.wait_for_load_state()
    assert "Tag added to 2 customers." in page.locator(".messages").inner_text()
    tagged = set(Customer.objects.filter(tags__name="Ege kampanyası").values_list("pk", flat=True))
    assert len(tagged) == 2 and tagged <= {c.pk for c in izmir}

    page.locator("input[data-select-all=ids]").check()
    assert page.locator("#customers-rows input[name=ids]:checked").count() == 3
    page.select_option("select[name=action]", "export")
    with page.expect_download() as download:
        page.click(".bulk-bar button[type=submit]")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert all(c.email in text for c in izmir) and "Karadeniz" not in text


def test_the_header_search_opens_the_one_customer_it_finds(page):
    customer = make_customer(first_name="Şule", last_name="Işıkçı", email="sule@example.com")
    make_customer(first_name="Mehmet", last_name="Aydın")
    _login(page)
    page.fill("header .global-search input[name=q]", "SULE ISIKCI")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/customers/{customer.pk}/")
