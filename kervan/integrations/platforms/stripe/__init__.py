"""Stripe: payments on the store's orders (paid, failed, refunded) and Stripe's customers, by webhook; history of
customers and charges by backfill. The order a payment is for is named in its metadata (see mapping.py)."""

import logging

import orjson
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kervan.core import http
from kervan.integrations.canonical import Page
from kervan.integrations.platforms.base import CheckFailed, CredentialField, Platform, UnexpectedPayload, body_digest
from kervan.integrations.platforms.stripe import client, mapping
from kervan.integrations.platforms.stripe.verify import signature_valid

log = logging.getLogger(__name__)


class StripePlatform(Platform):
    key = "stripe"
    label = "Stripe"
    is_store = False
    needs_base_url = False
    credential_fields = (
        CredentialField(
            "secret_key",
            _("Secret key"),
            help=_(
                "sk_live_… (or a restricted key that can read "
                "customers, charges and refunds), from Developers → API keys."
            ),
        ),
        CredentialField(
            "webhook_secret",
            _("Webhook signing secret"),
            help=_("whsec_…, shown on the webhook endpoint you add for Kervan's address."),
        ),
        CredentialField(
            "api_base",
            _("API address"),
            secret=False,
            required=False,
            help=_("Leave empty for https://api.stripe.com."),
        ),
    )
    backfill_kinds = ("customers", "payments")

    def verify(self, connection, headers, body: bytes) -> bool:
        secret = connection.credentials.get("webhook_secret", "")
        return signature_valid(secret, headers.get("stripe-signature", ""), body)

    def delivery_key(self, headers, body: bytes) -> tuple[str, str]:
        try:
            event = orjson.loads(body)
        except orjson.JSONDecodeError:
            event = {}
        event = event if isinstance(event, dict) else {}
        return str(event.get("type") or "unknown"), str(event.get("id") or body_digest(body))

    def records(self, connection, topic: str, payload) -> list:
        return mapping.event_records(connection, topic, payload)

    def check(self, connection) -> str:
        try:
            account = client.get(connection, "/v1/account")
        except http.PermanentError as refused:
            if refused.status in (401, 403):
                raise CheckFailed(gettext("Stripe refused the secret key: check it is the account's sk_… key "
                                          "and that it is not revoked.")) from refused  # fmt: skip
            raise CheckFailed(gettext("Stripe answered %(reason)s.") % {"reason": refused.reason}) from refused
        except http.RetryableError as failure:
            raise CheckFailed(
                gettext("Stripe could not be reached at %(url)s: %(reason)s")
                % {"url": client.api_base(connection), "reason": failure.reason}
            ) from failure
        except orjson.JSONDecodeError as unreadable:
            raise CheckFailed(gettext("The address does not answer like Stripe's API.")) from unreadable
        settings = (account.get("settings") or {}).get("dashboard") or {}
        profile = account.get("business_profile") or {}
        return settings.get("display_name") or profile.get("name") or account.get("email") or account.get("id") or ""

    def fetch(self, connection, kind: str, cursor: dict | None) -> Page:
        after = (cursor or {}).get("starting_after", "")
        path = {"customers": "/v1/customers", "payments": "/v1/charges"}[kind]
        rows, next_after = client.list_page(connection, path, after)
        records = []
        for row in rows:
            try:
                records += [mapping.customer(row)] if kind == "customers" else mapping.backfill_charge(connection, row)
            except (UnexpectedPayload, KeyError, TypeError) as unreadable:  # one odd row must not stop the history
                log.warning("stripe backfill: %s %s left out: %s", kind, row.get("id"), unreadable)
        return Page(records=records, next_cursor={"starting_after": next_after} if next_after else None)


PLATFORM = StripePlatform()
