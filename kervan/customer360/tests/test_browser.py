"""A real browser on the Customer 360: ticking a timeline kind applies at once (no button), and merging finds the
other profile by searching for it."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from kervan.accounts.actors import Actor
from kervan.customers.actions import note_add
from kervan.customers.models import Customer
from kervan.customers.tests.factories import IST, make_customer, make_order
from kervan.events.tests.test_list_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_timeline_kind_applies_as_soon_as_it_is_ticked(page, live_server):
    log_in(page, live_server, role="support")
    customer = make_customer(first_name="Işıl", last_name="Çağlar")
    make_order(customer, placed_at=dt.datetime(2026, 2, 14, 15, 30, tzinfo=IST))
    note_add(actor=Actor.system(), customer=customer, body="Kapıda ödeme istiyor")

    page.goto(f"/customers/{customer.pk}/")
    timeline = page.locator("#timeline")
    assert "Kapıda ödeme istiyor" in timeline.inner_text() and "placed" in timeline.inner_text()
    assert page.locator("#timeline-filters button").is_visible() is False  # nothing to press

    page.check("#timeline-filters input[value=note]")
    page.wait_for_url("**kind=note**")
    expect(timeline).not_to_contain_text("placed")  # (page functions cannot run: the CSP forbids eval)
    assert "Kapıda ödeme istiyor" in timeline.inner_text()
    assert page.locator("#timeline-box").count() == 1 and page.locator("h1").count() == 1  # just the timeline came

    page.uncheck("#timeline-filters input[value=note]")
    page.check("#timeline-filters input[value=order]")
    expect(timeline).not_to_contain_text("Kapıda")
    assert "placed" in timeline.inner_text()


def test_merge_picks_the_other_profile_by_search(page, live_server):
    log_in(page, live_server, role="sales")
    survivor = make_customer(first_name="Meltem", last_name="Ateş", email="meltem@example.com")
    other = make_customer(first_name="Meltem", last_name="Ateş", email="meltem.ates@work.example")
    make_customer(first_name="Mert", last_name="Kaya")

    page.goto(f"/customers/{survivor.pk}/merge/")
    page.fill("#merge-search", "work.example")  # found as it is typed: no submit
    compare = page.locator(f'#merge-search-results a[data-merge-with="{other.pk}"]')
    compare.wait_for()
    assert page.locator("#merge-search-results a[data-merge-with]").count() == 1
    compare.click()
    page.wait_for_url(f"**/merge/?with={other.pk}")
    page.click("#confirm-merge")
    page.wait_for_url(f"**/customers/{survivor.pk}/")
    assert Customer.objects.get(pk=other.pk).merged_into_id == survivor.pk
