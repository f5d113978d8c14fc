"""What every platform folder provides (kervan/integrations/platforms/<platform>/): a Platform subclass that says
how to verify and read its webhooks, how to check its credentials and how to page through its history. Adding a
platform means copying a folder: client.py (its API, through kervan.core.http), verify.py (the webhook signature),
mapping.py (payload → kervan.integrations.canonical records), __init__.py (this class, registered in
kervan.integrations.platforms.PLATFORMS) and tests/ on the platform's real payloads.

The platform code never writes to the database: it reads bytes and returns canonical records; writing them is
kervan.integrations.sync's, the same for every platform.
"""

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from kervan.integrations.canonical import Page


@dataclass(frozen=True)
class CredentialField:
    name: str
    label: str  # translated lazily by the platform module
    secret: bool = True  # shown masked after saving
    required: bool = True
    help: str = ""


class UnexpectedPayload(Exception):
    """A webhook body the mapping cannot read (malformed, a missing key): the delivery is kept as dead for an
    Admin to inspect, never half-applied."""


class CheckFailed(Exception):
    """The credentials or the address do not work: the message says what to fix (shown on the connect form)."""


class Platform:
    key: str = ""
    label: str = ""
    is_store = True  # False: a payment platform (iyzico, Stripe): payments on the store's orders, no catalogue
    credential_fields: tuple[CredentialField, ...] = ()
    needs_base_url = True  # the store's address is asked for on the connect form
    # What a backfill reads, in this order (customers before the orders that name them).
    backfill_kinds: tuple[str, ...] = ()
    # OpenCart has no webhooks: its database is read on a schedule (poll) instead.
    polls = False

    # -- webhooks ---------------------------------------------------------------------------------------------------

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the request only asks if the address answers (WooCommerce POSTs an unsigned "webhook_id=NN" when
        a webhook is saved, and refuses to save it unless it gets a 2xx): answered 200, nothing stored."""
        return False

    def verify(self, connection, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the delivery is signed by the platform with this connection's secret. Headers' names are
        lower-case. Called before anything of the body is read or stored."""
        raise NotImplementedError

    def delivery_key(self, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
        """(topic, delivery id) of a verified delivery. The id is the platform's own when it sends one; else
        body_digest(body), so the same body delivered twice is stored once."""
        raise NotImplementedError

    def records(self, connection, topic: str, payload) -> list:
        """The canonical records the delivery carries ([] for a topic Kervan does not use). Raises
        UnexpectedPayload when the body is not what the topic promises."""
        raise NotImplementedError

    # -- the API ----------------------------------------------------------------------------------------------------

    def check(self, connection) -> str:
        """Call the platform with the connection's credentials; return the shop's name as the platform gives it,
        or raise CheckFailed with what is wrong (refused credentials, unreachable address, not a store of this
        platform)."""
        raise NotImplementedError

    def fetch(self, connection, kind: str, cursor: dict | None) -> Page:
        """One page of `kind` from `cursor` (None: the first page). Network failures raise kervan.core.http's
        RetryableError/PermanentError: the backfill keeps its cursor and tries that page again later."""
        raise NotImplementedError

    def poll(self, connection, cursor: dict) -> Page:
        """What changed since `cursor` (platforms without webhooks)."""
        raise NotImplementedError


def body_digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def hmac_matches(secret: str, body: bytes, signature: str, *, encoding: str = "base64", digest=hashlib.sha256) -> bool:
    """Constant-time check of an HMAC of `body` given as base64 (Shopify, WooCommerce) or hex (Stripe, iyzico)."""
    import base64

    if not secret or not signature:
        return False
    mac = hmac.new(secret.encode(), body, digest).digest()
    expected = base64.b64encode(mac).decode() if encoding == "base64" else mac.hex()
    return hmac.compare_digest(expected, signature.strip())
