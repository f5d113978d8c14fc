"""A real browser runs the tracker: identify() without a signature cannot claim a known customer; with the signature
the shop's server computed, it joins the visitor to that customer."""

import time

import pytest
from django.conf import settings
from django.test import Client

from kervan.accounts.actors import Actor
from kervan.accounts.models import User
from kervan.customers.actions import customer_create
from kervan.customers.models import Identity
from kervan.events.actions import tracker_site_default
from kervan.events.models import Event
from kervan.events.storefront import identity_signature

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_for(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the tracker")


def open_demo_store(page, live_server):
    user = User.objects.create_user("pazarlama", password="kervan-browser-pw", role="marketing", language="en")
    staff = Client()
    staff.force_login(user)
    cookie = staff.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    page.goto("/events/tracker/demo/")
    wait_for(lambda: Event.objects.filter(name="Viewed Page").exists())
    return page.evaluate("kervan.anonymousId()")


def test_identify_claims_a_known_customer_only_with_the_servers_signature(page, live_server):
    zeynep = customer_create(actor=Actor.system(), first_name="Zeynep", email="zeynep@example.com")
    visitor = open_demo_store(page, live_server)

    def sends_identify(response) -> bool:
        return response.url.endswith("/events/collect") and '"identify"' in (response.request.post_data or "")

    with page.expect_response(sends_identify) as unsigned:
        page.evaluate("kervan.identify({email: 'zeynep@example.com', first_name: 'Hacker'})")
    assert unsigned.value.status == 202
    assert not Identity.objects.filter(kind=Identity.Kind.ANONYMOUS, value=visitor).exists()
    zeynep.refresh_from_db()
    assert zeynep.first_name == "Zeynep"

    signature = identity_signature(tracker_site_default(actor=Actor.system()).identity_secret, "zeynep@example.com")
    page.evaluate("s => kervan.identify({email: 'zeynep@example.com'}, {signature: s})", signature)
    owner = wait_for(lambda: Identity.objects.filter(kind=Identity.Kind.ANONYMOUS, value=visitor).first())
    assert owner.customer_id == zeynep.pk
    wait_for(lambda: Event.objects.filter(customer=zeynep, name="Viewed Page").exists())
