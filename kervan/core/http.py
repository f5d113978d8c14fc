"""Outgoing HTTP for channels and integrations: the one place that decides timeouts, retries and what a failure
means, so a message send or a webhook delivery can store "retry at" or "give up, because".

    from kervan.core import http

    try:
        response = http.request(
            "POST", url, json=payload, headers={"Idempotency-Key": str(delivery.pk)}, timeout=http.Timeout(read=10)
        )
    except http.RetryableError as error:   # may work later: connection failed, timed out, 429, 502/503/504, 408
        release(delivery, due_at=error.retry_at(default=backoff), last_error=str(error))
    except http.PermanentError as error:   # will not work as sent: 4xx, TLS, a refused redirect...
        finish(delivery, status="failed", last_error=str(error))

Every call has a connect and a read timeout (Timeout's defaults unless given; there is no way to wait for ever).
Within one call a failure is tried again only when that is safe and useful: connection failures and timeouts,
429, 502, 503, 504 and 408 (500 only if the caller says so), never another 4xx. A request that may have reached
the server is repeated only if it is idempotent: GET, HEAD, OPTIONS, PUT, DELETE, or any method that sends an
Idempotency-Key header or is passed idempotent=True; one that never left (connection refused, connect timeout) is
always safe to repeat. Waits grow exponentially with jitter up to a cap; a Retry-After header (seconds or an
HTTP-date) is obeyed, and one longer than a call may wait ends the call with the server's time in the error.
Waits go through kervan.core.clock.sleep, so on a frozen clock tests run at once and read the waits off the clock.

Redirects are not followed: a 3xx is returned to the caller like a 2xx, and 4xx/5xx raise.
"""

import datetime as dt
import email.utils
import json as jsonlib
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import urllib3
from django.core.serializers.json import DjangoJSONEncoder
from urllib3.exceptions import ConnectTimeoutError, ProtocolError, ReadTimeoutError

from kervan.core import clock

__all__ = [
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "HttpError",
    "PermanentError",
    "Response",
    "Retry",
    "RetryableError",
    "Timeout",
    "parse_retry_after",
    "request",
]

RETRYABLE_STATUSES = frozenset({408, 429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
IDEMPOTENCY_KEY_HEADER = "idempotency-key"
# However long a server asks to be left alone, work is not put off for more than this: a broken or hostile header
# must not park a message for ever.
RETRY_AFTER_LIMIT = 24 * 60 * 60.0
BODY_EXCERPT_CHARS = 500
MAX_BODY_BYTES = 10 * 1024 * 1024
USER_AGENT = "Kervan"
_CONNECTION_REPR = re.compile(r"^<?\w*HTTPS?Connection(Pool)?\(.*?\)>?: ")


@dataclass(frozen=True)
class Timeout:
    """Seconds to wait for the connection, and for each read of the answer (not for the whole answer)."""

    connect: float = 5.0
    read: float = 20.0

    def __post_init__(self) -> None:
        if not (self.connect > 0 and self.read > 0):
            raise ValueError("Timeouts must be positive: an outgoing call never waits for ever.")


@dataclass(frozen=True)
class Retry:
    """How one call tries again: `attempts` tries in all (1: never again), the first wait `backoff` seconds, doubled
    each time, never more than `max_wait` (which also caps an obeyed Retry-After); `on_500` retries 500 too."""

    attempts: int = 3
    backoff: float = 0.5
    max_wait: float = 10.0
    on_500: bool = False

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff < 0 or self.max_wait < 0:
            raise ValueError("Retry needs attempts >= 1 and waits >= 0.")

    def wait(self, attempt: int) -> float:
        """The wait after failed try number `attempt` (1-based): half of the exponential step, plus a random part of
        the other half ("equal jitter"), so that many clients failing together do not come back together."""
        step = min(self.max_wait, self.backoff * 2.0 ** (attempt - 1))
        return step / 2 + random.uniform(0, step / 2)


DEFAULT_TIMEOUT = Timeout()
DEFAULT_RETRY = Retry()


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes
    attempts: int  # tries it took

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body)


class HttpError(Exception):
    """An outgoing call that failed. `status` is None when no answer came (connection failed, timed out); `body` is
    the start of the answer, `retry_after` the seconds the server asked to wait (None if it did not say)."""

    def __init__(
        self,
        reason: str,
        *,
        method: str,
        url: str,
        status: int | None = None,
        body: str = "",
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(f"{method} {url}: {reason}")
        self.reason = reason
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        self.retry_after = retry_after
        self.attempts = attempts

    def retry_at(self, *, default: dt.timedelta) -> dt.datetime:
        """When to try again: when the server said (Retry-After), else `default` from now."""
        wait = dt.timedelta(seconds=self.retry_after) if self.retry_after is not None else default
        return clock.now() + wait


class RetryableError(HttpError):
    """May work later: store a retry time (retry_at) and try again."""


class PermanentError(HttpError):
    """Will not work as sent: give up with the reason (str(error)), or fix the request first."""


def request(
    method: str,
    url: str,
    *,
    timeout: Timeout = DEFAULT_TIMEOUT,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    json: Any = None,
    idempotent: bool | None = None,
    retry: Retry = DEFAULT_RETRY,
) -> Response:
    """Send `method url` and return a 1xx–3xx answer; raise RetryableError or PermanentError otherwise (see the
    module's docstring). `json` is sent encoded (Decimal, datetime, UUID allowed) as application/json; `body` as
    given. `idempotent` overrides whether a request that may have reached the server can be repeated."""
    if not isinstance(timeout, Timeout):
        raise TypeError("timeout must be an http.Timeout: outgoing calls always have one.")
    if body is not None and json is not None:
        raise ValueError("Send either body or json, not both.")
    method = method.upper()
    safe_url = _check_url(url)
    sent_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    if json is not None:
        body = jsonlib.dumps(json, cls=DjangoJSONEncoder).encode()
        if not any(name.lower() == "content-type" for name in sent_headers):
            sent_headers["Content-Type"] = "application/json"
    if idempotent is None:
        idempotent = method in IDEMPOTENT_METHODS or any(n.lower() == IDEMPOTENCY_KEY_HEADER for n in sent_headers)

    attempt = 0
    while True:
        attempt += 1
        try:
            status, response_headers, data = _send(method, url, sent_headers, body, timeout)
        except ConnectTimeoutError as exc:  # also "connection refused" and DNS failures: nothing was sent
            error: HttpError = RetryableError(_describe(exc, "could not connect"), method=method, url=safe_url)
            error.__cause__ = exc
            repeatable = True
        except (ReadTimeoutError, ProtocolError) as exc:  # sent, and then no (whole) answer
            error = RetryableError(_describe(exc, "no answer"), method=method, url=safe_url)
            error.__cause__ = exc
            repeatable = idempotent
        except urllib3.exceptions.HTTPError as exc:  # TLS failures, undecodable answers: trying again will not help
            raise PermanentError(_describe(exc, "failed"), method=method, url=safe_url, attempts=attempt) from exc
        else:
            if status < 400:
                return Response(status=status, headers=response_headers, body=data, attempts=attempt)
            error = _status_error(status, response_headers, data, method=method, url=safe_url, retry=retry)
            if isinstance(error, PermanentError):
                error.attempts = attempt
                raise error
            repeatable = idempotent
        error.attempts = attempt
        if not repeatable or attempt >= retry.attempts:
            raise error
        wait = error.retry_after if error.retry_after is not None else retry.wait(attempt)
        if wait > retry.max_wait:  # longer than a call may wait: the caller schedules it (error.retry_at)
            raise error
        clock.sleep(wait)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from now that a Retry-After header asks for ("120" or an HTTP-date), at most RETRY_AFTER_LIMIT;
    None when missing or unreadable."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):  # "120", and Shopify's "2.0" (not RFC 9110, but what it sends)
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000": HTTP-dates are always GMT
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - clock.now()).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_LIMIT)


# One pool for the process (thread-safe), so calls to the same host reuse their connections.
_pool = urllib3.PoolManager(num_pools=32, maxsize=8)


def _send(
    method: str, url: str, headers: Mapping[str, str], body: bytes | str | None, timeout: Timeout
) -> tuple[int, Mapping[str, str], bytes]:
    response = _pool.request(
        method,
        url,
        body=body,
        headers=headers,
        timeout=urllib3.Timeout(connect=timeout.connect, read=timeout.read),
        retries=False,  # this module decides what is tried again
        redirect=False,
        preload_content=False,
    )
    complete = False
    try:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.stream(64 * 1024):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise urllib3.exceptions.ResponseError(f"answer larger than {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
        complete = True
        return response.status, response.headers, b"".join(chunks)
    finally:
        if not complete:
            response.close()  # unread bytes must not reach the next request on this connection
        response.release_conn()


def _status_error(
    status: int, headers: Mapping[str, str], data: bytes, *, method: str, url: str, retry: Retry
) -> HttpError:
    excerpt = data[: BODY_EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:BODY_EXCERPT_CHARS].strip()
    retryable = status in RETRYABLE_STATUSES or (status == 500 and retry.on_500)
    kind = RetryableError if retryable else PermanentError
    retry_after = parse_retry_after(headers.get("Retry-After")) if retryable else None
    return kind(f"HTTP {status}", method=method, url=url, status=status, body=excerpt, retry_after=retry_after)


def _check_url(url: str) -> str:
    """Refuse what is not an http(s) URL; return it without credentials, query or fragment, to name it in errors
    that are stored and shown (a query may hold an API key)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Not an http(s) URL: {url[:100]!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _describe(exc: Exception, what: str) -> str:
    # urllib3 starts its messages with the connection's repr ("HTTPConnectionPool(host=…, port=…): "): the URL is in
    # the error already.
    detail = _CONNECTION_REPR.sub("", str(exc)) or type(exc).__name__
    return f"{what}: {type(exc).__name__}: {detail}"[:300]
