"""The real Segment libraries against a running Kervan: segment-analytics-python, @segment/analytics-node from Node,
and @segment/analytics-next in Debian's chromium on a storefront page of another origin. Each sends identify,
e-commerce tracks, page and alias; the tests read what Kervan stored. The Node packages are pinned in
kervan/events/tests/node/package.json and installed by the Makefile's set-up (npm ci)."""

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache

from kervan.accounts.actors import Actor
from kervan.accounts.models import ApiKey
from kervan.customers.models import Customer, Identity
from kervan.events import storefront
from kervan.events.actions import tracker_site_default, tracker_site_update
from kervan.events.models import Event, TrackerSite
from kervan.events.segment_views import forget_source, recent_key_for, recent_messages

pytestmark = [pytest.mark.django_db(transaction=True)]

NODE_DIR = Path(__file__).parent / "node"
NODE_MODULES = NODE_DIR / "node_modules" / "@segment"
ECOMMERCE = {"Viewed Product", "Added to Cart", "Started Checkout", "Placed Order"}


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()
    forget_source()  # the Segment source of the previous test's database
    yield
    cache.clear()
    forget_source()


@pytest.fixture
def write_key(make_api_key):
    tracker_site_default(actor=Actor.system())
    _key, secret = make_api_key({"events": "write"}, name="segment server")
    return secret


@pytest.fixture
def python_library():
    """segment-analytics-python's module-level HTTP session, closed afterwards: a kept-alive connection holds a live
    server thread, and its database connection, open past the test."""
    from segment.analytics import request

    yield request
    request._session.close()


def wait_for(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the events to arrive")


def _customer_with_user_id(user_id: str) -> Customer:
    return Identity.objects.get(kind=Identity.Kind.SOURCE_ID, value=user_id, source__key="website").customer


def _libraries(kind: str) -> set[str]:
    """The libraries named by the last messages of the Segment key (the settings page's "last events received")."""
    pk = TrackerSite.objects.get().pk if kind == "site" else ApiKey.objects.get(name="segment server").pk
    return {entry["library"] for entry in recent_messages(recent_key_for(kind, pk)) if entry.get("library")}


# --- segment-analytics-python ---------------------------------------------------------------------------------


def test_analytics_python(live_server, write_key, python_library):
    from segment.analytics import Client
    from segment.analytics.request import post

    errors = []
    client = Client(
        write_key=write_key,
        host=live_server.url,
        sync_mode=True,
        gzip=True,
        on_error=lambda error, batch: errors.append(error),
    )
    visitor = f"py-{uuid.uuid4()}"
    client.page(anonymous_id=visitor, category="Shop", name="Home", properties={"path": "/"})
    client.track(anonymous_id=visitor, event="Product Viewed", properties={"product_id": "p-1", "price": 10.5})
    client.alias(previous_id=visitor, user_id="py-1001")
    client.identify(
        user_id="py-1001", traits={"email": "py@example.com", "firstName": "Emre", "birthday": "1990-04-02"}
    )
    client.track(user_id="py-1001", event="Product Added", properties={"product_id": "p-1"})
    client.track(user_id="py-1001", event="Checkout Started", properties={"revenue": 10.5})
    client.track(
        user_id="py-1001",
        event="Order Completed",
        properties={"order_id": "PY-1", "revenue": 10.5, "currency": "TRY", "products": [{"product_id": "p-1"}]},
    )
    assert errors == []
    customer = _customer_with_user_id("py-1001")
    assert customer.email == "py@example.com"
    assert customer.first_name == "Emre"
    assert str(customer.birth_date) == "1990-04-02"
    assert Identity.objects.filter(customer=customer, kind=Identity.Kind.ANONYMOUS, value=visitor).exists()
    stored = dict(Event.objects.filter(customer=customer).values_list("name", "properties"))
    assert set(stored) == ECOMMERCE | {"Viewed Page"}
    assert stored["Placed Order"]["order_id"] == "PY-1"
    assert stored["Placed Order"]["products"] == [{"product_id": "p-1"}]
    assert stored["Viewed Page"]["name"] == "Home"
    assert _libraries("key") == {"analytics-python 2.3.4"}

    # A batch the library's consumer sends again after a lost answer: the same messages, stored once.
    batch = [
        {"type": "track", "userId": "py-1001", "event": "Coupon Applied", "messageId": str(uuid.uuid4())},
        {"type": "track", "userId": "py-1001", "event": "Cart Viewed", "messageId": str(uuid.uuid4())},
    ]
    for _attempt in range(2):
        assert post(write_key, host=live_server.url, gzip=True, batch=batch).status_code == 200
    assert Event.objects.filter(name__in=["Coupon Applied", "Cart Viewed"], customer=customer).count() == 2


def test_analytics_python_is_told_a_wrong_key_for_good(live_server, python_library):
    from segment.analytics.request import APIError, post

    with pytest.raises(APIError) as refused:
        post("kv_nope_nope", host=live_server.url, batch=[{"type": "track", "anonymousId": "v", "event": "x"}])
    assert refused.value.status == 401
    assert refused.value.code == "invalid_write_key"
    assert not Event.objects.exists()


# --- @segment/analytics-node ----------------------------------------------------------------------------------


def _run_node(live_server, write_key: str, run: str) -> None:
    env = {**os.environ, "KERVAN_HOST": live_server.url, "WRITE_KEY": write_key, "RUN": run}
    result = subprocess.run(
        ["node", "send_node.mjs"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_analytics_node(live_server, write_key):
    assert (NODE_MODULES / "analytics-node").is_dir(), "run `make` (npm ci in kervan/events/tests/node)"
    run = f"node-{uuid.uuid4().hex[:8]}"
    _run_node(live_server, write_key, run)
    customer = _customer_with_user_id("node-1001")
    assert customer.email == "node@example.com"
    assert customer.first_name == "Deniz"
    names = set(Event.objects.filter(customer=customer).values_list("name", flat=True))
    assert names == ECOMMERCE | {"Viewed Page"}
    order = Event.objects.get(name="Placed Order")
    assert order.properties["order_id"] == "N-1"
    assert {library.split(" ")[0] for library in _libraries("key")} == {"@segment/analytics-node"}
    # The same messages again (the library's retry after a lost answer sends them unchanged): nothing new.
    count = Event.objects.count()
    _run_node(live_server, write_key, run)
    assert Event.objects.count() == count == 5


# --- @segment/analytics-next in the browser -------------------------------------------------------------------

SHOP_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title><script src="/analytics-next.js"></script></head>
<body><h1>Shop</h1><script>
const config = %(config)s;
window.sent = (async () => {
  const [analytics] = await AnalyticsNext.AnalyticsBrowser.load({ writeKey: config.key, cdnURL: config.kervan });
  await analytics.page("Shop", "Home");
  await analytics.track("Product Viewed", { product_id: "p-1", price: 349.9, currency: "TRY" });
  await analytics.track("Product Added", { product_id: "p-1", quantity: 1 });
  await analytics.track("Checkout Started", { revenue: 349.9 });
  await analytics.track("Order Completed", { order_id: "B-1", revenue: 349.9 });
  const signed = { context: { kervan: { signature: config.signature } } };
  await analytics.alias(config.userId, undefined, signed);
  await analytics.identify(config.userId, { email: "browser@example.com", firstName: "Ece" }, signed);
  return analytics.user().anonymousId();
})();
</script></body></html>
"""


@pytest.fixture
def shop_server(tmp_path):
    """A shop's own web server on another origin, serving analytics-next's standalone build from the npm install."""
    shutil.copy(NODE_MODULES / "analytics-next" / "dist" / "umd" / "index.js", tmp_path / "analytics-next.js")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.browser
def test_analytics_next_in_the_browser(page, live_server, shop_server):
    folder, shop = shop_server
    site = tracker_site_default(actor=Actor.system())
    tracker_site_update(actor=Actor.system(), site=site, allowed_origins=[shop])
    config = {
        "key": site.public_key,
        "kervan": live_server.url,
        "userId": "web-1001",
        "signature": storefront.identity_signature(site.identity_secret, "web-1001"),
    }
    (folder / "shop.html").write_text(SHOP_PAGE % {"config": json.dumps(config)})
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{shop}/shop.html")
    visitor = page.evaluate("window.sent")
    assert problems == []
    customer = wait_for(lambda: Customer.objects.filter(email="browser@example.com").first())
    assert _customer_with_user_id("web-1001") == customer
    assert customer.first_name == "Ece"
    wait_for(lambda: Event.objects.filter(customer=customer).count() == 5)
    events = dict(Event.objects.filter(customer=customer).values_list("name", "properties"))
    # A browser does not assert an order: its "Order Completed" keeps Segment's name.
    assert set(events) == {"Viewed Page", "Viewed Product", "Added to Cart", "Started Checkout", "Order Completed"}
    assert set(Event.objects.values_list("anonymous_id", flat=True)) == {visitor}
    assert events["Viewed Page"]["context"]["page"]["path"] == "/shop.html"
    assert "Chrome" in events["Viewed Product"]["context"]["user_agent"]
    assert {library.split(" ")[0] for library in _libraries("site")} == {"analytics.js"}


@pytest.mark.browser
def test_the_settings_page_shows_messages_as_they_arrive(page, live_server, write_key, admin_user, python_library):
    from django.conf import settings
    from django.test import Client
    from segment.analytics.request import post

    staff = Client()
    staff.force_login(admin_user)
    cookie = staff.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    blocked = []
    page.on("console", lambda message: "Content Security Policy" in message.text and blocked.append(message.text))
    page.goto("/events/segment/")
    page.get_by_text("Nothing received with this key yet.").first.wait_for()
    post(write_key, host=live_server.url, batch=[{"type": "track", "userId": "c-77", "event": "Order Refunded"}])
    row = page.locator("#segment-received tr", has_text="c-77")
    row.wait_for(timeout=15_000)
    assert "Refunded Order" in row.inner_text()
    assert blocked == []
