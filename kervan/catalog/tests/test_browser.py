"""A real browser on the product list: filter, save a view and reopen it, tick two rows and export them, and open a
product from the header's search."""

from pathlib import Path

import pytest

from kervan.accounts.actors import Actor
from kervan.catalog.actions import product_create
from kervan.orders.tests.test_browser import log_in
from kervan.workspace.models import SavedView

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_filter_save_a_view_export_and_search(page, live_server):
    system = Actor.system()
    for title, sku, stock in (("Kışlık Bot", "BOT-1", 2), ("Yazlık Sandalet", "SND-1", 1), ("Şemsiye", "SMS-1", 90)):
        product_create(actor=system, title=title, variants=[{"sku": sku, "price": "100", "stock": stock}])
    log_in(page, live_server)

    page.goto("/catalog/products/")
    assert page.locator("a.product-link").count() == 3
    page.select_option("#list-filters select[name=low_stock]", "yes")
    page.wait_for_url("**low_stock=yes**")
    assert sorted(page.locator("a.product-link").all_inner_texts()) == ["Kışlık Bot", "Yazlık Sandalet"]

    page.click("details.save-view summary")
    page.fill("details.save-view input[name=name]", "Az kalanlar")
    page.check("details.save-view input[name=shared]")
    page.click("details.save-view button.primary")
    page.wait_for_url("**view=**")
    assert SavedView.objects.get(name="Az kalanlar").shared

    page.goto("/catalog/products/")
    page.click("a.view-link[data-view='Az kalanlar']")
    page.wait_for_url("**low_stock=yes**")
    assert page.locator("a.product-link").count() == 2

    boxes = page.locator("input[name=ids]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.select_option("select[name=action]", "export")
    with page.expect_download() as caught:
        page.click("#bulk-form .bulk-bar button[type=submit]")
    text = Path(caught.value.path()).read_text(encoding="utf-8-sig")
    assert "Kışlık Bot" in text and "Yazlık Sandalet" in text and "Şemsiye" not in text

    page.fill("form.global-search input[name=q]", "KIŞLIK")
    page.press("form.global-search input[name=q]", "Enter")
    page.wait_for_url("**/catalog/products/*/")
    assert page.locator("#product-title").inner_text() == "Kışlık Bot"
