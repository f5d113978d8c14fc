"""A small shop for tests that walk every page (the phone width test, the translation test): a customer with orders,
a note, consent and an event; an import with problems; an API key; an audit trail. Every value is ASCII, so any
Turkish letter on an English page is the interface's, and every value is listed in `values` so a text check can
tell the shop's data from the interface's words."""

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client

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

    values = {
        "Deniz", "Kaplan", "Deniz Kaplan", LONG_EMAIL, "Izmir", "Mert", "Arslan", "Mert Arslan", "mert@example.com",
        "Bursa", "Asked for gift wrapping", "ERP export", "Viewed Product", "people.csv", "ali@", "Ali", "Kaan", "Su",
        "kaan@example.com", "su@example.com", "31.02.2020", "Email", "First name", "Birth date", "p-1",
        admin_user.username, admin_user.get_full_name(), str(key.prefix),
    }  # fmt: skip
    return Shop(customer=customer, order=order, job=job, values={v for v in values if v})
