"""WooCommerce's REST API v3 (/wp-json/wc/v3) through kervan.core.http: HTTP Basic auth with the REST API key's
consumer key and secret (WooCommerce › Settings › Advanced › REST API; the site must be on HTTPS, as WooCommerce
only accepts Basic auth there), pages of `per_page` by `page`, counted by the X-WP-Total and X-WP-TotalPages
headers. Ordered by id ascending, so a page read again after a failure holds the same objects."""

import base64
from urllib.parse import urlencode

from django.utils.translation import gettext as _

from kervan.core import http
from kervan.integrations.platforms.base import CheckFailed

API = "/wp-json/wc/v3"
PAGE_SIZE = 100
TIMEOUT = http.Timeout(connect=5, read=30)


class Client:
    def __init__(self, base_url: str, consumer_key: str, consumer_secret: str) -> None:
        self.base_url = base_url.rstrip("/")
        token = base64.b64encode(f"{consumer_key}:{consumer_secret}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}

    @classmethod
    def for_connection(cls, connection) -> "Client":
        credentials = connection.credentials
        return cls(connection.base_url, credentials.get("consumer_key", ""), credentials.get("consumer_secret", ""))

    def get(self, path: str, params: list[tuple[str, object]] | None = None) -> http.Response:
        url = f"{self.base_url}{API}{path}"
        if params:
            url += "?" + urlencode(params)
        return http.request("GET", url, headers=self.headers, timeout=TIMEOUT)

    def page(self, resource: str, page: int, *, per_page: int = PAGE_SIZE) -> tuple[list, int | None, int | None]:
        """(objects, X-WP-Total, X-WP-TotalPages) of page `page` (from 1) of `resource` (customers, products …)."""
        params = [("per_page", per_page), ("page", page), ("orderby", "id"), ("order", "asc")]
        response = self.get(f"/{resource}", params)
        items = response.json()
        if not isinstance(items, list):
            raise http.PermanentError(
                "the answer is not a list", method="GET", url=f"{self.base_url}{API}/{resource}", status=response.status
            )
        return items, _count(response.headers.get("X-WP-Total")), _count(response.headers.get("X-WP-TotalPages"))

    def variations(self, product_id: str) -> list:
        """Every variation of a variable product (their own pages, at most 100 a page)."""
        found, page = [], 1
        while True:
            items, _total, pages = self.page(f"products/{product_id}/variations", page)
            found.extend(items)
            if not items or page >= (pages or 1):
                return found
            page += 1

    def shop_name(self) -> str:
        """The site's name or address: system_status needs a key with read access, which a backfill needs too."""
        try:
            status = self.get("/system_status").json()
        except http.PermanentError as error:
            if error.status in (401, 403):
                raise CheckFailed(
                    _(
                        "WooCommerce refused the consumer key and secret (HTTP %(status)s). Create a REST API key "
                        "with Read (or Read/Write) access under WooCommerce › Settings › Advanced › REST API."
                    )
                    % {"status": error.status}
                ) from error
            if error.status == 404:
                raise CheckFailed(
                    _("%(url)s does not answer as a WooCommerce shop (no /wp-json/wc/v3 there).")
                    % {"url": self.base_url}
                ) from error
            raise CheckFailed(_("WooCommerce answered with an error: %(error)s") % {"error": error}) from error
        except http.RetryableError as error:
            raise CheckFailed(
                _("%(url)s could not be reached: %(error)s") % {"url": self.base_url, "error": error.reason}
            ) from error
        except ValueError as error:
            raise CheckFailed(_("%(url)s did not answer with JSON.") % {"url": self.base_url}) from error
        environment = status.get("environment") if isinstance(status, dict) else None
        environment = environment if isinstance(environment, dict) else {}
        return str(environment.get("site_url") or environment.get("home_url") or self.base_url)


def _count(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
