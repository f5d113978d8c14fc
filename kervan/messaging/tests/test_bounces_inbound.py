"""The bounce mailbox's SMTP receiver, over real SMTP on loopback: a real DSN in, the bounce recorded."""

import os
import select
import signal
import smtplib
import socket
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from kervan.core.testing import SHARED_DATA
from kervan.messaging import actions
from kervan.messaging.channels.email.inbound import receiver

CORPUS = SHARED_DATA / "email_bounces" / "corpus"
needs_data = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the bounce corpus is not at {CORPUS} (../shared/data)")
NOT_A_BOUNCE = b"From: ayse@example.com\r\nTo: bounces@shop.example\r\nSubject: Thanks!\r\n\r\nLovely mugs.\r\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_receiver():
    controller = receiver("127.0.0.1", _free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def recorded(monkeypatch):
    calls = []

    def fake(*, address, permanent, source, message_key="", trusted=False):
        calls.append((address, permanent, source, message_key))
        return "suppressed" if permanent else "counted"

    monkeypatch.setattr(actions, "bounce_record", fake)
    return calls


def _send(controller, raw: bytes, rcpt: str = "bounces+m-1@shop.example") -> dict:
    with smtplib.SMTP(controller.hostname, controller.port, timeout=10) as client:
        # The null reverse-path, as every MTA sends a bounce (RFC 5321 §4.5.5).
        return client.sendmail("<>", [rcpt], raw)


def _corpus(name: str) -> bytes:
    """A corpus message as an MTA puts it on the wire: CRLF line ends and no mbox envelope line."""
    raw = (CORPUS / name).read_bytes().replace(b"\r\n", b"\n")
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1]
    return raw.replace(b"\n", b"\r\n")


@needs_data
def test_a_real_dsn_over_smtp_is_recorded_with_its_address_and_class(smtp_receiver, recorded):
    assert _send(smtp_receiver, _corpus("dsn_01.txt")) == {}  # every recipient accepted, DATA answered 250
    assert recorded == [("userx@example.com", True, "bounce mailbox (SMTP)", "")]
    _send(smtp_receiver, _corpus("dsn_17.txt"))
    _send(smtp_receiver, _corpus("yale_01.txt"))
    assert recorded[1:] == [
        ("userx@example.fi", False, "bounce mailbox (SMTP)", ""),
        ("userx@cs.yale.edu", True, "bounce mailbox (SMTP)", ""),
        ("userx@yale.edu", True, "bounce mailbox (SMTP)", ""),
    ]


def test_a_message_that_is_no_bounce_is_accepted_and_ignored(smtp_receiver, recorded):
    assert _send(smtp_receiver, NOT_A_BOUNCE) == {}
    assert recorded == []


@needs_data
def test_a_failure_on_our_side_answers_451_so_the_mta_tries_again(smtp_receiver, monkeypatch):
    def broken(**kwargs):
        raise ConnectionError("database away")

    monkeypatch.setattr(actions, "bounce_record", broken)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        _send(smtp_receiver, _corpus("postfix_01.txt"))
    assert refused.value.smtp_code == 451


@needs_data
def test_a_bounce_over_smtp_suppresses_an_address_we_sent_to_and_a_forged_one_nothing(
    smtp_receiver, transactional_db, clock
):
    from kervan.accounts.actors import Actor
    from kervan.customers.tests.factories import make_customer
    from kervan.messaging.actions import template_save
    from kervan.messaging.models import Message, Suppression

    # A bounce for an address no message of ours went to: anyone can send the receiver a DSN, so it silences nobody.
    customer = make_customer(email="xxxxx@local.ie")
    _send(smtp_receiver, _corpus("postfix_01.txt"))
    assert not Suppression.objects.exists()

    template = template_save(
        actor=Actor.system(), name="t", channel="email", purpose="marketing", content={"tr": {"text": "x"}}
    )
    Message.objects.create(
        origin="campaign:1",
        customer=customer,
        channel="email",
        purpose="marketing",
        template=template,
        status="sent",
        sent_at=clock.now(),
        to_address="xxxxx@local.ie",
    )
    # The receiver's own thread writes (and commits) through its own connection, as in production.
    _send(smtp_receiver, _corpus("postfix_01.txt"))
    suppression = Suppression.objects.get(address="xxxxx@local.ie")
    assert suppression.reason == Suppression.Reason.HARD_BOUNCE and "SMTP" in suppression.note


def test_the_command_runs_until_sigterm(tmp_path):
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "manage.py", "bounces_receive", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "the receiver did not start within 60 s"
        line = process.stdout.readline()
        assert line, process.communicate(timeout=10)[1].decode()
        assert line.decode().strip() == f"Receiving bounces on 127.0.0.1:{port}"
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:  # no bounce: nothing reaches the database
            assert client.sendmail("<>", ["bounces@shop.example"], NOT_A_BOUNCE) == {}
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err.decode()
    assert out.decode().strip() == "Stopped."


def test_the_command_refuses_a_port_in_use_with_exit_status_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(CommandError) as raised:
            call_command("bounces_receive", "--port", str(taken.getsockname()[1]))
    assert raised.value.returncode == 2 and "Cannot listen on 127.0.0.1" in str(raised.value)
