"""A real browser runs the tracker on the demo store page: page view, add to cart, identify → one profile."""

import time

import pytest
from django.conf import settings
from django.test import Client

from kervan.accounts.models import User
from kervan.customers.models import Customer
from kervan.events.models import Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_for(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the tracker's events to arrive")


def test_tracker_records_a_visit_and_joins_it_to_the_identified_customer(page, live_server):
    user = User.objects.create_user("pazarlama", password="kervan-browser-pw", role="marketing", language="en")
    staff = Client()
    staff.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": staff.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )

    page.goto("/events/tracker/demo/")
    wait_for(lambda: Event.objects.filter(name__in=["Viewed Page", "Viewed Product"]).count() == 2)
    visitor = page.evaluate("kervan.anonymousId()")
    cookie = {c["name"]: c["value"] for c in page.context.cookies()}["kv_aid"]
    assert cookie == visitor
    assert set(Event.objects.values_list("anonymous_id", "customer_id")) == {(visitor, None)}

    page.click("#add-to-cart")
    page.fill("#email", "Meltem@Example.com")
    page.fill("#first-name", "Meltem")
    page.click("#identify")

    customer = wait_for(lambda: Customer.objects.filter(email="meltem@example.com").first())
    wait_for(lambda: Event.objects.filter(customer=customer).count() == 3)
    assert customer.first_name == "Meltem"
    names = set(Event.objects.filter(customer=customer).values_list("name", flat=True))
    assert names == {"Viewed Page", "Viewed Product", "Added to Cart"}
    cart = Event.objects.get(name="Added to Cart")
    assert cart.properties["product_id"] == "demo-caydanlik"
    assert cart.source.key == "website"

    # Reloading sends a new page view with the same visitor id, which now lands on the profile directly.
    page.reload()
    wait_for(lambda: Event.objects.filter(customer=customer, name="Viewed Page").count() == 2)
    assert Event.objects.filter(customer__isnull=True).count() == 0
