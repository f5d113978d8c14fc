"""A campaign over time: throttled, paused, resumed, cancelled; an A/B test that sends the winner to the rest; a send
at the same local time in each recipient's zone; SMS held through the recipient's quiet hours, never dropped."""

import datetime as dt
import json
import threading
import zoneinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kervan.accounts.actors import Actor
from kervan.campaigns.actions import (
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_save,
    campaign_schedule,
    campaign_start,
    campaigns_advance,
)
from kervan.customers.consent import consent_record
from kervan.customers.tests.factories import make_customer
from kervan.messaging.actions import message_clicked, template_save
from kervan.messaging.models import Message
from kervan.messaging.sending import deliver_due
from kervan.segments.actions import segment_create, static_list_add

pytestmark = pytest.mark.django_db(transaction=True)
ISTANBUL = zoneinfo.ZoneInfo("Europe/Istanbul")


@pytest.fixture(autouse=True)
def _worker_runs_when_the_test_says(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


def audience(n: int, channel: str = "email", **profile) -> object:
    customers = []
    for i in range(n):
        extra = {"phone": f"+90532111{i:04d}"} if channel == "sms" else {}
        customer = make_customer(first_name=f"Kişi{i}", **extra, **profile)
        consent_record(actor=Actor.system(), customer=customer, channel=channel, status="granted")
        customers.append(customer)
    segment = segment_create(actor=Actor.system(), name=f"Liste {channel} {n}", kind="static")
    static_list_add(actor=Actor.system(), segment=segment, customer_ids=[c.pk for c in customers])
    return segment


def template(name: str = "A", channel: str = "email", text: str = "Merhaba {{ customer.first_name }}"):
    return template_save(
        actor=Actor.system(),
        name=name,
        channel=channel,
        purpose="marketing",
        content={"tr": {"subject": name, "text": text}},
    )


def test_throttle_pause_resume_and_cancel(smtp, clock):
    campaign = campaign_save(
        actor=Actor.system(), name="Yavaş", template=template(), segments=[audience(4)], throttle_per_hour=3600
    )
    campaign_schedule(actor=Actor.system(), campaign=campaign)
    campaign_start(campaign_id=campaign.pk)
    assert deliver_due(worker="w") == {"sent": 1}  # one a second: the others are not due yet
    clock.advance(dt.timedelta(seconds=1))
    assert deliver_due(worker="w") == {"sent": 1}

    campaign.refresh_from_db()
    assert campaign_pause(actor=Actor.system(), campaign=campaign) == 2
    clock.advance(dt.timedelta(hours=1))
    assert deliver_due(worker="w") == {}  # paused: nothing goes, however long it waits

    campaign.refresh_from_db()
    assert campaign_resume(actor=Actor.system(), campaign=campaign) == 2
    assert deliver_due(worker="w") == {"sent": 1}  # the throttle holds after a resume too
    campaign.refresh_from_db()
    assert campaign_cancel(actor=Actor.system(), campaign=campaign) == 1
    clock.advance(dt.timedelta(hours=1))
    assert deliver_due(worker="w") == {}
    assert len(smtp.received) == 3
    assert Message.objects.filter(status="cancelled").count() == 1
    campaigns_advance()
    campaign.refresh_from_db()
    assert campaign.status == "cancelled"


def test_an_ab_test_sends_the_winner_to_the_rest(smtp, clock):
    a, b = template("Sürüm A"), template("Sürüm B")
    campaign = campaign_save(
        actor=Actor.system(),
        name="A/B",
        template=a,
        variant_template=b,
        test_percent=40,
        winner_by="clicks",
        winner_after_hours=2,
        segments=[audience(10)],
    )
    campaign_schedule(actor=Actor.system(), campaign=campaign)
    assert campaign_start(campaign_id=campaign.pk) == 4  # the sample: 40 % of 10, half each
    deliver_due(worker="w")
    assert sorted(m.message["Subject"] for m in smtp.received) == ["Sürüm A", "Sürüm A", "Sürüm B", "Sürüm B"]
    for message in Message.objects.filter(variant="B"):
        message_clicked(message=message, url="https://shop.example.com/")

    campaigns_advance()  # too early: no winner yet
    campaign.refresh_from_db()
    assert campaign.winner == ""
    clock.advance(dt.timedelta(hours=2, minutes=1))
    campaigns_advance()
    campaign.refresh_from_db()
    assert campaign.winner == "B" and campaign.queued_count == 10
    deliver_due(worker="w")
    subjects = [m.message["Subject"] for m in smtp.received]
    assert (subjects.count("Sürüm A"), subjects.count("Sürüm B")) == (2, 8)
    campaigns_advance()
    campaign.refresh_from_db()
    assert campaign.status == "sent"


def test_a_local_time_send_goes_at_that_hour_in_each_recipients_zone(smtp, clock):
    with clock.frozen(dt.datetime(2026, 6, 1, 6, 0, tzinfo=ISTANBUL)):
        istanbul = audience(1)
        berlin_customer = make_customer(first_name="Jonas", time_zone="Europe/Berlin")
        consent_record(actor=Actor.system(), customer=berlin_customer, channel="email", status="granted")
        static_list_add(actor=Actor.system(), segment=istanbul, customer_ids=[berlin_customer.pk])
        campaign = campaign_save(actor=Actor.system(), name="Saat 10", template=template(), segments=[istanbul])
        send_at = dt.datetime(2026, 6, 1, 10, 0, tzinfo=ISTANBUL)
        campaign_schedule(actor=Actor.system(), campaign=campaign, send_at=send_at, local_time=True)
        campaigns_advance()
        due = {m.customer.time_zone: m.due_at for m in Message.objects.select_related("customer")}
        assert due == {
            "Europe/Istanbul": dt.datetime(2026, 6, 1, 7, 0, tzinfo=dt.UTC),
            "Europe/Berlin": dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC),  # 10:00 in Berlin (CEST)
        }


class Gateway:
    """A generic SMS gateway on loopback (kervan.messaging.channels.sms.generic): keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.sent.append(json.loads(body))
                answer = json.dumps({"id": f"sms-{len(gateway.sent)}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"


@pytest.fixture
def gateway(settings):
    running = Gateway()
    settings.KERVAN_SMS = {"provider": "http", "url": running.url, "token": "t"}
    yield running
    running.server.shutdown()
    running.server.server_close()


def test_sms_in_quiet_hours_is_held_until_the_window_opens_and_carries_the_opt_out(gateway, clock):
    with clock.frozen(dt.datetime(2026, 6, 1, 23, 0, tzinfo=ISTANBUL)):
        campaign = campaign_save(
            actor=Actor.system(),
            name="Gece",
            template=template("SMS", channel="sms", text="Merhaba {{ customer.first_name }}, indirim başladı."),
            segments=[audience(1, channel="sms")],
        )
        campaign_schedule(actor=Actor.system(), campaign=campaign)
        campaign_start(campaign_id=campaign.pk)
        assert deliver_due(worker="w") == {"held": 1}
        held = Message.objects.get()
        assert held.status == "held" and held.due_at == dt.datetime(2026, 6, 2, 9, 0, tzinfo=ISTANBUL)
        clock.advance(dt.timedelta(hours=9, minutes=59))
        assert deliver_due(worker="w") == {}
        clock.advance(dt.timedelta(minutes=1))
        assert deliver_due(worker="w") == {"sent": 1}
    [sms] = gateway.sent
    assert sms["to"] == "+905321110000"
    assert sms["text"].startswith("Merhaba Kişi0, indirim başladı.") and "RET" in sms["text"]
    assert Message.objects.get().provider_id == "sms-1"
