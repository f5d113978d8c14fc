"""Reviews: a rating from 1 to 5 (checked by the database too), one per source and external id, on the Customer
360 timeline as "Submitted Review", following a customer through a merge."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.core.models import Source
from kervan.customers.actions import customer_merge
from kervan.customers.tests.factories import make_customer, make_order
from kervan.feedback.actions import review_create
from kervan.feedback.models import Review

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
WHEN = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def test_a_review_of_an_order_is_its_customers_and_shows_on_the_timeline(admin_client, api):
    customer = make_customer()
    order = make_order(customer)
    review, created = review_create(
        actor=SYSTEM, order=order, rating="4", title="Güzel kupa", text="Hızlı geldi", submitted_at=WHEN
    )
    assert created and review.customer_id == customer.pk and review.rating == 4
    page = admin_client.get(f"/customers/{customer.pk}/").content.decode()
    assert "Submitted Review" in page and "Güzel kupa" in page
    timeline = api.get(f"/customers/{customer.pk}/timeline").json()
    entries = [e for e in timeline["items"] if e["kind"] == "review"]
    assert entries and entries[0]["data"]["rating"] == 4


def test_the_same_source_and_external_id_is_one_review():
    order = make_order(make_customer())
    shop = Source.objects.create(key="olist", name="Olist", kind=Source.Kind.IMPORT)
    first, created = review_create(
        actor=SYSTEM, order=order, rating=5, submitted_at=WHEN, source=shop, external_id="r1"
    )
    again, created_again = review_create(
        actor=SYSTEM, order=order, rating=1, submitted_at=WHEN, source=shop, external_id="r1"
    )
    assert created and not created_again and again.pk == first.pk and Review.objects.count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(customer=order.customer, rating=3, submitted_at=WHEN, source=shop, external_id="r1")


@pytest.mark.parametrize("rating", ["0", "6", "4.5", "çok iyi", ""])
def test_a_rating_outside_1_to_5_is_refused(rating):
    order = make_order(make_customer())
    with pytest.raises(KervanError) as raised:
        review_create(actor=SYSTEM, order=order, rating=rating, submitted_at=WHEN)
    assert raised.value.code == "invalid_rating"


def test_the_database_refuses_a_rating_outside_1_to_5():
    customer = make_customer()
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(customer=customer, rating=6, submitted_at=timezone.now())


def test_reviews_follow_a_merged_customer():
    survivor, merged = make_customer(), make_customer()
    review, _created = review_create(actor=SYSTEM, customer=merged, rating=2, submitted_at=WHEN)
    customer_merge(actor=SYSTEM, survivor=survivor, merged=merged)
    review.refresh_from_db()
    assert review.customer_id == survivor.pk
