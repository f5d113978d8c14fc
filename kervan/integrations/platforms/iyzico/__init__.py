"""iyzico: payments on the store's orders (paid with their installments, failed), by webhook. iyzico has no API
listing past payments, so there is no backfill: only what iyzico notifies from the connection on reaches Kervan."""

import orjson
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kervan.core import http
from kervan.integrations.platforms.base import CheckFailed, CredentialField, Platform, body_digest
from kervan.integrations.platforms.iyzico import client, mapping
from kervan.integrations.platforms.iyzico.verify import signature_valid


class IyzicoPlatform(Platform):
    key = "iyzico"
    label = "iyzico"
    is_store = False
    needs_base_url = False
    credential_fields = (
        CredentialField(
            "api_key", _("API key"), help=_("From the iyzico merchant panel: Settings → Company settings.")
        ),
        CredentialField("secret_key", _("Secret key"), help=_("Signs the API calls and checks iyzico's webhooks.")),
        CredentialField(
            "merchant_id",
            _("Merchant ID"),
            secret=False,
            required=False,
            help=_("Needed only for subscription notifications, which iyzico signs with it."),
        ),
        CredentialField(
            "api_base",
            _("API address"),
            secret=False,
            required=False,
            help=_("Leave empty for https://api.iyzipay.com (https://sandbox-api.iyzipay.com to test)."),
        ),
    )
    backfill_kinds = ()  # iyzico's API retrieves one payment by its id; nothing lists them
    backfill_note = _("iyzico has no API that lists past payments: Kervan records the payments iyzico notifies "
                      "from now on; there is nothing to backfill.")  # fmt: skip

    def verify(self, connection, headers, body: bytes) -> bool:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            # iyzico signs fields of the body, not its bytes: a body that is not JSON cannot be checked. It passes
            # here only so the intake answers it 400 (malformed) — it stores nothing that is not JSON either way.
            return True
        if not isinstance(payload, dict):
            return False
        creds = connection.credentials
        return signature_valid(
            creds.get("secret_key", ""), payload, headers.get("x-iyz-signature-v3", ""), creds.get("merchant_id", "")
        )

    def delivery_key(self, headers, body: bytes) -> tuple[str, str]:
        payload = orjson.loads(body)
        payload = payload if isinstance(payload, dict) else {}
        reference = str(payload.get("iyziReferenceCode") or "")
        return str(payload.get("iyziEventType") or "unknown"), reference or body_digest(body)

    def records(self, connection, topic: str, payload) -> list:
        return mapping.records(connection, topic, payload)

    def check(self, connection) -> str:
        try:
            client.bin_check(connection)
        except client.Refused as refused:
            if refused.code in client.REFUSED_CODES:
                raise CheckFailed(
                    gettext("iyzico refused the API key and secret key: %(reason)s") % {"reason": refused}
                ) from refused
            raise CheckFailed(gettext("iyzico answered: %(reason)s") % {"reason": refused}) from refused
        except http.PermanentError as refused:
            if refused.status in (401, 403):
                raise CheckFailed(gettext("iyzico refused the API key and secret key (HTTP %(status)s).")
                                  % {"status": refused.status}) from refused  # fmt: skip
            raise CheckFailed(gettext("iyzico answered %(reason)s.") % {"reason": refused.reason}) from refused
        except http.RetryableError as failure:
            raise CheckFailed(
                gettext("iyzico could not be reached at %(url)s: %(reason)s")
                % {"url": client.api_base(connection), "reason": failure.reason}
            ) from failure
        except ValueError as unreadable:
            raise CheckFailed(gettext("The address does not answer like iyzico's API.")) from unreadable
        return "iyzico"


PLATFORM = IyzicoPlatform()
