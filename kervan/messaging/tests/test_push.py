"""Web push against a real push endpoint on loopback that checks what a push service checks: the VAPID
Authorization header (an ES256 JWT verified with the key it names, for this endpoint's origin, not expired, with a
contact) and the payload, decrypted as the browser would with the subscription's private key and auth secret
(RFC 8291 aes128gcm, through http_ece). Then what each answer means: 404/410 forget the subscription, 429/5xx and
network failures come back later, other refusals are final. And the install's VAPID key pair itself."""

import base64
import datetime as dt
import json
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from kervan.messaging.channels import transport_for
from kervan.messaging.channels.base import Outgoing, Sender, Sent, TransportError
from kervan.messaging.channels.push import vapid
from kervan.messaging.channels.push.transport import MAX_PAYLOAD_BYTES, WebPushTransport, payload
from kervan.messaging.models import PushSubscription


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """A browser's side of a subscription: the key pair and auth secret it made, the endpoint it was given."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def info(self) -> dict:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64(point), "auth": b64(self.auth)}}

    def save(self) -> PushSubscription:
        keys = self.info()["keys"]
        return PushSubscription.objects.create(endpoint=self.endpoint, p256dh=keys["p256dh"], auth=keys["auth"])


@dataclass
class Delivery:
    path: str
    claims: dict
    vapid_key: str
    ttl: str
    message: dict


class PushService:
    """A push service on loopback. Each POST must carry a valid VAPID signature for this origin and a payload the
    subscribed browser can decrypt (else 401/400, and the problem is kept in `problems`); then it answers with
    the status set for the path (201 by default) and keeps the decrypted message in `delivered`."""

    def __init__(self) -> None:
        self.browsers: dict[str, Browser] = {}
        self.statuses: dict[str, tuple[int, dict]] = {}
        self.delivered: list[Delivery] = []
        self.problems: list[str] = []
        self.delay = 0.0
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if service.delay:
                    time.sleep(service.delay)
                status, headers = service.receive(self.path, dict(self.headers), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.handle_error = lambda request, address: None  # a client that timed out and left is expected
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def browser(self, name: str, status: int = 201, headers: dict | None = None) -> Browser:
        self.browsers[f"/push/{name}"] = browser = Browser(endpoint=f"{self.origin}/push/{name}")
        self.statuses[f"/push/{name}"] = (status, headers or {})
        return browser

    def receive(self, path: str, headers: dict, body: bytes) -> tuple[int, dict]:
        headers = {k.lower(): v for k, v in headers.items()}
        try:
            claims, key = self.check_vapid(headers.get("authorization", ""))
        except (AssertionError, ValueError, InvalidSignature, KeyError) as exc:
            self.problems.append(f"vapid: {exc!r}")
            return 401, {}
        browser = self.browsers.get(path)
        if browser is None:
            return 404, {}
        try:
            assert headers.get("content-encoding") == "aes128gcm", headers.get("content-encoding")
            plain = http_ece.decrypt(body, private_key=browser.private_key, auth_secret=browser.auth)
            message = json.loads(plain)
        except Exception as exc:  # noqa: BLE001 (any failure to decrypt is the finding)
            self.problems.append(f"payload: {exc!r}")
            return 400, {}
        status, extra = self.statuses[path]
        if status < 300:
            self.delivered.append(Delivery(path, claims, key, headers.get("ttl", ""), message))
        return status, extra

    def check_vapid(self, authorization: str) -> tuple[dict, str]:
        """RFC 8292: "vapid t=<JWT>, k=<public key>"; the JWT is ES256-signed with k, for our origin, unexpired."""
        scheme, _, params = authorization.partition(" ")
        assert scheme.lower() == "vapid", authorization
        parts = dict(p.strip().split("=", 1) for p in params.split(","))
        token, key = parts["t"], parts["k"]
        head, claims_part, signature = token.split(".")
        assert json.loads(unb64(head)) == {"typ": "JWT", "alg": "ES256"}
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(key))
        raw = unb64(signature)
        assert len(raw) == 64, "ES256 signatures are r||s, 64 bytes"
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public.verify(der, f"{head}.{claims_part}".encode(), ec.ECDSA(hashes.SHA256()))
        claims = json.loads(unb64(claims_part))
        assert claims["aud"] == self.origin, claims
        assert time.time() < claims["exp"] <= time.time() + 24 * 3600, claims  # RFC 8292: at most 24 hours
        assert claims["sub"].startswith(("mailto:", "https:")), claims
        return claims, key

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def service() -> Iterator[PushService]:
    running = PushService()
    yield running
    running.close()


@pytest.fixture
def other_service() -> Iterator[PushService]:
    running = PushService()
    yield running
    running.close()


@pytest.fixture
def key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def transport(key_pem) -> WebPushTransport:
    return WebPushTransport(vapid_private_key=key_pem, subject="mailto:ops@shop.example.com", ttl=3600, timeout=2)


def push(*browsers: Browser, text: str = "Sepetiniz sizi bekliyor! https://crm.example.com/m/c/tok123/") -> Outgoing:
    return Outgoing(
        key="kervan-7",
        to=json.dumps([b.info() for b in browsers]),
        sender=Sender(),
        subject="Şule Hanım, %10 indirim",
        text=text,
    )


def fails(transport: WebPushTransport, message: Outgoing) -> TransportError:
    with pytest.raises(TransportError) as caught, transport:
        transport.send(message)
    return caught.value


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_push_is_signed_for_the_endpoint_and_decrypts_for_the_browser(db, clock, service, transport, key_pem):
    browser = service.browser("chrome-1")
    browser.save()
    with transport:
        assert transport.send(push(browser)) == Sent(provider_id="")
    assert service.problems == []
    [delivery] = service.delivered
    assert delivery.message == {
        "title": "Şule Hanım, %10 indirim",
        "body": "Sepetiniz sizi bekliyor!",
        "url": "https://crm.example.com/m/c/tok123/",
        "tag": "kervan-7",
    }
    assert delivery.claims["sub"] == "mailto:ops@shop.example.com"
    assert delivery.vapid_key == vapid.vapid_keys(key_pem).public_key
    assert delivery.ttl == "3600"
    assert PushSubscription.objects.get().last_sent_at == clock.now()


def test_each_push_service_gets_a_claim_for_its_own_origin(db, service, other_service, transport):
    # pywebpush writes "aud" into the claims it is given: a shared dict would carry the first origin to the second.
    first, second = service.browser("a"), other_service.browser("b")
    with transport:
        transport.send(push(first, second))
        transport.send(push(second, first))
    assert service.problems == other_service.problems == []
    assert [d.claims["aud"] for d in service.delivered] == [service.origin] * 2
    assert [d.claims["aud"] for d in other_service.delivered] == [other_service.origin] * 2


@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_subscription_is_deleted_and_the_message_fails_for_good(db, service, transport, status):
    gone = service.browser("revoked", status=status)
    gone.save()
    error = fails(transport, push(gone))
    assert error.permanent and not error.address_rejected
    assert "gone" in error.reason
    assert not PushSubscription.objects.exists()


def test_one_browser_delivered_is_enough_and_the_gone_one_is_forgotten(db, service, transport):
    alive, gone = service.browser("laptop"), service.browser("old-phone", status=410)
    alive.save(), gone.save()
    with transport:
        assert transport.send(push(gone, alive)) == Sent(provider_id="")
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [alive.endpoint]
    assert len(service.delivered) == 1


def test_rate_limited_comes_back_when_the_service_says(db, clock, service, transport):
    busy = service.browser("busy", status=429, headers={"Retry-After": "120"})
    busy.save()
    error = fails(transport, push(busy))
    assert not error.permanent
    assert error.retry_at == clock.now() + dt.timedelta(seconds=120)
    assert PushSubscription.objects.count() == 1


@pytest.mark.parametrize("status", [500, 503])
def test_a_failing_push_service_is_retried_later(db, service, transport, status):
    down = service.browser("down", status=status)
    error = fails(transport, push(down))
    assert not error.permanent and error.retry_at is None
    assert "HTTP" in error.reason


def test_a_retryable_browser_wins_over_a_gone_one(db, service, transport):
    gone, busy = service.browser("gone", status=410), service.browser("busy", status=503)
    gone.save(), busy.save()
    error = fails(transport, push(gone, busy))
    assert not error.permanent
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [busy.endpoint]


def test_connection_refused_and_timeouts_are_retryable(db, service, transport):
    error = fails(transport, push(Browser(endpoint=f"http://127.0.0.1:{closed_port()}/push/x")))
    assert not error.permanent and "ConnectionError" in error.reason
    slow = service.browser("slow")
    service.delay = 1.5
    quick = WebPushTransport(vapid_private_key=transport.vapid_private_key, timeout=0.3)
    started = time.monotonic()
    error = fails(quick, push(slow))
    assert not error.permanent and "Timeout" in error.reason
    assert time.monotonic() - started < 1.4  # the timeout was passed on: the call did not wait for the answer


@pytest.mark.parametrize("status", [400, 403, 413])
def test_other_refusals_are_permanent_and_keep_the_subscription(db, service, transport, status):
    refused = service.browser("refused", status=status)
    refused.save()
    error = fails(transport, push(refused))
    assert error.permanent and not error.address_rejected and f"HTTP {status}" in error.reason
    assert PushSubscription.objects.count() == 1


def test_a_redirect_is_not_followed(db, service, transport):
    moved = service.browser("moved", status=307, headers={"Location": f"{service.origin}/push/elsewhere"})
    error = fails(transport, push(moved))
    assert error.permanent and "HTTP 307" in error.reason
    assert service.delivered == []  # the 307 is not a delivery: nothing was POSTed to the Location


def test_the_push_endpoint_refuses_another_key_or_origin(service, key_pem):
    # The checks above are real: a JWT verified against another key, or made for another origin, is refused.
    signer = vapid.vapid_keys(key_pem).vapid
    claims = {"sub": "mailto:ops@shop.example.com", "exp": int(time.time()) + 600}
    good = signer.sign({**claims, "aud": service.origin})["Authorization"]
    assert service.check_vapid(good)[1] == vapid.vapid_keys(key_pem).public_key
    other = vapid.vapid_keys(vapid.b64url(os.urandom(32))).public_key
    with pytest.raises(InvalidSignature):
        service.check_vapid(good.rsplit("k=", 1)[0] + "k=" + other)
    with pytest.raises(AssertionError):
        service.check_vapid(signer.sign({**claims, "aud": "https://push.example.com"})["Authorization"])


def test_no_subscriptions_and_bad_subject_are_permanent(db, service, transport, key_pem):
    assert fails(transport, push()).permanent
    bad = WebPushTransport(vapid_private_key=key_pem, subject="ops@shop")  # not a mailto: URL
    error = fails(bad, push(service.browser("x")))
    assert error.permanent and "VAPID" in error.reason


def test_long_text_is_cut_to_what_a_push_service_takes():
    message = push(Browser(endpoint="https://fcm.googleapis.com/fcm/send/x"), text="ğ" * 5000 + " https://x.io/c/")
    data = json.loads(payload(message))
    assert len(payload(message).encode()) <= MAX_PAYLOAD_BYTES
    assert data["body"].endswith("…") and data["url"] == "https://x.io/c/"
    assert json.loads(payload(push(text="Merhaba\n\nyeni   ürünler")))["body"] == "Merhaba\nyeni ürünler"


def test_transport_for_push_uses_the_settings(settings, key_pem):
    settings.KERVAN_PUSH = {"vapid_private_key": key_pem, "subject": "https://shop.example.com", "timeout": 3}
    built = transport_for("push")
    assert isinstance(built, WebPushTransport)
    assert (built.subject, built.timeout, built.ttl) == ("https://shop.example.com", 3.0, 86400)


def test_a_configured_key_reads_as_pem_or_raw(settings, key_pem):
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    raw = b64(key.private_numbers().private_value.to_bytes(32, "big"))
    assert vapid.vapid_keys(raw).public_key == vapid.vapid_keys(key_pem).public_key
    settings.KERVAN_PUSH = {"vapid_private_key": raw}
    assert vapid.vapid_keys().public_key == vapid.vapid_keys(key_pem).public_key
    assert len(unb64(vapid.vapid_keys().public_key)) == 65


def test_without_a_key_one_is_made_once_and_kept_private(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    settings.KERVAN_PUSH = {}
    first = vapid.vapid_keys().public_key
    stored = tmp_path / "var" / vapid.KEY_FILE_NAME
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    vapid._cache.clear()  # a new process reads the same key back
    assert vapid.vapid_keys().public_key == first
    assert [p.name for p in (tmp_path / "var").iterdir()] == [vapid.KEY_FILE_NAME]  # no temporary file left
