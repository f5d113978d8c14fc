"""What a recipient's clicks do: the open pixel, the click redirect (only to the message's own link, with UTM tags),
one-click unsubscribe (RFC 8058) and the preference centre, each behind a signed token a forger cannot make."""

import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing

from kervan.accounts.actors import Actor
from kervan.customers.consent import consent_record
from kervan.customers.consent_state import consent_state
from kervan.customers.models import ConsentRecord
from kervan.customers.tests.factories import make_customer
from kervan.events.models import Event
from kervan.messaging import tracking
from kervan.messaging.actions import template_save
from kervan.messaging.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def message(clock):
    customer = make_customer(first_name="Ayşe", email="ayse@example.com", language="tr")
    consent_record(actor=Actor.system(), customer=customer, channel="email", status="granted")
    template = template_save(
        actor=Actor.system(), name="t", channel="email", purpose="marketing", content={"tr": {"text": "x"}}
    )
    return Message.objects.create(
        origin="campaign:7",
        customer=customer,
        channel="email",
        purpose="marketing",
        template=template,
        status="sent",
        sent_at=clock.now() - dt.timedelta(minutes=5),
    )


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_a_click_goes_only_to_the_link_in_the_message_with_utm_tags(client, message):
    html = tracking.tracked_html('<a href="https://shop.example.com/p?id=3">x</a>', message, own_links=set(), clicks={})
    tracked = html.split('href="')[1].split('"')[0]
    response = client.get(path_of(tracked), headers={"user-agent": "Mozilla/5.0 (iPhone)"})
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert (target.netloc, target.path) == ("shop.example.com", "/p")
    assert parse_qs(target.query) == {
        "id": ["3"],
        "utm_source": ["kervan"],
        "utm_medium": ["email"],
        "utm_campaign": ["campaign-7"],
    }
    message.refresh_from_db()
    assert (message.clicks, message.clicked_at is not None, message.opened_at is not None) == (1, True, True)
    assert Event.objects.filter(name="Clicked Email", customer=message.customer).count() == 1
    client.get(path_of(tracked), headers={"user-agent": "Mozilla/5.0 (iPhone)"})
    message.refresh_from_db()
    assert message.clicks == 2
    assert Event.objects.filter(name="Clicked Email").count() == 1  # the event is the first click


def test_a_tampered_or_foreign_token_is_refused(client, message):
    good = tracking.token("click", message.pk, "https://shop.example.com/")
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    assert client.get(f"/m/c/{forged}/").status_code == 404
    # a valid token of another kind (the open pixel's) does not open a redirect
    assert client.get(f"/m/c/{tracking.token('open', message.pk)}/").status_code == 404
    # a URL the message never had cannot be slipped in: it is inside the signature
    payload, signature = good.split(":", 1)
    evil = signing.b64_encode(json.dumps(["click", message.pk, "https://evil.example.com/"]).encode()).decode()
    assert payload != evil and tracking.read_token(f"{evil}:{signature}", "click") is None


def test_opens_by_people_and_by_machines_are_counted_apart(client, message):
    pixel = f"/m/o/{tracking.token('open', message.pk)}.gif"
    assert client.get(pixel, headers={"user-agent": "Mozilla/5.0 (Windows NT 10.0)"})["Content-Type"] == "image/gif"
    client.get(pixel, headers={"user-agent": "Mozilla/5.0 (Windows NT 10.0)"})
    client.get(pixel, headers={"user-agent": "Barracuda Sentinel (EE)"})
    message.refresh_from_db()
    assert (message.opens, message.machine_opens) == (2, 1)
    assert Event.objects.filter(name="Opened Email").count() == 1


def test_one_click_unsubscribe_writes_the_refusal_to_the_ledger_at_once(client, message):
    url = f"/m/u/{tracking.token('unsubscribe', message.pk)}/"
    page = client.get(url)
    assert page.status_code == 200 and "Abonelikten" in page.content.decode()  # the recipient's Turkish
    assert consent_state(message.customer, "email") == "granted"  # looking is not unsubscribing
    response = client.post(url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert consent_state(message.customer, "email") == "refused"
    record = ConsentRecord.objects.filter(customer=message.customer).first()
    assert (record.status, record.source) == ("refused", "unsubscribe link")
    message.refresh_from_db()
    assert message.unsubscribed_at is not None
    assert Event.objects.filter(name="Unsubscribed", customer=message.customer).count() == 1


def test_the_preference_centre_turns_channels_on_and_off(client, message):
    url = f"/m/p/{tracking.token('preferences', message.pk)}/"
    assert 'name="email" checked' in client.get(url).content.decode()
    client.post(url, {"sms": "on"})
    customer = message.customer
    assert (consent_state(customer, "email"), consent_state(customer, "sms")) == ("refused", "granted")


def test_an_english_speaker_gets_the_pages_in_english(client, message):
    message.customer.language = "en"
    message.customer.save()
    page = client.get(f"/m/u/{tracking.token('unsubscribe', message.pk)}/").content.decode()
    assert "Stop marketing messages by Email?" in page


def test_a_topic_turned_off_in_the_preference_centre_is_not_sent_and_the_rest_is(client, message, clock):
    from kervan.customers.models import Customer
    from kervan.messaging.actions import topic_save
    from kervan.messaging.models import TopicOptOut
    from kervan.messaging.policy import with_blocked

    Message.objects.filter(pk=message.pk).update(sent_at=clock.now() - dt.timedelta(days=2))  # no cap in the way
    offers = topic_save(actor=Actor.system(), name_tr="Kampanyalar", name_en="Offers")
    news = topic_save(actor=Actor.system(), name_tr="Yeni ürünler", name_en="New products")
    url = f"/m/p/{tracking.token('preferences', message.pk)}/"
    page = client.get(url).content.decode()
    assert "Kampanyalar" in page and f'name="topic-{offers.pk}" checked' in page
    client.post(url, {"email": "on", f"topic-{news.pk}": "on"})  # offers left unticked
    assert list(TopicOptOut.objects.values_list("topic_id", flat=True)) == [offers.pk]
    assert consent_state(message.customer, "email") == "granted"  # the channel stays on

    def blocked(topic):
        qs = Customer.objects.filter(pk=message.customer_id)
        return with_blocked(qs, channel="email", purpose="marketing", now=clock.now(), topic_id=topic.pk)[0].blocked

    assert (blocked(offers), blocked(news)) == ("topic", "")
