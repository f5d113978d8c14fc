"""Magento 2's REST API (/rest/V1) through kervan.core.http, with an integration's access token as a Bearer token
(System › Extensions › Integrations; on 2.4.4+ also Stores › Configuration › Services › OAuth › Consumer Settings ›
"Allow OAuth Access Tokens to be used as standalone Bearer tokens" = Yes).

Lists are searchCriteria pages: pageSize and currentPage, sorted by entity_id ascending so a page read again after a
failure holds the same objects; the body says total_count. Magento answers a currentPage past the end with the LAST
page again, so the end is computed from total_count, never from an empty page."""

from urllib.parse import urlencode

from django.utils.translation import gettext as _

from kervan.core import http
from kervan.integrations.platforms.base import CheckFailed

API = "/rest/V1"
PAGE_SIZE = 100
TIMEOUT = http.Timeout(connect=5, read=30)
# The backfill's kinds → their search endpoints.
ENDPOINTS = {"customers": "/customers/search", "products": "/products", "orders": "/orders"}


def search_query(page: int, *, page_size: int = PAGE_SIZE) -> str:
    return urlencode(
        [
            ("searchCriteria[pageSize]", page_size),
            ("searchCriteria[currentPage]", page),
            ("searchCriteria[sortOrders][0][field]", "entity_id"),
            ("searchCriteria[sortOrders][0][direction]", "ASC"),
        ]
    )


class Client:
    def __init__(self, base_url: str, access_token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}

    @classmethod
    def for_connection(cls, connection) -> "Client":
        return cls(connection.base_url, connection.credentials.get("access_token", ""))

    def get(self, path: str, query: str = "") -> http.Response:
        url = f"{self.base_url}{API}{path}" + (f"?{query}" if query else "")
        return http.request("GET", url, headers=self.headers, timeout=TIMEOUT)

    def page(self, kind: str, page: int, *, page_size: int = PAGE_SIZE) -> tuple[list, int | None]:
        """(items, total_count) of page `page` (from 1) of `kind`."""
        path = ENDPOINTS[kind]
        body = self.get(path, search_query(page, page_size=page_size)).json()
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise http.PermanentError("the answer has no items list", method="GET", url=f"{self.base_url}{API}{path}")
        total = body.get("total_count")
        return items, total if isinstance(total, int) and not isinstance(total, bool) else None

    def shop_name(self) -> str:
        try:
            configs = self.get("/store/storeConfigs").json()
        except http.PermanentError as error:
            if error.status in (401, 403):
                raise CheckFailed(
                    _(
                        "Magento refused the access token (HTTP %(status)s). Use the Access Token of an active "
                        "integration (System › Extensions › Integrations) with access to Sales, Customers and "
                        "Catalog; on Magento 2.4.4 and later also allow OAuth access tokens as standalone Bearer "
                        "tokens (Stores › Configuration › Services › OAuth)."
                    )
                    % {"status": error.status}
                ) from error
            if error.status == 404:
                raise CheckFailed(
                    _("%(url)s does not answer as a Magento 2 shop (no /rest/V1 there).") % {"url": self.base_url}
                ) from error
            raise CheckFailed(_("Magento answered with an error: %(error)s") % {"error": error}) from error
        except http.RetryableError as error:
            raise CheckFailed(
                _("%(url)s could not be reached: %(error)s") % {"url": self.base_url, "error": error.reason}
            ) from error
        except ValueError as error:
            raise CheckFailed(_("%(url)s did not answer with JSON.") % {"url": self.base_url}) from error
        first = configs[0] if isinstance(configs, list) and configs and isinstance(configs[0], dict) else {}
        return str(first.get("secure_base_url") or first.get("base_url") or first.get("code") or self.base_url)
