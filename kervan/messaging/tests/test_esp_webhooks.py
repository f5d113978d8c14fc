"""An ESP's reports (here Postmark's tracking webhook, through django-anymail) land like our own tracking: delivered,
opened, clicked, a hard bounce suppresses, a spam complaint suppresses for good and refuses consent; a request
without the webhook's secret changes nothing."""

import base64

import pytest

from kervan.accounts.actors import Actor
from kervan.customers.consent import consent_record
from kervan.customers.consent_state import consent_state
from kervan.customers.tests.factories import make_customer
from kervan.events.models import Event
from kervan.messaging.actions import template_save
from kervan.messaging.models import Message, Suppression

pytestmark = pytest.mark.django_db

URL = "/anymail/postmark/tracking/"
AUTH = "Basic " + base64.b64encode(b"esp:webhook-secret").decode()


@pytest.fixture
def sent(clock):
    customer = make_customer(email="ayse@example.com")
    consent_record(actor=Actor.system(), customer=customer, channel="email", status="granted")
    template = template_save(
        actor=Actor.system(), name="t", channel="email", purpose="marketing", content={"tr": {"text": "x"}}
    )
    return Message.objects.create(
        origin="campaign:3",
        customer=customer,
        channel="email",
        purpose="marketing",
        template=template,
        status="sent",
        sent_at=clock.now(),
        to_address="ayse@example.com",
        provider_id="883953f4-6105-42a2-a16a-77a8eac79483",
    )


def post(client, event: dict, auth: str | None = AUTH):
    headers = {"authorization": auth} if auth else {}
    return client.post(URL, event, content_type="application/json", headers=headers)


def test_delivery_open_and_click(client, sent):
    base = {"MessageID": sent.provider_id, "Recipient": "ayse@example.com"}
    assert post(client, {**base, "RecordType": "Delivery", "DeliveredAt": "2026-12-07T10:00:00Z"}).status_code == 200
    post(client, {**base, "RecordType": "Open", "ReceivedAt": "2026-12-07T10:05:00Z"})
    post(client, {**base, "RecordType": "Click", "OriginalLink": "https://shop.example.com/x"})
    sent.refresh_from_db()
    assert sent.delivered_at and sent.opened_at and sent.clicked_at
    names = set(Event.objects.filter(customer=sent.customer).values_list("name", flat=True))
    assert {"Opened Email", "Clicked Email"} <= names


def test_a_hard_bounce_suppresses_the_address(client, sent):
    post(
        client,
        {"RecordType": "Bounce", "Type": "HardBounce", "MessageID": sent.provider_id, "Email": "ayse@example.com"},
    )
    assert Suppression.objects.get(address="ayse@example.com").reason == "hard_bounce"
    sent.refresh_from_db()
    assert sent.bounced_at is not None


def test_a_spam_complaint_suppresses_for_good_and_refuses_consent(client, sent):
    post(
        client,
        {
            "RecordType": "SpamComplaint",
            "Type": "SpamComplaint",
            "MessageID": sent.provider_id,
            "Email": "ayse@example.com",
        },
    )
    assert Suppression.objects.get(address="ayse@example.com").reason == "complaint"
    assert consent_state(sent.customer, "email") == "refused"


def test_without_the_secret_nothing_changes(client, sent):
    bounce = {"RecordType": "Bounce", "Type": "HardBounce", "MessageID": sent.provider_id, "Email": "ayse@example.com"}
    assert post(client, bounce, auth=None).status_code in (400, 401, 403)
    wrong = "Basic " + base64.b64encode(b"esp:guess").decode()
    assert post(client, bounce, auth=wrong).status_code in (400, 401, 403)
    assert not Suppression.objects.exists()


def test_mail_we_did_not_send_is_ignored(client, sent):
    post(client, {"RecordType": "Bounce", "Type": "HardBounce", "MessageID": "someone-else", "Email": "x@example.com"})
    assert not Suppression.objects.exists()
