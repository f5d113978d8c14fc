"""A real browser keeps the event list open while an event arrives: the live poll puts it at the top, no reload."""

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client

from kervan.accounts.models import User
from kervan.core import clock
from kervan.customers.tests.factories import make_customer
from kervan.events.actions import event_record
from kervan.events.models import Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, role: str = "marketing") -> User:
    user = User.objects.create_user(f"{role}-browser", password="kervan-browser-pw", role=role, language="en")
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
    return user


def test_an_event_that_arrives_while_the_list_is_open_appears_at_the_top(page, live_server):
    log_in(page, live_server)
    customer = make_customer(first_name="Deniz", last_name="Aydın")
    now = clock.now()
    event_record(
        name="Viewed Page",
        occurred_at=now - dt.timedelta(minutes=5),
        dedupe_key="browser:first",
        anonymous_id="visitor-1",
        properties={"path": "/"},
    )
    page.goto("/events/")
    rows = page.locator("#events-rows tr")
    assert rows.count() == 1 and "anonymous visitor" in rows.first.inner_text()

    event_record(
        name="Added to Cart",
        occurred_at=now,
        dedupe_key="browser:second",
        customer_id=customer.pk,
        properties={"value": "120.00", "currency": "TRY"},
    )
    arrived = Event.objects.get(dedupe_key="browser:second")
    page.wait_for_selector(f'#events-rows tr[data-event="{arrived.pk}"]', timeout=15_000)  # polled every 5 s
    assert rows.count() == 2
    top = rows.first.inner_text()
    assert "Added to Cart" in top and "Deniz Aydın" in top and "₺120.00" in top
    assert page.evaluate("document.querySelectorAll('#events-live').length") == 1  # one poller, carrying the newest
