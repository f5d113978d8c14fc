"""POST /api/v1/events/identify: find or create the customer; anonymous history joins the profile."""

from kervan.customers.models import Customer, CustomerStats, Identity
from kervan.events.models import Event


def test_identify_creates_a_customer_and_joins_anonymous_events(api, event, when):
    api.post("/events/track", event(anonymous_id="visitor-7", occurred_at=when(minutes_ago=20)))
    api.post("/events/track", event(anonymous_id="visitor-7", name="Added to Cart", occurred_at=when(minutes_ago=10)))
    response = api.post(
        "/events/identify",
        {"anonymous_id": "visitor-7", "email": "Deniz@Example.com", "traits": {"first_name": "Deniz", "city": "İzmir"}},
    )
    assert response.status_code == 200, response.json()
    customer = Customer.objects.get(pk=response.json()["customer_id"])
    assert response.json()["created"] is True
    assert (customer.email, customer.first_name, customer.city) == ("deniz@example.com", "Deniz", "İzmir")
    assert Event.objects.filter(customer=customer).count() == 2
    # Attaching the history counts as activity.
    latest = Event.objects.order_by("-occurred_at").first().occurred_at
    assert CustomerStats.objects.get(customer=customer).last_event_at == latest
    # Later events from the same visitor land on the profile directly.
    api.post("/events/track", event(anonymous_id="visitor-7", name="Started Checkout"))
    assert Event.objects.get(name="Started Checkout").customer_id == customer.pk


def test_identify_existing_customer_updates_traits(api, zeynep):
    response = api.post("/events/identify", {"email": "zeynep@example.com", "traits": {"city": "Bursa"}})
    assert response.json() == {"customer_id": zeynep.pk, "created": False}
    zeynep.refresh_from_db()
    assert zeynep.city == "Bursa"


def test_identify_by_store_user_id(api, shop):
    response = api.post("/events/identify", {"user_id": "u-1", "source": "shopify-main", "email": "u1@example.com"})
    assert response.status_code == 200
    assert Identity.objects.filter(kind="source_id", value="u-1", source=shop).exists()


def test_identify_refuses_bad_input_and_writes_nothing(api):
    for body, code in [
        ({"anonymous_id": "v"}, "missing_identity"),
        ({"email": "bad"}, "invalid_email"),
        ({"phone": "0"}, "invalid_phone"),
        ({"email": "a@example.com", "traits": {"gender": "robot"}}, "invalid_choice"),
        ({"email": "a@example.com", "traits": {"shoe_size": 42}}, "validation_error"),
        ({"email": "a@example.com", "traits": {"birth_date": "2999-01-01"}}, "invalid_date"),
        ({"user_id": "u-1"}, "missing_source"),
        ({"user_id": "u-1", "source": "nope"}, "unknown_source"),
    ]:
        response = api.post("/events/identify", body)
        assert response.status_code == 422, (body, response.json())
        assert response.json()["code"] == code, body
    assert Customer.objects.count() == 0


def test_read_only_key_cannot_identify(make_api_key):
    from kervan.conftest import ApiClient

    _, secret = make_api_key(scopes={"events": "read"})
    response = ApiClient(secret).post("/events/identify", {"email": "a@example.com"})
    assert response.status_code == 403
    assert Customer.objects.count() == 0
