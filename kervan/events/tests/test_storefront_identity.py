"""Who a browser may say it is (kervan.events.storefront): an anonymous visitor with the publishable site key cannot
attach itself, its phone, email or events to a customer Kervan already knows, unless the shop's server signed the
identity, or the identity is already the visitor's own. Each case checks what changed and what did not."""

import datetime as dt
import json
import uuid

import pytest
from django.core.cache import cache

from kervan.accounts.actors import Actor
from kervan.core.models import AuditLog
from kervan.customers.models import Customer, Identity
from kervan.events.actions import tracker_site_default, tracker_site_update
from kervan.events.models import Event
from kervan.events.storefront import identity_signature

SHOP = "https://shop.example.com"


@pytest.fixture
def site(db):
    site = tracker_site_default(actor=Actor.system())
    return tracker_site_update(actor=Actor.system(), site=site, allowed_origins=[SHOP])


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()
    yield
    cache.clear()


def page_view(visitor="visitor-1", **fields) -> dict:
    return {
        "type": "track",
        "event_id": str(uuid.uuid4()),
        "name": "Viewed Page",
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        "anonymous_id": visitor,
        "properties": {"path": "/"},
        **fields,
    }


def identify(visitor="visitor-1", **fields) -> dict:
    return {"type": "identify", "anonymous_id": visitor, **fields}


def collect(client, site, *items, address="203.0.113.9"):
    body = json.dumps({"key": site.public_key, "batch": list(items)})
    return client.post("/events/collect", body, content_type="text/plain", HTTP_ORIGIN=SHOP, REMOTE_ADDR=address)


def signed(site, value: str) -> str:
    return identity_signature(site.identity_secret, value)


def snapshot(customer: Customer) -> dict:
    """Everything an identify could change about a customer."""
    customer.refresh_from_db()
    return {
        "fields": (customer.email, customer.phone, customer.first_name, customer.last_name, customer.city),
        "identities": sorted(customer.identities.values_list("kind", "value")),
        "events": Event.objects.filter(customer=customer).count(),
        "audit": AuditLog.objects.filter(customer_id=customer.pk).count(),
    }


# --- unsigned -------------------------------------------------------------------------------------------------


def test_an_unsigned_identify_with_someone_elses_email_changes_nothing_of_theirs(client, site, zeynep):
    before = snapshot(zeynep)
    collect(client, site, page_view())  # the attacker's earlier browsing
    response = collect(
        client,
        site,
        identify(email="zeynep@example.com", traits={"first_name": "Hacker"}),
        page_view(name="Added to Cart"),
    )
    assert response.status_code == 202, response.json()
    assert snapshot(zeynep) == before  # no visitor id, no events, no rename, no audit row
    assert not Identity.objects.filter(kind=Identity.Kind.ANONYMOUS, value="visitor-1").exists()
    assert set(Event.objects.values_list("customer_id", flat=True)) == {None}  # the visits stay anonymous
    assert Customer.objects.count() == 1


def test_the_attackers_own_phone_makes_their_own_profile_not_zeyneps(client, site, zeynep):
    before = snapshot(zeynep)
    response = collect(
        client,
        site,
        identify(email="zeynep@example.com", phone="+905559998877", traits={"first_name": "Hacker"}),
        page_view(name="Added to Cart"),
    )
    assert response.status_code == 202, response.json()
    assert snapshot(zeynep) == before  # no phone, no visitor id, no events
    theirs = Identity.objects.get(value="+905559998877").customer
    assert theirs.pk != zeynep.pk and theirs.email == "" and theirs.first_name == "Hacker"
    assert sorted(theirs.identities.values_list("kind", flat=True)) == ["anonymous", "phone"]
    assert set(Event.objects.values_list("customer_id", flat=True)) == {theirs.pk}


def test_the_answer_does_not_tell_whether_the_email_is_a_customer(client, site, zeynep):
    known = collect(client, site, identify("visitor-1", email="zeynep@example.com"))
    unknown = collect(client, site, identify("visitor-2", email="nobody@example.com"))
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, known.json())


def test_someone_elses_phone_is_left_out_of_the_new_profile(client, site, zeynep):
    before = snapshot(zeynep)
    response = collect(
        client, site, identify(email="attacker@example.com", phone="05321234567"), page_view(name="Added to Cart")
    )
    assert response.status_code == 202
    assert snapshot(zeynep) == before
    new = Customer.objects.get(email="attacker@example.com")
    assert new.phone == "" and sorted(new.identities.values_list("kind", flat=True)) == ["anonymous", "email"]
    assert Event.objects.get().customer_id == new.pk


def test_an_unsigned_identify_makes_a_profile_for_a_new_visitor(client, site):
    collect(client, site, page_view())
    response = collect(
        client, site, identify(email="ece@example.com", phone="05551112233", traits={"first_name": "Ece"})
    )
    assert response.status_code == 202 and response.json()["identified"] == 1
    ece = Customer.objects.get(email="ece@example.com")
    assert (ece.first_name, ece.phone) == ("Ece", "+905551112233")
    assert Identity.objects.get(kind=Identity.Kind.ANONYMOUS, value="visitor-1").customer_id == ece.pk
    assert Event.objects.get().customer_id == ece.pk  # the earlier anonymous visit joins the new profile


def test_an_identity_already_the_visitors_own_names_its_profile_again(client, site):
    collect(client, site, identify(email="ece@example.com"))
    ece = Customer.objects.get(email="ece@example.com")
    before = snapshot(ece)
    response = collect(client, site, identify(email="ECE@example.com"), page_view())
    assert response.status_code == 202
    after = snapshot(ece)
    assert after["events"] == before["events"] + 1 and after["identities"] == before["identities"]
    assert Customer.objects.count() == 1


def test_a_visitor_with_a_profile_cannot_add_unproven_contact_data_to_it(client, site):
    collect(client, site, identify(email="ece@example.com"))
    ece = Customer.objects.get(email="ece@example.com")
    before = snapshot(ece)
    response = collect(client, site, identify(email="other@example.com", phone="05557776655"))
    assert response.status_code == 202
    assert snapshot(ece) == before  # it stays with the visitor's profile, which is not changed
    assert Customer.objects.count() == 1 and not Identity.objects.filter(value="+905557776655").exists()


def test_one_request_cannot_make_a_hundred_customers(client, site):
    items = [identify("visitor-1", email=f"fake{i}@example.com") for i in range(100)]
    assert collect(client, site, *items).status_code == 202
    assert Customer.objects.count() == 1  # the first made the visitor's profile; the rest are not proven
    spread = [identify(f"visitor-{i}", email=f"spread{i}@example.com") for i in range(100)]
    response = collect(client, site, *spread)
    assert response.status_code == 422 and response.json()["code"] == "too_many_visitors"
    assert Customer.objects.count() == 1


# --- signed ---------------------------------------------------------------------------------------------------


def test_a_signed_identify_joins_the_visitor_to_the_known_customer(client, site, zeynep):
    collect(client, site, page_view())
    response = collect(
        client,
        site,
        identify(email="zeynep@example.com", signature=signed(site, "zeynep@example.com"), traits={"city": "İzmir"}),
        page_view(name="Added to Cart"),
    )
    assert response.status_code == 202, response.json()
    zeynep.refresh_from_db()
    assert zeynep.city == "İzmir"  # the shop vouches for it: it is Zeynep's own browser
    assert Identity.objects.get(kind=Identity.Kind.ANONYMOUS, value="visitor-1").customer_id == zeynep.pk
    assert set(Event.objects.values_list("customer_id", flat=True)) == {zeynep.pk}


def test_the_signature_may_be_of_the_email_as_typed_or_as_normalised(client, site, zeynep):
    for visitor, typed, signed_value in (
        ("v-typed", "Zeynep@Example.com", "Zeynep@Example.com"),
        ("v-normal", "Zeynep@Example.com", "zeynep@example.com"),
    ):
        response = collect(client, site, identify(visitor, email=typed, signature=signed(site, signed_value)))
        assert response.status_code == 202, response.json()
        assert Identity.objects.get(kind=Identity.Kind.ANONYMOUS, value=visitor).customer_id == zeynep.pk


def test_a_signed_customer_id_is_resolved_by_that_id_only(client, site, zeynep):
    """user_id is the proven identity: an unsigned email riding along (someone else's) neither decides whose
    profile it is nor gets attached to it."""
    response = collect(
        client,
        site,
        identify(user_id="shop-42", email="zeynep@example.com", phone="05550001122", signature=signed(site, "shop-42")),
        page_view(),
    )
    assert response.status_code == 202, response.json()
    owner = Identity.objects.get(kind=Identity.Kind.SOURCE_ID, value="shop-42").customer
    assert owner.pk != zeynep.pk and owner.email == "" and owner.phone == "+905550001122"
    assert Event.objects.get().customer_id == owner.pk
    assert sorted(zeynep.identities.values_list("kind", flat=True)) == ["email", "phone"]
    # The same customer id again, from another browser: that browser joins the same profile.
    again = collect(client, site, identify("visitor-2", user_id="shop-42", signature=signed(site, "shop-42")))
    assert again.status_code == 202
    assert Identity.objects.get(kind=Identity.Kind.ANONYMOUS, value="visitor-2").customer_id == owner.pk


@pytest.mark.parametrize(
    ("item", "code", "field"),
    [
        ({"email": "zeynep@example.com", "signature": "0" * 64}, "invalid_signature", "signature"),
        ({"email": "zeynep@example.com", "signature": "not-hex"}, "invalid_signature", "signature"),
        ({"user_id": "shop-42"}, "signature_required", "user_id"),
    ],
)
def test_a_wrong_or_missing_signature_refuses_the_batch(client, site, zeynep, item, code, field):
    before = snapshot(zeynep)
    response = collect(client, site, identify(**item), page_view())
    assert response.status_code == 403 and response.json()["code"] == code
    assert response.json()["field"] == f"batch.0.{field}"
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert (
        snapshot(zeynep) == before
        and Event.objects.count() == 0
        and not Identity.objects.filter(kind=Identity.Kind.ANONYMOUS).exists()
    )


def test_a_signature_made_with_another_sites_secret_does_not_verify(client, site, zeynep):
    forged = identity_signature("sk_guessed", "zeynep@example.com")
    response = collect(client, site, identify(email="zeynep@example.com", signature=forged))
    assert response.status_code == 403 and response.json()["code"] == "invalid_signature"


def test_a_signed_identify_never_takes_a_visitor_id_from_its_profile(client, site, zeynep):
    """The browser's visitor id already belongs to another profile: the signed customer gets the rest, the visitor
    id stays where it is (identify never moves one; staff can merge the two)."""
    collect(client, site, identify(email="ece@example.com"))
    ece = Customer.objects.get(email="ece@example.com")
    response = collect(client, site, identify(email="zeynep@example.com", signature=signed(site, "zeynep@example.com")))
    assert response.status_code == 202
    assert Identity.objects.get(kind=Identity.Kind.ANONYMOUS, value="visitor-1").customer_id == ece.pk


def test_the_server_api_is_still_believed(api, zeynep):
    """The API key is the shop's server's own: its identify attaches to a known customer as before."""
    response = api.post(
        "/events/identify", {"anonymous_id": "visitor-9", "email": "zeynep@example.com", "phone": "05559990000"}
    )
    assert response.status_code == 200 and response.json() == {"customer_id": zeynep.pk, "created": False}
    assert Identity.objects.get(kind=Identity.Kind.ANONYMOUS, value="visitor-9").customer_id == zeynep.pk
