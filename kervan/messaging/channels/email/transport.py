"""Email through Django's email backend (settings.EMAIL_BACKEND: SMTP by default, an ESP through django-anymail).

One connection serves a worker's whole batch. SMTP replies decide what a failure means: 5xx for a recipient is a
hard bounce at send time (permanent, the address suppressed), other 5xx are permanent for this message, 4xx and a
lost connection are tried again later.
"""

import contextlib
import smtplib
from email.utils import formataddr
from typing import Any

from django.core.mail import EmailMultiAlternatives, get_connection

from kervan.messaging.channels.base import Outgoing, Sent, TransportError


class EmailTransport:
    channel = "email"

    def __init__(self) -> None:
        self.connection: Any = None

    def __enter__(self) -> "EmailTransport":
        self.connection = get_connection(fail_silently=False)
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):  # the server went away: nothing to close
                self.connection.close()

    def send(self, message: Outgoing) -> Sent:
        if self.connection is None:
            raise RuntimeError("Open the transport first: `with EmailTransport() as transport:`.")
        sender = formataddr((message.sender.name, message.sender.address)) if message.sender.name else ""
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=sender or message.sender.address,
            to=[message.to],
            reply_to=[message.sender.reply_to] if message.sender.reply_to else None,
            headers={"X-Kervan-Message": message.key, **message.headers},
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        for filename, content, mimetype in message.attachments:
            email.attach(filename, content, mimetype)
        try:
            # Opened once and kept for the batch: send_messages() alone would connect and quit for every message.
            self.connection.open()
            self.connection.send_messages([email])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _reply_error(code, reply, recipient=True) from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, authentication failed
            self._reset()
            raise _reply_error(exc.smtp_code, exc.smtp_error, recipient=False) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:  # connection refused, lost, timed out
            self._reset()
            raise TransportError(f"SMTP: {exc or type(exc).__name__}", permanent=False) from exc
        provider_id = email.extra_headers.get("Message-ID", "") or getattr(email, "anymail_status", None)
        return Sent(provider_id=str(getattr(provider_id, "message_id", provider_id) or ""))

    def _reset(self) -> None:
        """After a failure the SMTP session is in an unknown state: the next message opens a new one."""
        self._close()
        self.connection = get_connection(fail_silently=False)


def _reply_error(code: int, reply: bytes | str, *, recipient: bool) -> TransportError:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    reason = f"SMTP {code}: {text}"
    if 500 <= code < 600:
        return TransportError(reason, permanent=True, address_rejected=recipient)
    return TransportError(reason, permanent=False)
