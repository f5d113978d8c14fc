"""The outgoing HTTP helper against a real HTTP server on loopback: what is tried again, how often, how long it
waits, and how a failure is classified. Waits go through the clock, frozen here, so they cost no real time and
are read off the clock."""

import datetime as dt
import email.utils
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kervan.core import http


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering: a slow server


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Server:
    """A real HTTP/1.1 server in a thread. `script(path, *replies)`: the replies to `path`, in order, the last one
    repeated; `hits[path]` counts the requests, `seen` keeps them."""

    def __init__(self) -> None:
        self.replies: dict[str, list[Reply]] = {}
        self.hits: Counter[str] = Counter()
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers: connections are reused from the pool

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                with server._lock:
                    server.hits[path] += 1
                    server.seen.append(Seen(self.command, path, dict(self.headers), body))
                    replies = server.replies.get(path, [Reply(404, b"no such path")])
                    reply = replies[min(server.hits[path], len(replies)) - 1]
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_one  # noqa: N815 (http.server's names)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.handle_error = lambda request, address: None  # a client that timed out and left is expected
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def script(self, path: str, *replies: Reply) -> str:
        self.replies[path] = list(replies)
        return self.url(path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def _frozen(clock):
    """Every wait of the helper moves the frozen clock instead of sleeping."""


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


@pytest.fixture
def waited(clock):
    """Seconds the helper slept (on the frozen clock) since the test began."""
    start = clock.now()
    return lambda: (clock.now() - start).total_seconds()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once it is closed: connection refused


# What comes back


def test_a_success_is_returned_with_its_body_and_headers(server, waited):
    url = server.script("/ok", Reply(200, b'{"id": 7}', {"Content-Type": "application/json", "X-Thing": "1"}))
    response = http.request("GET", url, headers={"X-Shop": "kervan-demo"})
    assert (response.status, response.attempts, response.json(), response.text) == (200, 1, {"id": 7}, '{"id": 7}')
    assert response.headers["x-thing"] == "1"  # any case
    [seen] = server.seen
    assert seen.headers["X-Shop"] == "kervan-demo" and seen.headers["User-Agent"] == http.USER_AGENT
    assert waited() == 0


def test_json_is_sent_encoded_with_decimals_and_times(server):
    url = server.script("/orders", Reply(201, b"{}"))
    when = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
    response = http.request("POST", url, json={"total": Decimal("149.90"), "at": when})
    assert response.status == 201
    [seen] = server.seen
    assert seen.headers["Content-Type"] == "application/json"
    assert json.loads(seen.body) == {"total": "149.90", "at": "2026-11-20T09:30:00Z"}


def test_a_redirect_is_returned_not_followed(server):
    url = server.script("/moved", Reply(301, b"", {"Location": server.url("/elsewhere")}))
    response = http.request("GET", url)
    assert response.status == 301 and response.headers["Location"].endswith("/elsewhere")
    assert server.hits["/elsewhere"] == 0


# What is tried again


def test_503_then_200_succeeds_on_the_second_try_after_a_backoff(server, waited):
    url = server.script("/flaky", Reply(503, b"busy"), Reply(200, b"ok"))
    response = http.request("GET", url, retry=http.Retry(attempts=3, backoff=1.0))
    assert (response.status, response.attempts, server.hits["/flaky"]) == (200, 2, 2)
    assert 0.5 <= waited() <= 1.0  # half the first step, plus jitter up to the other half


@pytest.mark.parametrize("status", [502, 503, 504, 408])
def test_retryable_statuses_are_tried_attempts_times_then_raised(server, waited, status):
    url = server.script("/down", Reply(status, b"upstream gone " + b"x" * 2000))
    with pytest.raises(http.RetryableError) as caught:
        http.request("GET", url, retry=http.Retry(attempts=3, backoff=1.0, max_wait=10))
    error = caught.value
    assert (error.status, error.attempts, server.hits["/down"]) == (status, 3, 3)
    assert error.body.startswith("upstream gone") and len(error.body) == http.BODY_EXCERPT_CHARS
    assert error.retry_after is None
    assert 0.5 + 1.0 <= waited() <= 1.0 + 2.0  # waits after tries 1 and 2: steps of 1 s then 2 s, equal jitter


def test_the_backoff_is_capped(server, waited):
    url = server.script("/down", Reply(503))
    with pytest.raises(http.RetryableError):
        http.request("GET", url, retry=http.Retry(attempts=6, backoff=1.0, max_wait=3.0))
    # Steps 1, 2, 4→3, 8→3, 16→3: each wait between half its step and the step.
    assert 0.5 + 1 + 1.5 * 3 <= waited() <= 1 + 2 + 3 * 3


def test_429_with_retry_after_in_seconds_waits_exactly_that(server, waited):
    url = server.script("/limited", Reply(429, b"slow down", {"Retry-After": "4"}), Reply(200))
    response = http.request("GET", url)
    assert (response.status, response.attempts) == (200, 2)
    assert waited() == 4


def test_retry_after_as_an_http_date_is_obeyed(server, clock, waited):
    at = email.utils.format_datetime(clock.now().replace(microsecond=0) + dt.timedelta(seconds=7), usegmt=True)
    url = server.script("/limited", Reply(503, b"", {"Retry-After": at}), Reply(200))
    assert http.request("GET", url).status == 200
    assert 6 < waited() <= 7


def test_a_retry_after_longer_than_a_call_may_wait_ends_the_call_with_the_servers_time(server, clock, waited):
    url = server.script("/limited", Reply(429, b"quota", {"Retry-After": "120"}))
    with pytest.raises(http.RetryableError) as caught:
        http.request("GET", url, retry=http.Retry(attempts=5, max_wait=10))
    error = caught.value
    assert (error.status, error.attempts, error.retry_after, server.hits["/limited"]) == (429, 1, 120, 1)
    assert error.retry_at(default=dt.timedelta(minutes=5)) == clock.now() + dt.timedelta(seconds=120)
    assert waited() == 0


def test_an_absurd_retry_after_is_capped(server):
    url = server.script("/limited", Reply(503, b"", {"Retry-After": "999999999"}))
    with pytest.raises(http.RetryableError) as caught:
        http.request("GET", url)
    assert caught.value.retry_after == http.RETRY_AFTER_LIMIT


def test_without_retry_after_the_caller_picks_the_retry_time(server, clock):
    url = server.script("/down", Reply(502))
    with pytest.raises(http.RetryableError) as caught:
        http.request("GET", url, retry=http.Retry(attempts=1))
    assert caught.value.retry_at(default=dt.timedelta(minutes=5)) == clock.now() + dt.timedelta(minutes=5)


def test_500_is_permanent_unless_the_caller_says_otherwise(server):
    url = server.script("/bug", Reply(500, b"Traceback..."), Reply(200))
    with pytest.raises(http.PermanentError) as caught:
        http.request("GET", url)
    assert (caught.value.status, caught.value.attempts, server.hits["/bug"]) == (500, 1, 1)
    url = server.script("/bug2", Reply(500, b"Traceback..."), Reply(200))
    assert http.request("GET", url, retry=http.Retry(on_500=True)).attempts == 2


# What is never tried again


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422, 501, 505])
def test_other_client_and_server_errors_are_permanent_at_once(server, waited, status):
    url = server.script("/refused", Reply(status, b'{"error": "invalid phone"}', {"Retry-After": "1"}))
    with pytest.raises(http.PermanentError) as caught:
        http.request("GET", url)
    error = caught.value
    assert (error.status, error.attempts, error.retry_after, server.hits["/refused"]) == (status, 1, None, 1)
    assert error.body == '{"error": "invalid phone"}'
    assert str(error).startswith(f"GET {url}: HTTP {status}")
    assert waited() == 0


def test_a_post_that_may_have_arrived_is_not_repeated_without_an_idempotency_key(server):
    url = server.script("/send", Reply(503), Reply(200))
    with pytest.raises(http.RetryableError) as caught:
        http.request("POST", url, json={"to": "+905321234567"})
    assert (caught.value.attempts, server.hits["/send"]) == (1, 1)  # still retryable: the caller schedules it


def test_a_post_with_an_idempotency_key_is_repeated(server):
    url = server.script("/send", Reply(503), Reply(200))
    response = http.request("POST", url, json={"to": "x"}, headers={"Idempotency-Key": "message-41"})
    assert (response.attempts, server.hits["/send"]) == (2, 2)
    assert {s.headers["Idempotency-Key"] for s in server.seen} == {"message-41"}


def test_the_caller_may_declare_a_request_idempotent_or_not(server):
    url = server.script("/post", Reply(429, b"", {"Retry-After": "1"}), Reply(200))
    assert http.request("POST", url, body=b"x", idempotent=True).attempts == 2
    url = server.script("/put", Reply(503), Reply(200))
    with pytest.raises(http.RetryableError):
        http.request("PUT", url, body=b"x", idempotent=False)
    assert server.hits["/put"] == 1


# No answer at all


def test_connection_refused_is_retryable_and_repeated_even_for_a_post(waited):
    url = f"http://127.0.0.1:{closed_port()}/webhook"
    started = time.monotonic()
    with pytest.raises(http.RetryableError) as caught:
        http.request("POST", url, json={"event": "x"}, retry=http.Retry(attempts=3, backoff=0.5))
    error = caught.value
    assert (error.status, error.attempts) == (None, 3)  # nothing was sent: safe to repeat whatever the method
    assert "refused" in error.reason.lower()
    assert 0.25 + 0.5 <= waited() <= 0.5 + 1.0
    assert time.monotonic() - started < 2  # the waits were on the frozen clock


def test_a_slow_answer_times_out_and_is_repeated_when_idempotent(server, waited):
    url = server.script("/slow", Reply(200, b"late", delay=1.5))
    started = time.monotonic()
    with pytest.raises(http.RetryableError) as caught:
        http.request("GET", url, timeout=http.Timeout(connect=1, read=0.2), retry=http.Retry(attempts=2, backoff=1))
    elapsed = time.monotonic() - started
    error = caught.value
    assert (error.status, error.attempts, server.hits["/slow"]) == (None, 2, 2)
    assert "timed out" in error.reason.lower()
    assert 0.4 <= elapsed < 1.4  # two reads of 0.2 s each, not the server's 1.5 s
    assert 0.5 <= waited() <= 1.0


def test_a_slow_answer_to_a_post_is_not_repeated(server):
    url = server.script("/slow", Reply(200, b"late", delay=1.0))
    started = time.monotonic()
    with pytest.raises(http.RetryableError) as caught:
        http.request("POST", url, body=b"charge", timeout=http.Timeout(read=0.2))
    assert (caught.value.attempts, server.hits["/slow"]) == (1, 1)  # it may have been processed: the caller decides
    assert time.monotonic() - started < 0.9


def test_a_slow_answer_within_the_timeout_is_fine(server):
    url = server.script("/slowish", Reply(200, b"fine", delay=0.1))
    assert http.request("GET", url, timeout=http.Timeout(read=2)).text == "fine"


def test_a_connect_timeout_is_retryable():
    """A server that accepts no more connections (its backlog full): the connection is never made."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):  # fill the accept queue; later handshakes go unanswered
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        started = time.monotonic()
        try:
            http.request(
                "GET",
                f"http://127.0.0.1:{port}/",
                timeout=http.Timeout(connect=0.3, read=0.3),
                retry=http.Retry(attempts=1),
            )
        except http.RetryableError as error:
            elapsed = time.monotonic() - started
            if "could not connect" not in error.reason:
                pytest.skip(f"the kernel accepted the connection here ({error.reason})")
            assert error.status is None and elapsed < 5
        else:
            pytest.fail("a server that never answers gave an answer")
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


# Refused before sending


def test_a_timeout_is_required_and_must_be_positive():
    with pytest.raises(TypeError):
        http.request("GET", "http://127.0.0.1/", timeout=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        http.Timeout(connect=0)
    with pytest.raises(ValueError):
        http.Timeout(read=-1)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "127.0.0.1:80/x", "http:///x", ""])
def test_only_http_urls_are_called(url):
    with pytest.raises(ValueError):
        http.request("GET", url)


def test_body_and_json_together_are_refused():
    with pytest.raises(ValueError):
        http.request("POST", "http://127.0.0.1/", body=b"x", json={"x": 1})


def test_errors_never_show_the_urls_credentials_or_query(server):
    url = server.script("/hook", Reply(400, b"bad"))
    secret_url = url.replace("http://", "http://user:hunter2@") + "?api_key=s3cr3t"
    with pytest.raises(http.PermanentError) as caught:
        http.request("GET", secret_url)
    text = str(caught.value)
    assert "hunter2" not in text and "s3cr3t" not in text and caught.value.url == url


def test_an_answer_too_large_is_permanent(server, monkeypatch):
    monkeypatch.setattr(http, "MAX_BODY_BYTES", 1000)
    url = server.script("/huge", Reply(200, b"x" * 5000))
    with pytest.raises(http.PermanentError, match="larger"):
        http.request("GET", url)
    url = server.script("/small", Reply(200, b"y" * 1000))
    assert http.request("GET", url).body == b"y" * 1000  # and the pooled connection is still good


# The pieces


def test_parse_retry_after(clock):
    now = clock.now().replace(microsecond=0)
    with clock.frozen(now):
        assert http.parse_retry_after("120") == 120
        assert http.parse_retry_after(" 0 ") == 0
        assert http.parse_retry_after(email.utils.format_datetime(now + dt.timedelta(minutes=2), usegmt=True)) == 120
        assert http.parse_retry_after(email.utils.format_datetime(now - dt.timedelta(hours=1), usegmt=True)) == 0
        assert http.parse_retry_after(str(10**12)) == http.RETRY_AFTER_LIMIT
        assert http.parse_retry_after("2.0") == 2.0  # Shopify's 429s say "2.0" (decimal seconds, not RFC 9110)
        for unreadable in (None, "", "soon", "-5", "1.", ".5", "Mon, 99 Foo 2026"):
            assert http.parse_retry_after(unreadable) is None


def test_backoff_waits_grow_with_jitter_and_a_cap():
    retry = http.Retry(backoff=0.5, max_wait=4)
    for attempt, step in [(1, 0.5), (2, 1), (3, 2), (4, 4), (5, 4), (9, 4)]:
        waits = [retry.wait(attempt) for _ in range(200)]
        assert all(step / 2 <= w <= step for w in waits)
        assert len(set(waits)) > 100  # jittered, so clients failing together come back apart


def test_retry_settings_are_checked():
    for bad in ({"attempts": 0}, {"backoff": -1}, {"max_wait": -1}):
        with pytest.raises(ValueError):
            http.Retry(**bad)
