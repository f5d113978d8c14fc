"""Events carry an email in whatever form a shop's form or tracker sent it: every form of one mailbox is one customer
(issue 19, rule 5; kervan.core.emails)."""

import uuid

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kervan.accounts.actors import Actor
from kervan.core.emails import email_match_key
from kervan.core.tests.test_emails import variants
from kervan.customers.actions import customer_create
from kervan.customers.models import Customer
from kervan.events.models import Event

pytestmark = pytest.mark.django_db


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(forms=variants(), known=st.booleans(), identify_first=st.booleans())
def test_a_batch_puts_every_form_of_a_mailbox_on_one_customer(api, event, forms, known, identify_first):
    with transaction.atomic():  # each example starts from an empty database
        if known:
            customer_create(actor=Actor.system(), first_name="Known", email=forms[0])
        batch = [{"type": "track", **event(email=form, event_id=str(uuid.uuid4()))} for form in forms]
        if identify_first:
            batch.insert(0, {"type": "identify", "email": forms[-1], "traits": {"first_name": "Ayşe"}})
        response = api.post("/events/batch", {"batch": batch})
        assert response.status_code == 202, response.json()
        customer = Customer.objects.get()
        assert set(Event.objects.values_list("customer_id", flat=True)) == {customer.pk}
        assert list(customer.identities.filter(kind="email").values_list("value", flat=True)) == [
            email_match_key(forms[0])
        ]
        transaction.set_rollback(True)


def test_track_by_another_form_of_a_known_email_lands_on_its_customer(api, event):
    ayse = customer_create(actor=Actor.system(), first_name="Ayşe", email="ayse.kaya@gmail.com")
    for email in ("AyseKaya@googlemail.com", "ayse.kaya+indirim@gmail.com", "AYSE.KAYA@GMAİL.COM"):
        response = api.post("/events/track", event(email=email))
        assert response.status_code == 202, response.json()
    assert Customer.objects.count() == 1 and Event.objects.filter(customer=ayse).count() == 3
