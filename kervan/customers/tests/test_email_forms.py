"""One person, one customer, whatever form of their email a form or an API call carries (issue 19, rule 5): stored as
typed (normalize_email), matched by mailbox (email_match_key). The event batch and the import: their apps' tests."""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings

from kervan.core.emails import email_match_key, normalize_email
from kervan.core.errors import Conflict
from kervan.core.tests.test_emails import variants
from kervan.customers.actions import customer_create, identity_add
from kervan.customers.identity import customer_identify, customer_resolve, identities_lookup
from kervan.customers.models import Customer, Identity

pytestmark = pytest.mark.django_db

EXAMPLES = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_the_address_is_shown_as_typed_and_held_as_its_mailbox(admin_actor):
    customer = customer_create(actor=admin_actor, first_name="Ali", email=" Ali.Veli+Shop@GoogleMail.com ")
    assert customer.email == "ali.veli+shop@googlemail.com"
    assert list(customer.identities.values_list("kind", "value")) == [("email", "aliveli@gmail.com")]
    for form in ("aliveli@gmail.com", "A.L.I.V.E.L.I@gmail.com", "ali.veli+other@googlemail.com"):
        assert customer_resolve(email=form).pk == customer.pk
        assert identities_lookup(Identity.Kind.EMAIL, [form]) == {form: customer.pk}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("ali.veli@gmail.com", "AliVeli+kampanya@googlemail.com"),
        ("ismail@example.com", "İSMAİL@EXAMPLE.COM"),  # Turkish Caps Lock
        ("ismail@example.com", "i\u0307smai\u0307l@example.com"),  # str.lower() of it, stored so before
        ("şule@example.com", "s\u0327ule@example.com"),  # NFC and NFD
        ("ayşe@şirket.com.tr", "AYŞE@ŞİRKET.COM.TR"),
    ],
)
def test_another_form_of_a_known_mailbox_is_the_same_customer(admin_actor, api, first, second):
    customer = customer_create(actor=admin_actor, email=first)
    with pytest.raises(Conflict) as exc:
        customer_create(actor=admin_actor, email=second)
    assert exc.value.code == "duplicate_email"
    response = api.post("/customers/", {"first_name": "B", "email": second})
    assert response.status_code == 409 and response.json()["code"] == "duplicate_email"
    other = customer_create(actor=admin_actor, first_name="Other", phone="05321112233")
    with pytest.raises(Conflict):
        identity_add(actor=admin_actor, customer=other, kind="email", value=second)
    assert customer_identify(actor=admin_actor, email=second) == (customer, False)
    assert Customer.objects.count() == 2 and Identity.objects.filter(kind="email").count() == 1


@pytest.mark.parametrize("email", ["a@exa_mple.com", "a@xn--zz.com", "a@-shop.com", "ali@şirket..com"])
def test_an_invalid_domain_is_refused_and_nothing_written(api, email):
    response = api.post("/customers/", {"first_name": "A", "email": email})
    assert response.status_code == 400 and response.json()["code"] == "invalid_email"
    response = api.post("/events/identify", {"email": email})
    assert response.status_code == 422 and response.json()["code"] == "invalid_email"
    assert not Customer.objects.exists()


@EXAMPLES
@given(forms=variants())
def test_identify_resolves_every_form_of_a_mailbox_to_one_customer(system_actor, forms):
    with transaction.atomic():  # each example starts from an empty database
        first, created = customer_identify(actor=system_actor, email=forms[0], anonymous_id="visitor-1")
        assert created and first.email == normalize_email(forms[0])
        for n, form in enumerate(forms[1:], start=2):
            again, created = customer_identify(actor=system_actor, email=form, anonymous_id=f"visitor-{n}")
            assert (again.pk, created) == (first.pk, False), (forms, form)
        assert Customer.objects.count() == 1
        assert list(Identity.objects.filter(kind="email").values_list("value", flat=True)) == [
            email_match_key(forms[0])
        ]
        transaction.set_rollback(True)
