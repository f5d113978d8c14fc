"""Stripe's API (https://api.stripe.com/v1, or the connection's api_base in tests): Bearer secret key, JSON answers,
lists paged with `limit` and `starting_after=<last id>` while `has_more`. Every call goes through kervan.core.http
(timeouts; 429 and 5xx retried within the call honouring Retry-After)."""

from urllib.parse import quote, urlencode

import orjson

from kervan.core import http

API_BASE = "https://api.stripe.com"
PAGE_SIZE = 100
TIMEOUT = http.Timeout(connect=5, read=30)
# Stripe-Version is not sent: the answers follow the account's API version, like its webhooks do.


def api_base(connection) -> str:
    return (connection.credentials.get("api_base") or API_BASE).rstrip("/")


def get(connection, path: str, params: dict | None = None) -> dict:
    """GET `path` (from /v1/…) and its JSON answer; ints stay exact (orjson)."""
    url = api_base(connection) + path
    if params:
        url += "?" + urlencode(params)
    response = http.request(
        "GET",
        url,
        headers={
            "Authorization": f"Bearer {connection.credentials.get('secret_key', '')}",
            "Accept": "application/json",
        },
        timeout=TIMEOUT,
    )
    return orjson.loads(response.body)


def list_page(connection, path: str, starting_after: str = "", **params) -> tuple[list[dict], str | None]:
    """One page of a Stripe list and the id to start the next page after (None: the last page)."""
    query = {"limit": PAGE_SIZE, **params}
    if starting_after:
        query["starting_after"] = starting_after
    answer = get(connection, path, query)
    rows = answer.get("data") or []
    more = bool(answer.get("has_more")) and bool(rows)
    return rows, (rows[-1]["id"] if more else None)


def charge(connection, charge_id: str) -> dict:
    return get(connection, "/v1/charges/" + quote(charge_id, safe=""))


def charge_refunds(connection, charge_id: str) -> list[dict]:
    """Every refund of a charge (a charge has few: one page of 100 is all of them in practice; more are paged)."""
    refunds, after = [], ""
    while True:
        rows, after = list_page(connection, "/v1/refunds", after or "", charge=charge_id)
        refunds.extend(rows)
        if after is None:
            return refunds
