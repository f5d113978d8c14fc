"""A small shop for tests that walk every page (the phone width test, the translation test): a customer with orders,
a note, consent and an event; an import with problems; an API key; an audit trail. Every value is ASCII, so any
Turkish letter on an English page is the interface's, and every value is listed in `values` so a text check can
tell the shop's data from the interface's words."""

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from kervan.accounts import actions as account_actions
from kervan.accounts.actors import Actor
from kervan.customers.actions import note_add
from kervan.customers.tests.factories import IST, make_customer, make_order

# A long address with no place to break: the 360 page and the lists must wrap it, not widen the page.
LONG_EMAIL = "deniz.kaplan.with.a.really.long.mailbox.name@example-shop-with-a-long-domain.com"

# The main pages (by their paths, as the issue names them; `{customer}`, `{order}`, `{job}` are filled in).
MAIN_PAGES = [
    ("today", "/"),
    ("customers", "/customers/"),
    ("customer_360", "/customers/{customer}/"),
    ("orders", "/orders/"),
    ("order", "/orders/{order}/"),
    ("products", "/catalog/products/"),
    ("events", "/events/"),
    ("imports", "/imports/"),
    ("import", "/imports/{job}/"),
    ("settings", "/accounts/settings/"),
    ("api_keys", "/accounts/settings/api-keys/"),
    ("audit_log", "/accounts/settings/audit-log/"),
    ("search", "/search/?q=a"),
]


@dataclass
class Shop:
    customer: object
    order: object
    job: object
    draft: object
    user: object
    product: object
    api_key: object
    values: set[str] = field(default_factory=set)

    def path(self, template: str) -> str:
        return template.format(customer=self.customer.pk, order=self.order.pk, job=self.job.pk)


def build_shop(admin_user) -> Shop:
    """The shop, made through the actions as a user would; runs the import to the end (the test task backend runs
    tasks at once)."""
    admin = Actor.for_user(admin_user)
    customer = make_customer(
        first_name="Deniz", last_name="Kaplan", email=LONG_EMAIL, phone="05321234567", city="Izmir"
    )
    other = make_customer(first_name="Mert", last_name="Arslan", email="mert@example.com", city="Bursa")
    order = make_order(
        customer, total_lines=((2, "450.00"), (1, "120.00")), placed_at=dt.datetime(2026, 2, 14, 15, 30, tzinfo=IST)
    )
    make_order(customer, total_lines=((1, "89.90"),), placed_at=dt.datetime(2026, 3, 2, 10, 0, tzinfo=IST))
    make_order(other, total_lines=((3, "35.00"),), placed_at=dt.datetime(2026, 3, 3, 9, 0, tzinfo=IST))
    note_add(actor=admin, customer=customer, body="Asked for gift wrapping")
    from kervan.catalog.actions import product_create

    product = product_create(
        actor=admin, title="Blue Teapot", variants=[{"sku": "TEA-BLUE-1", "price": "349.90", "stock": 3}]
    )

    key, secret = account_actions.api_key_create(
        actor=admin, name="ERP export", scopes={"customers": "read", "orders": "write", "events": "write"}
    )
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    event = {
        "event_id": str(uuid.uuid4()),
        "name": "Viewed Product",
        "customer_id": customer.pk,
        "occurred_at": dt.datetime(2026, 3, 2, 9, 55, tzinfo=IST).isoformat(),
        "properties": {"product_id": "p-1", "price": 349.9},
    }
    response = api.post("/api/v1/events/track", json.dumps(event), content_type="application/json")
    assert response.status_code == 202, response.content

    from kervan.imports.actions import import_job_create, import_job_run

    rows = "Email,First name,Birth date\r\nali@,Ali,\r\nkaan@example.com,Kaan,31.02.2020\r\nsu@example.com,Su,\r\n"
    upload = SimpleUploadedFile("people.csv", rows.encode(), content_type="text/csv")
    with transaction.atomic():
        job = import_job_create(actor=admin, kind="customers", upload=upload)
    import_job_run(job_id=job.pk)  # already run where commits happen (a live-server test); here otherwise
    job.refresh_from_db()
    assert job.status == "done" and job.error_count == 2, (job.status, job.failure)

    from kervan.imports.actions import import_job_upload

    rows = "Order number,Email,Total\r\nA-1,ali@example.com,100\r\n"
    upload = SimpleUploadedFile("orders.csv", rows.encode(), content_type="text/csv")
    draft = import_job_upload(actor=admin, kind="orders", upload=upload)  # waits for its column mapping

    values = {
        "Deniz", "Kaplan", "Deniz Kaplan", LONG_EMAIL, "Izmir", "Mert", "Arslan", "Mert Arslan", "mert@example.com",
        "Bursa", "Asked for gift wrapping", "ERP export", "Viewed Product", "people.csv", "ali@", "Ali", "Kaan", "Su",
        "kaan@example.com", "su@example.com", "31.02.2020", "Email", "First name", "Birth date", "p-1",
        admin_user.username, admin_user.get_full_name(), str(key.prefix),
        "orders.csv", "Order number", "Total", "A-1", "ali@example.com", "100",
        "Ürün 0", "Ürün 1",  # the order factory's product titles
        # Event names are identifiers the shop's tracker sends and filters by (shown beside their readable label).
        "Placed Order", "Ordered Product", "Blue Teapot", "TEA-BLUE-1",
    }  # fmt: skip
    return Shop(
        customer=customer,
        order=order,
        job=job,
        draft=draft,
        user=admin_user,
        product=product,
        api_key=key,
        values={v for v in values if v},
    )


# Paths not rendered as pages: the API (the translation test checks its errors), machinery, POST-only paths, the
# demo storefront (a stand-in for the shop's own website, in the shop's language, not Kervan's interface), and the
# public help centre, whose address names its language (/help/ Turkish, /help/en/ English), not the user's choice
# (kervan/support/tests/test_help_centre.py checks each in its language).
SKIP_PREFIXES = (
    "api/", "i18n/", "accounts/logout/", "accounts/login/", "events/tracker.js", "events/collect",
    "events/tracker/demo/", "help/",
)  # fmt: skip


def _routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def page_paths(shop) -> list[str]:
    """GET paths of every page: the resolver's routes, arguments filled with the shop's ids (a route with an
    argument the shop has no value for is left out)."""
    values = {
        "customer_id": shop.customer.pk,
        "order_id": shop.order.pk,
        "job_id": shop.job.pk,
        "user_id": shop.user.pk,
        "product_id": shop.product.pk,
        # These answer POST only (a GET is refused with 405 and left out), but are walked all the same.
        "key_id": shop.api_key.pk,
        "list_key": "customers",
        "view_id": 1,
    }
    paths = []
    for route, _pattern in _routes(get_resolver().url_patterns):
        if route.startswith("^") or route.startswith(SKIP_PREFIXES):
            continue
        names = re.findall(r"<(?:\w+:)?(\w+)>", route)
        if any(name not in values for name in names):
            continue
        filled = {**values, "job_id": shop.draft.pk if route.endswith("mapping/") else shop.job.pk}
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m, filled=filled: str(filled[m.group(1)]), route)
        paths.append("/" + path)
    return sorted(set(paths))
