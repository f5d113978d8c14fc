"""What bench/integrations.py serves and sends: Shopify orders built from Shopify's own orders/create sample (read from
../shared/data, never stored here) with their ids, numbers and customers varied, signed webhook deliveries for wrk,
and a loopback stand-in for Shopify's REST Admin API (paging by Link/page_info, call-limit header) for the backfill."""

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
import sys
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT.parent / "shared" / "data" / "webhooks" / "shopify" / "orders_create.json"
SECRET = "bench-webhook-secret"
PAGE = 250
FIRST_ID = 9 * 10**17  # above 2^53, as Shopify's ids are


@cache
def sample() -> dict:
    order = json.loads(SAMPLE.read_text())
    # A paid, unfulfilled, live order (the published sample is a cancelled test order); three lines with SKUs.
    order.update(financial_status="paid", fulfillment_status=None, cancelled_at=None, cancel_reason=None, test=False,
                 closed_at=None, refunds=[], fulfillments=[])  # fmt: skip
    order["line_items"] = order["line_items"][:3]
    for n, line in enumerate(order["line_items"]):
        line.update(sku=f"BENCH-{n}", product_id=None, variant_id=None, quantity=1 + n % 2)
    return order


def order(n: int, *, prefix: str = "b", customers: int = 20_000) -> dict:
    data = copy.deepcopy(sample())
    who = n % customers
    when = (dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n)).isoformat()
    email = f"{prefix}{who}@example.com"
    data.update(id=FIRST_ID + n, name=f"#{prefix.upper()}{n}", order_number=n, number=n, email=email,
                contact_email=email, created_at=when, processed_at=when, updated_at=when)  # fmt: skip
    data["customer"] = {**(data.get("customer") or {}), "id": FIRST_ID + who, "email": f"{prefix}{who}@example.com",
                        "first_name": "Ayşe", "last_name": f"Müşteri {who}", "phone": None}  # fmt: skip
    return data


def signed_requests(path: Path, first: int, count: int) -> None:
    """`count` distinct orders/create deliveries, one per line: signature, webhook id, body (wrk reads them)."""
    with path.open("w") as out:
        for n in range(first, first + count):
            body = json.dumps(order(n), separators=(",", ":"), ensure_ascii=False).encode()
            signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
            out.write(f"{signature}\tbench-{n}\t{body.decode()}\n")


WRK_SCRIPT = """
local threads, counter = {}, 0
function setup(thread) thread:set("tid", counter); counter = counter + 1; table.insert(threads, thread) end
local reqs, i = {}, 0
function init(args)
  local n, total, path, pause = 0, tonumber(args[2]), args[3], tonumber(args[4])
  wait = pause
  for line in io.lines(args[1]) do
    if n % total == tid then
      local sig, wid, body = line:match("([^\\t]+)\\t([^\\t]+)\\t(.*)")
      table.insert(reqs, wrk.format("POST", path, {["Content-Type"] = "application/json",
        ["X-Shopify-Hmac-Sha256"] = sig, ["X-Shopify-Topic"] = "orders/create", ["X-Shopify-Webhook-Id"] = wid,
        ["X-Shopify-Shop-Domain"] = "bench.myshopify.com", ["X-Shopify-API-Version"] = "2026-07"}, body))
    end
    n = n + 1
  end
end
function request() i = i + 1; return reqs[(i - 1) % #reqs + 1] end
function delay() return wait end
"""


# --- the loopback Shopify API ------------------------------------------------------------------------------------


def serve(port: int, orders: int) -> None:
    # One order serialised once with markers, filled in per order: the stand-in must not be what the bench times.
    marked = json.dumps(order(0, prefix="h"), separators=(",", ":"), ensure_ascii=False)
    marked = marked.replace(str(FIRST_ID), "@ID@").replace("#H0", "#H@N@").replace("h0@example.com", "h@C@@example.com")

    def one(n: int) -> str:
        return marked.replace("@ID@", str(FIRST_ID + n), 1).replace("@ID@", str(FIRST_ID + n % 20_000)).replace(
            "@N@", str(n)).replace("@C@", str(n % 20_000))  # fmt: skip

    def page_body(index: int) -> bytes:
        first = index * PAGE
        return ('{"orders":[' + ",".join(one(n) for n in range(first, min(first + PAGE, orders))) + "]}").encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            headers = {"X-Shopify-Shop-Api-Call-Limit": "1/40", "Content-Type": "application/json"}
            if url.path.endswith("/orders/count.json"):
                body = json.dumps({"count": orders}).encode()
            elif url.path.endswith("/orders.json"):
                index = int(query.get("page_info", ["0"])[0])
                body = page_body(index)
                if (index + 1) * PAGE < orders:
                    headers["Link"] = (
                        f'<http://127.0.0.1:{port}{url.path}?limit={PAGE}&page_info={index + 1}>; rel="next"'
                    )
            elif url.path.endswith("/shop.json"):
                body = b'{"shop": {"name": "Bench"}}'
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
