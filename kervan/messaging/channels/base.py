"""The one interface every channel's transport implements, so the sender never knows which provider it talks to.

A transport takes an Outgoing (rendered, addressed, with its sender) and either returns Sent (the provider's id for
the message, for delivery reports) or raises TransportError saying whether trying again can help:

- permanent: this message will never go as it is (an address the provider refuses, a rejected sender, bad
  credentials). With `address_rejected` the address itself is bad (a hard bounce at send time, an invalid number):
  the sender puts it on the suppression list with the reason.
- retryable: the provider is down, slow, rate-limiting, or the mailbox is full for now; `retry_at`, when the
  provider said when (Retry-After), or the sender's back-off otherwise.

Transports are opened once per worker batch (`with transport:`) so SMTP keeps one connection for many messages;
every network call they make has a timeout (kervan.core.http for HTTP APIs, the SMTP backend's timeout for email).
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Outgoing", "Sender", "Sent", "Transport", "TransportError"]


@dataclass(frozen=True)
class Sender:
    """Who a message is from: an email's name, address and reply-to; an SMS originator (Netgsm's "msgheader",
    Twilio's From) in `address`."""

    name: str = ""
    address: str = ""
    reply_to: str = ""


@dataclass(frozen=True)
class Outgoing:
    """One rendered message, ready for a transport. `to` is an email address, an E.164 phone number, or a push
    subscription (JSON text). `key` names the message for the provider (idempotency, delivery reports)."""

    key: str
    to: str
    sender: Sender
    subject: str = ""
    html: str = ""
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    marketing: bool = True
    # Files to attach (email only): (file name, content, MIME type) each.
    attachments: tuple[tuple[str, bytes, str], ...] = ()


@dataclass(frozen=True)
class Sent:
    provider_id: str = ""


class TransportError(Exception):
    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        address_rejected: bool = False,
        retry_at: dt.datetime | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.address_rejected = address_rejected
        self.retry_at = retry_at


class Transport(Protocol):
    channel: str

    def __enter__(self) -> "Transport": ...

    def __exit__(self, *exc: object) -> None: ...

    def send(self, message: Outgoing) -> Sent: ...
