"""manage.py support_smtp — the support mailbox as an SMTP receiver: point the support address's MX (or a forward)
at it and every email to it becomes a ticket or a message on one (kervan.support.email_in).

It takes mail only for the support address (KERVAN_SUPPORT_EMAIL) and any address of
KERVAN_SUPPORT_INBOUND_DOMAINS (550 for anyone else: it is no open relay), refuses an email bigger than
KERVAN_SUPPORT_ATTACHMENTS["max_message_bytes"] with 552 and says so, and answers 451 (try again later) when
the database is away, so the sending server keeps the mail rather than it being lost. The database work runs in
one worker thread, off the asyncio loop that serves the connections."""

import logging

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections

from kervan.core.emails import email_match_key
from kervan.core.errors import KervanError
from kervan.core.smtp_receiver import serve_until_stopped
from kervan.support.attachments import limits
from kervan.support.email_in import email_receive
from kervan.support.email_out import support_address

log = logging.getLogger(__name__)

SOURCE = "support mailbox (SMTP)"


def accepts(address: str) -> bool:
    """Whether the support mailbox takes mail for `address` (an envelope recipient)."""
    try:
        key = email_match_key(address.strip("<>"), "rcpt")
    except KervanError:
        return False
    if key == email_match_key(support_address()):
        return True
    domains = {d.lower() for d in getattr(settings, "KERVAN_SUPPORT_INBOUND_DOMAINS", None) or []}
    return key.rpartition("@")[2] in domains


def too_big_reply() -> str:
    # ASCII only: an SMTP reply is no place for a localised size.
    return f"552 5.3.4 Message too big for the support mailbox: the limit is {limits().max_message_bytes} bytes"


def receive(raw: bytes, envelope_sender: str) -> None:
    try:
        email_receive(raw, source=SOURCE, envelope_sender=envelope_sender)
    finally:
        # A connection per email: the receiver's long-lived worker thread never holds an idle one the database may
        # have dropped (or a test database must end).
        connections.close_all()


class SupportHandler:
    async def handle_RCPT(  # noqa: N802 - aiosmtpd's name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not accepts(address):
            return "550 5.1.1 No such mailbox here: this server takes mail for the support address only"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd
        raw = envelope.original_content or b""
        if len(raw) > limits().max_message_bytes:
            return too_big_reply()
        try:
            await sync_to_async(receive, thread_sensitive=True)(raw, envelope.mail_from or "")
        except KervanError as error:  # the email itself cannot be taken (trying again would not help)
            log.warning("Support email from %s refused: %s", envelope.mail_from, error.detail)
            return "554 5.6.0 This email cannot be taken as a support request"
        except Exception:  # noqa: BLE001 - anything of ours: the sending server keeps the mail and tries again
            log.exception("Could not take a support email from %s; answered 451", envelope.mail_from)
            return "451 4.3.0 Not taken now, try again later"
        return "250 OK"


class _SupportSMTP(SMTP):
    async def push(self, status: str) -> None:
        # aiosmtpd's own refusal of an email over the size limit says too little for the sender to act on.
        if status.startswith("552 Error"):
            status = too_big_reply()
        await super().push(status)


class SupportController(Controller):
    def factory(self) -> SMTP:
        return _SupportSMTP(self.handler, **self.SMTP_kwargs)


def receiver(host: str = "127.0.0.1", port: int = 2525) -> Controller:
    """The support mailbox's SMTP receiver on host:port, not yet started (`.start()`, `.stop()`)."""
    return SupportController(
        SupportHandler(),
        hostname=host,
        port=port,
        data_size_limit=limits().max_message_bytes,
        server_hostname="kervan-support",
    )


class Command(BaseCommand):
    help = (
        "Receive support email over SMTP: mail to the support address becomes a ticket or a message on one. "
        "Runs until interrupted (Ctrl-C or SIGTERM)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=2525, help="port to listen on (default 2525)")

    def handle(self, *args, host, port, **options):
        banner = f"Receiving support email for {support_address()} on {host}:{port}"
        serve_until_stopped(receiver(host, port), host=host, port=port, banner=banner, stdout=self.stdout)
