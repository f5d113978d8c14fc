"""Shopify's REST Admin API (version API_VERSION), as the backfill and the credential check read it: every call
through kervan.core.http (timeouts; 429 / 5xx retried within a call, obeying Retry-After), with the shop's access
token in X-Shopify-Access-Token.

Paging is Shopify's cursor scheme: the Link header's rel="next" URL carries a page_info token, and a request with
page_info may only repeat limit. The saved cursor is that page_info alone — the next URL is rebuilt on the
connection's own address, so a Link header can never send the token elsewhere.

Rate limit: REST calls fill a leaky bucket (X-Shopify-Shop-Api-Call-Limit: "39/40"; it drains at a twentieth of its
size per second — 2/s standard, 4/s Plus). When an answer shows the bucket nearly full, the next call to that shop
from this process first waits (kervan.core.clock.sleep) until HEADROOM calls are free again; a 429 that still
comes is waited out by kervan.core.http (Retry-After) or, beyond a call's patience, by the backfill's retry.
"""

import datetime as dt
import re
import threading
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson
from django.utils.translation import gettext as _

from kervan.core import clock, http
from kervan.core.errors import KervanError

API_VERSION = "2026-07"
PAGE_SIZE = 250
KINDS = ("customers", "products", "orders")
FIRST_QUERY = {"customers": (), "products": (), "orders": (("status", "any"),)}  # every order, closed and cancelled too
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"
HEADROOM = 4  # calls kept free in the bucket
TIMEOUT = http.Timeout(connect=5.0, read=30.0)
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')

_not_before: dict[str, dt.datetime] = {}  # shop address → when its bucket has room again
_lock = threading.Lock()


def api_url(base_url: str, path: str, query=()) -> str:
    url = f"{base_url.rstrip('/')}/admin/api/{API_VERSION}/{path}"
    return f"{url}?{urlencode(list(query))}" if query else url


def get(connection, path: str, query=(), *, retry: http.Retry = http.DEFAULT_RETRY) -> http.Response:
    base = connection.base_url.rstrip("/")
    _wait_for_room(base)
    response = http.request(
        "GET",
        api_url(base, path, query),
        headers={"X-Shopify-Access-Token": connection.credentials.get("access_token", ""),
                 "Accept": "application/json"},
        timeout=TIMEOUT,
        retry=retry,
    )  # fmt: skip
    _note_bucket(base, response.headers.get(CALL_LIMIT_HEADER))
    return response


def read_json(response: http.Response, key: str):
    """The answer's `key`, or a KervanError saying Shopify's answer was not what the API documents."""
    try:
        data = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or key not in data:
        raise KervanError(
            _("Shopify's answer has no “%(key)s”: is the address a Shopify shop?") % {"key": key}, "unexpected_answer"
        )
    return data[key]


def page(connection, kind: str, cursor: dict | None) -> tuple[list[dict], str | None, int | None]:
    """One page of `kind`: (its objects, the next page_info or None, the shop's count on the first page)."""
    page_info = (cursor or {}).get("page_info")
    if page_info:
        query = (("limit", PAGE_SIZE), ("page_info", page_info))
        total = None
    else:
        query = (("limit", PAGE_SIZE), *FIRST_QUERY[kind])
        total = read_json(get(connection, f"{kind}/count.json", FIRST_QUERY[kind]), "count")
    response = get(connection, f"{kind}.json", query)
    items = read_json(response, kind)
    if not isinstance(items, list):
        raise KervanError(_("Shopify's answer has no list of %(kind)s.") % {"kind": kind}, "unexpected_answer")
    return items, next_page_info(response.headers.get("Link")), total if isinstance(total, int) else None


def order(connection, order_id: str) -> dict:
    return read_json(get(connection, f"orders/{order_id}.json"), "order")


def next_page_info(link: str | None) -> str | None:
    match = _NEXT_LINK.search(link or "")
    if not match:
        return None
    values = parse_qs(urlsplit(match.group(1)).query).get("page_info")
    return values[0] if values else None


def shop(connection) -> dict:
    return read_json(get(connection, "shop.json", retry=http.Retry(attempts=2)), "shop")


def _note_bucket(base: str, header: str | None) -> None:
    try:
        used, size = (int(part) for part in (header or "").split("/"))
    except ValueError:
        return
    if size <= 0:
        return
    wait = (used - (size - HEADROOM)) / (size / 20)  # seconds until HEADROOM calls are free
    if wait > 0:
        with _lock:
            _not_before[base] = clock.now() + dt.timedelta(seconds=wait)


def _wait_for_room(base: str) -> None:
    with _lock:
        until = _not_before.pop(base, None)
    if until is not None:
        clock.sleep((until - clock.now()).total_seconds())
