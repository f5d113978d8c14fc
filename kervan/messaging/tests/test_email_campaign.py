"""A marketing email campaign from segment to inbox, through a real SMTP server on loopback: who gets it (consent,
suppression, caps at send time), what they get (personalised, in their language, tracked, with one-click
unsubscribe), and what is recorded."""

import datetime as dt
import re
from decimal import Decimal

import pytest

from kervan.accounts.actors import Actor
from kervan.campaigns.actions import campaign_save, campaign_schedule, campaign_start
from kervan.campaigns.selectors import audience_preview, campaign_report
from kervan.core.errors import KervanError
from kervan.customers.consent import consent_record
from kervan.customers.tests.factories import make_customer, make_order
from kervan.events.models import Event
from kervan.messaging.actions import sender_save, suppression_add, template_save
from kervan.messaging.models import Message, Suppression
from kervan.messaging.sending import deliver_due
from kervan.segments.actions import segment_create, static_list_add

pytestmark = pytest.mark.django_db(transaction=True)

CONTENT = {
    "tr": {
        "subject": "Merhaba {{ customer.first_name | default('dostum') }}, size özel",
        "html": (
            "<html><head><style>p { color: #c00; }</style></head><body>"
            "<p>Merhaba {{ customer.first_name }}! Kodunuz: {{ coupon('HOSGELDIN') }}</p>"
            '<p><a href="https://shop.example.com/kampanya?x=1">Alışverişe başla</a></p>'
            '<p><a href="{{ unsubscribe_url }}">Abonelikten çık</a></p></body></html>'
        ),
    },
    "en": {
        "subject": "Hello {{ customer.first_name }}, just for you",
        "html": (
            "<html><body><p>Hi {{ customer.first_name }}!</p>"
            '<p><a href="https://shop.example.com/campaign">Shop now</a></p>'
            '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
        ),
    },
}


@pytest.fixture(autouse=True)
def _worker_runs_when_the_test_says(settings):
    """Queued messages wait for deliver_due() here, instead of going at once (the test settings run tasks
    immediately), so a test can change things between queueing and sending."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


def granted(customer, channel="email"):
    consent_record(actor=Actor.system(), customer=customer, channel=channel, status="granted", source="test")
    customer.refresh_from_db()
    return customer


@pytest.fixture
def shop(db):
    system = Actor.system()
    template = template_save(actor=system, name="Hoş geldin", channel="email", purpose="marketing", content=CONTENT)
    sender = sender_save(actor=system, channel="email", address="merhaba@shop.example.com", name="Dükkan")
    people = {
        "ayse": granted(make_customer(first_name="Ayşe", email="ayse@example.com")),
        "john": granted(make_customer(first_name="John", email="john@example.com", language="en")),
        "no_consent": make_customer(first_name="Veli", email="veli@example.com"),
        "suppressed": granted(make_customer(first_name="Can", email="can@example.com")),
        "no_email": make_customer(first_name="Ece", email="", phone="+905321112233"),
    }
    suppression_add(actor=system, channel="email", address="can@example.com", reason="hard_bounce")
    segment = segment_create(actor=system, name="Herkes", kind="static")
    static_list_add(actor=system, segment=segment, customer_ids=[c.pk for c in people.values()])
    campaign = campaign_save(actor=system, name="Hoş geldin", template=template, segments=[segment], sender=sender)
    return {"template": template, "sender": sender, "people": people, "segment": segment, "campaign": campaign}


def test_the_preview_counts_who_is_reached_and_why_the_others_are_not(shop):
    preview = audience_preview(shop["campaign"])
    assert preview == {
        "audience": 5,
        "reachable": 2,
        "excluded": {"no_consent": 1, "suppressed": 1, "no_address": 1},
    }


def test_a_campaign_reaches_the_consenting_in_their_language_with_one_click_unsubscribe(shop, smtp):
    campaign = campaign_schedule(actor=Actor.system(), campaign=shop["campaign"])
    assert campaign_start(campaign_id=campaign.pk) == 5
    outcome = deliver_due(worker="w1")
    assert outcome == {"sent": 2, "skipped": 3}

    assert sorted(r for m in smtp.received for r in m.recipients) == ["ayse@example.com", "john@example.com"]
    turkish = smtp.to("ayse@example.com")[0].message
    assert turkish["Subject"] == "Merhaba Ayşe, size özel"
    assert turkish["From"] == "Dükkan <merhaba@shop.example.com>"
    assert turkish["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # (a long header is folded onto its own line: the value starts after the fold)
    unsubscribe = re.fullmatch(r"<(https://crm\.example\.com/m/u/[^>]+/)>", turkish["List-Unsubscribe"].strip())
    assert unsubscribe
    html = turkish.get_body(("html",)).get_content()
    text = turkish.get_body(("plain",)).get_content()
    assert 'style="color: #c00' in html  # CSS inlined for clients that drop <style>
    assert "shop.example.com/kampanya" not in html  # the link goes through the click redirect
    assert re.search(r'href="https://crm\.example\.com/m/c/[^"]+/"', html)
    assert re.search(r'<img src="https://crm\.example\.com/m/o/[^"]+\.gif"', html)
    assert unsubscribe.group(1) in html  # the visible unsubscribe link is the same, not tracked as a click
    assert "Merhaba Ayşe! Kodunuz: HOSGELDIN-" in text
    english = smtp.to("john@example.com")[0].message
    assert english["Subject"] == "Hello John, just for you"

    people = shop["people"]
    reasons = dict(Message.objects.filter(status="skipped").values_list("customer_id", "skip_reason"))
    assert reasons == {
        people["no_consent"].pk: "no_consent",
        people["suppressed"].pk: "suppressed",
        people["no_email"].pk: "no_address",
    }
    received = Event.objects.filter(name="Received Email").values_list("customer_id", flat=True)
    assert sorted(received) == sorted([people["ayse"].pk, people["john"].pk])
    report = campaign_report(campaign)
    assert (report["sent"], report["skipped"]) == (2, {"no_consent": 1, "suppressed": 1, "no_address": 1})


def test_consent_withdrawn_after_queueing_is_honoured_at_send_time(shop, smtp):
    campaign = campaign_schedule(actor=Actor.system(), campaign=shop["campaign"])
    campaign_start(campaign_id=campaign.pk)
    consent_record(actor=Actor.system(), customer=shop["people"]["ayse"], channel="email", status="refused")
    deliver_due(worker="w1")
    assert [r.recipients for r in smtp.received] == [["john@example.com"]]
    ayse = Message.objects.get(customer=shop["people"]["ayse"])
    assert (ayse.status, ayse.skip_reason) == ("skipped", "no_consent")


def test_queueing_twice_sends_once_and_the_frequency_cap_holds_back_a_second_campaign(shop, smtp):
    campaign = campaign_schedule(actor=Actor.system(), campaign=shop["campaign"])
    campaign_start(campaign_id=campaign.pk)
    campaign.status = "scheduled"  # a second start (a retried task) queues nobody twice
    campaign.save()
    assert campaign_start(campaign_id=campaign.pk) == 0
    deliver_due(worker="w1")
    assert len(smtp.received) == 2

    second = campaign_save(actor=Actor.system(), name="İkinci", template=shop["template"], segments=[shop["segment"]])
    assert audience_preview(second)["excluded"]["capped"] == 2
    campaign_schedule(actor=Actor.system(), campaign=second)
    campaign_start(campaign_id=second.pk)
    deliver_due(worker="w1")
    assert len(smtp.received) == 2
    assert Message.objects.filter(origin=second.origin, skip_reason="capped").count() == 2


def test_a_refused_recipient_is_suppressed_and_a_busy_server_is_tried_later(shop, smtp, clock):
    smtp.refuse["ayse@example.com"] = "550 5.1.1 No such user"
    smtp.refuse["john@example.com"] = "451 4.3.0 Try again later"
    campaign = campaign_schedule(actor=Actor.system(), campaign=shop["campaign"])
    campaign_start(campaign_id=campaign.pk)
    assert deliver_due(worker="w1") == {"failed": 1, "retry": 1, "skipped": 3}

    ayse = Message.objects.get(customer=shop["people"]["ayse"])
    assert ayse.status == "failed" and "550" in ayse.error and ayse.bounced_at is not None
    assert Suppression.objects.get(address="ayse@example.com").reason == "hard_bounce"
    john = Message.objects.get(customer=shop["people"]["john"])
    assert john.status == "queued" and john.due_at > clock.now() and "451" in john.error

    del smtp.refuse["john@example.com"]
    clock.advance(dt.timedelta(minutes=2))
    assert deliver_due(worker="w1") == {"sent": 1}
    assert [r.recipients for r in smtp.received] == [["john@example.com"]]


def test_a_message_whose_worker_died_mid_send_is_not_sent_again(shop, smtp, clock):
    campaign = campaign_schedule(actor=Actor.system(), campaign=shop["campaign"])
    campaign_start(campaign_id=campaign.pk)
    ayse = Message.objects.get(customer=shop["people"]["ayse"])
    # What a killed worker leaves: the row leased, marked as in the transport's hands.
    Message.objects.filter(pk=ayse.pk).update(
        leased_by="dead", leased_until=clock.now() + dt.timedelta(minutes=2), error="sending"
    )
    deliver_due(worker="w2")
    assert [r.recipients for r in smtp.received] == [["john@example.com"]]  # the lease still holds
    clock.advance(dt.timedelta(minutes=3))
    deliver_due(worker="w2")
    ayse.refresh_from_db()
    assert ayse.status == "failed" and "not sent again" in ayse.error
    assert [r.recipients for r in smtp.received] == [["john@example.com"]]


def test_scheduling_refuses_the_past_and_an_empty_audience(shop, clock):
    with pytest.raises(KervanError) as past:
        campaign_schedule(actor=Actor.system(), campaign=shop["campaign"], send_at=clock.now() - dt.timedelta(hours=1))
    assert past.value.code == "in_the_past"
    nobody = segment_create(actor=Actor.system(), name="Boş", kind="static")
    empty = campaign_save(actor=Actor.system(), name="Boş", template=shop["template"], segments=[nobody])
    with pytest.raises(KervanError) as none:
        campaign_schedule(actor=Actor.system(), campaign=empty)
    assert none.value.code == "empty_audience"
    assert not Message.objects.exists()


def test_revenue_is_attributed_to_orders_within_the_window_after_a_click(shop, smtp, clock):
    from kervan.messaging.actions import message_clicked

    campaign = campaign_schedule(actor=Actor.system(), campaign=shop["campaign"])
    campaign_start(campaign_id=campaign.pk)
    deliver_due(worker="w1")
    ayse = Message.objects.get(customer=shop["people"]["ayse"])
    message_clicked(message=ayse, url="https://shop.example.com/kampanya")
    make_order(shop["people"]["ayse"], total_lines=((1, "250.00"),), placed_at=clock.now() + dt.timedelta(days=1))
    make_order(shop["people"]["ayse"], total_lines=((1, "99.00"),), placed_at=clock.now() + dt.timedelta(days=9))
    make_order(shop["people"]["john"], total_lines=((1, "80.00"),), placed_at=clock.now() + dt.timedelta(days=1))
    report = campaign_report(campaign)
    assert (report["orders"], report["revenue"]) == (1, Decimal("250.00"))
    assert (report["clicked"], report["opened"]) == (1, 1)
