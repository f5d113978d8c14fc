"""A real sending worker killed mid-campaign (SIGKILL: no clean-up, no last commit) and another taking over: nobody
gets a message twice and no message is lost (issue 12, "Reliability").

The worker is `manage.py messages_send` in its own process, on the test's own database (a file on SQLite, the test
database on PostgreSQL), sending to an SMTP server on loopback in this process that answers each message slowly, so
the kill lands while the worker is busy — most likely while the SMTP server has a message in hand.
"""

import asyncio
import collections
import datetime as dt
import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings

from kervan.accounts.actors import Actor
from kervan.campaigns.actions import campaign_save, campaign_schedule, campaign_start
from kervan.core.testing import free_port, worker_database_url
from kervan.customers.models import ConsentRecord, Customer
from kervan.messaging.actions import sender_save, template_save
from kervan.messaging.models import Message
from kervan.messaging.sending import FLUSH_EVERY
from kervan.segments.actions import segment_create, static_list_add

# Committed rows: the worker is another process and sees only what this one has committed.
pytestmark = pytest.mark.django_db(transaction=True)

QUEUED = 300
KILL_AT = QUEUED // 3
DATA_DELAY_S = 0.02  # per message: the worker spends most of its time waiting for the server's answer
CONTENT = {
    "tr": {
        "subject": "Merhaba {{ customer.first_name }}",
        "html": "<html><body><p>Merhaba {{ customer.first_name }}! Kodunuz: {{ coupon('KIS') }}</p></body></html>",
    }
}


class SlowMailbox:
    """Counts what it accepted, by the X-Kervan-Message header each message carries. A message counts once the server
    has it and is about to answer 250: from then on the recipient has it, whatever happens to the worker."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.recipients: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        await asyncio.sleep(DATA_DELAY_S)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.keys.append(str(parsed["X-Kervan-Message"]))
            self.recipients.extend(envelope.rcpt_tos)
        return "250 Message accepted"

    def count(self) -> int:
        with self.lock:
            return len(self.keys)


@pytest.fixture
def slow_smtp():
    mailbox = SlowMailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield mailbox, controller.port
    controller.stop()


@pytest.fixture(autouse=True)
def _nothing_sends_in_this_process(settings):
    # The test settings run tasks at once; here only the worker processes may send.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


def _worker(name: str) -> list[str]:
    return [sys.executable, str(django_settings.BASE_DIR / "manage.py"), "messages_send", "--worker", name]


def _env(port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": worker_database_url(),
        "KERVAN_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "KERVAN_EMAIL_HOST": "127.0.0.1",
        "KERVAN_EMAIL_PORT": str(port),
        "KERVAN_EMAIL_STARTTLS": "",
    }


def _queue_campaign() -> list[Message]:
    system = Actor.system()
    template = template_save(actor=system, name="Kış", channel="email", purpose="marketing", content=CONTENT)
    sender = sender_save(actor=system, channel="email", address="merhaba@shop.example.com", name="Dükkan")
    # In bulk, as an import writes them: one customer at a time through customer_create and consent_record takes
    # seconds for 300, and this test is about the worker. The ledger gets its granted record per address and the
    # customer's consent_email column caches it, as kervan.customers.consent_state describes.
    now = dt.datetime.now(dt.UTC)
    customers = Customer.objects.bulk_create(
        Customer(first_name=f"Kişi{n}", email=f"kisi{n}@example.com", email_key=f"kisi{n}@example.com")
        for n in range(QUEUED)
    )
    ids = [c.pk for c in customers]
    ConsentRecord.objects.bulk_create(
        ConsentRecord(
            customer_id=pk, channel="email", status="granted", source="test", occurred_at=now, address=c.email_key
        )
        for pk, c in zip(ids, customers, strict=True)
    )
    Customer.objects.filter(pk__in=ids).update(consent_email="granted")
    segment = segment_create(actor=system, name="Herkes", kind="static")
    static_list_add(actor=system, segment=segment, customer_ids=ids)
    campaign = campaign_save(actor=system, name="Kış", template=template, segments=[segment], sender=sender)
    campaign_schedule(actor=system, campaign=campaign)
    assert campaign_start(campaign_id=campaign.pk) == QUEUED
    return list(Message.objects.filter(origin=campaign.origin))


def test_a_killed_worker_leaves_no_duplicate_and_loses_nothing(slow_smtp):
    mailbox, port = slow_smtp
    queued = {f"kervan-{m.pk}" for m in _queue_campaign()}
    env = _env(port)

    first = subprocess.Popen(_worker("a"), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while mailbox.count() < KILL_AT:
        if first.poll() is not None:
            pytest.fail(f"worker a ended before it was killed:\n{first.stdout.read().decode()}")
        assert time.monotonic() < deadline, f"worker a sent only {mailbox.count()} in 20 s"
        time.sleep(0.005)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    first.stdout.close()
    arrived_before_kill = mailbox.count()
    assert arrived_before_kill < QUEUED, "the kill came too late to test anything"

    # The dead worker's rows stay leased to it for sending.LEASE (2 minutes) and are taken over when that runs out.
    # The test does not wait 2 minutes: it moves the lease's end into the past, which is all that waiting would do.
    held = Message.objects.filter(leased_by="a")
    assert held.exists(), "worker a held nothing when it was killed"
    held.update(leased_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))

    second = subprocess.run(_worker("b"), env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stdout + second.stderr

    received = collections.Counter(mailbox.keys)
    assert [key for key, n in received.items() if n > 1] == [], "a message arrived twice"
    assert [a for a, n in collections.Counter(mailbox.recipients).items() if n > 1] == [], "a recipient got two"
    assert set(received) <= queued

    messages = list(Message.objects.filter(origin__startswith="campaign:"))
    by_status = collections.defaultdict(set)
    for message in messages:
        by_status[message.status].add(f"kervan-{message.pk}")
    interrupted = {
        f"kervan-{m.pk}" for m in messages if m.status == Message.Status.FAILED and "not sent again" in m.error
    }
    arrived = set(received)
    # Done, every one: sent, or failed as interrupted. Interrupted are the rows worker a had marked as in the
    # transport's hands and not yet recorded as sent: the one the SMTP server had when the kill came, and those sent
    # since the worker's last flush of sent rows (sending.FLUSH_EVERY). Their outcome is unknown to the database,
    # so none is sent again.
    assert set(by_status) <= {Message.Status.SENT, Message.Status.FAILED}, dict(by_status)
    assert by_status[Message.Status.FAILED] == interrupted
    assert len(interrupted) <= FLUSH_EVERY
    assert len(interrupted - arrived) <= 1, "only the message in the server's hands can have failed to arrive"
    assert by_status[Message.Status.SENT] <= arrived  # what the database says went, went
    # Nothing lost: each message arrived (once), or is recorded as interrupted.
    assert arrived | interrupted == queued
    assert not Message.objects.filter(leased_by__in=["a", "b"]).exists()
