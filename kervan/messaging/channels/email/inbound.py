"""The bounce mailbox as an SMTP receiver: point the MX (or a forward) of the Return-Path domain at it.

Every message it is handed is read with kervan.messaging.bounces and its addresses recorded; one that is no bounce
(an auto-reply, spam) is accepted and dropped, so the sending MTA never retries it or bounces the bounce. Only a
failure on our side (the database away) answers 451, a temporary refusal: the MTA keeps the report and tries again
later rather than it being lost.

`BounceHandler` is aiosmtpd's handler; `receiver(host, port)` wraps it in a Controller (a thread running the asyncio
loop), which `manage.py bounces_receive` runs and a test starts on a loopback port.
"""

import logging

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.db import connections

from kervan.messaging.bounces import read_bounces, record

log = logging.getLogger(__name__)

SOURCE = "bounce mailbox (SMTP)"
# DSNs are small, but many return the whole original message: room for a large newsletter, no more.
MAX_MESSAGE_BYTES = 10 * 1024 * 1024


def receive(raw: bytes) -> list[dict[str, str]]:
    """Read one message from the mailbox and record its bounces; [{address: outcome}] per bounce, [] if none."""
    try:
        return [record(bounce, SOURCE) for bounce in read_bounces(raw)]
    finally:
        # Bounces are few and far between: a connection per message costs little, and the receiver's long-lived
        # worker thread then never holds an idle one the database may have dropped (or a test database must end).
        connections.close_all()


class BounceHandler:
    async def handle_RCPT(  # noqa: N802 - aiosmtpd's name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        # Every recipient is the bounce mailbox (VERP or not): accept all, the report's content says who bounced.
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd
        raw = envelope.original_content or b""
        try:
            # The ORM is synchronous: one worker thread for the database, off the loop that serves connections.
            outcomes = await sync_to_async(receive, thread_sensitive=True)(raw)
        except Exception:  # noqa: BLE001 - anything of ours; the MTA keeps the report and retries
            log.exception("Could not record a bounce from %s; answered 451", envelope.mail_from)
            return "451 4.3.0 Bounce not recorded, try again later"
        if outcomes:
            log.info("Bounce from %s: %s", envelope.mail_from, outcomes)
        return "250 OK"


def receiver(host: str = "127.0.0.1", port: int = 2525) -> Controller:
    """An SMTP receiver for the bounce mailbox on host:port, not yet started (`.start()`, `.stop()`)."""
    return Controller(
        BounceHandler(),
        hostname=host,
        port=port,
        data_size_limit=MAX_MESSAGE_BYTES,
        # The hostname a client sees in the greeting; the receiver needs no name lookup of its own to answer.
        server_hostname="kervan-bounces",
    )
