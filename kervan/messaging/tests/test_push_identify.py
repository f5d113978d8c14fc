"""A browser that subscribed to push before its visitor was known follows the visitor to the customer they turn out
to be (kervan.events.identified → channels.push.subscribe.attach_visitor), through the real public endpoints: the
storefront's subscribe, then the tracker's or the API's identify. Then a marketing push to that customer goes through
the worker to the browser's push service (HTTPS on loopback) and decrypts for that browser."""

import datetime as dt
import json
import ssl
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import http_ece
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.cache import cache

from kervan.accounts.actors import Actor
from kervan.customers.actions import customer_create
from kervan.customers.consent import consent_record
from kervan.customers.models import ConsentRecord, Customer, Identity
from kervan.events.actions import tracker_site_default, tracker_site_update
from kervan.events.identified import visitor_identified_handlers
from kervan.messaging.actions import messages_enqueue, template_save
from kervan.messaging.channels.push.subscribe import attach_visitor
from kervan.messaging.models import Message, PushSubscription
from kervan.messaging.sending import deliver_due
from kervan.messaging.tests.test_push import Browser

SHOP = "https://shop.example.com"
NOON = dt.datetime(2026, 12, 7, 12, 0, tzinfo=ZoneInfo("Europe/Istanbul"))  # outside the quiet hours


class TlsPushService:
    """A push service on https://localhost:<port> with a certificate of its own (trusted through REQUESTS_CA_BUNDLE):
    the public subscribe endpoint takes only https endpoints on allowed hosts. Keeps each POST's body by path."""

    def __init__(self, folder) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        self.cert_file, key_file = folder / "push-cert.pem", folder / "push-key.pem"
        self.cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.received: dict[str, list[tuple[dict, bytes]]] = {}
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                service.received.setdefault(self.path, []).append(
                    ({k.lower(): v for k, v in self.headers.items()}, body)
                )
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, key_file)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.handle_error = lambda request, address: None
        self.origin = f"https://localhost:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def push_service(tmp_path, monkeypatch) -> Iterator[TlsPushService]:
    running = TlsPushService(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(running.cert_file))
    yield running
    running.close()


@pytest.fixture(autouse=True)
def _push_settings(settings, tmp_path):
    settings.BASE_DIR = tmp_path  # the generated VAPID key goes to a temporary var/, not the checkout's
    settings.KERVAN_PUSH = {}
    settings.KERVAN_PUSH_ENDPOINT_HOSTS = ["localhost", "fcm.googleapis.com"]
    # Queued messages wait for deliver_due() (the test settings would otherwise send them at once).
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    cache.clear()  # the public endpoints' rate limits
    yield
    cache.clear()


@pytest.fixture
def site(db):
    site = tracker_site_default(actor=Actor.system())
    return tracker_site_update(actor=Actor.system(), site=site, allowed_origins=[SHOP])


def subscribe(client, site, browser: Browser, visitor: str):
    body = {"key": site.public_key, "subscription": browser.info(), "anonymous_id": visitor}
    response = client.post(
        "/m/push/subscribe", json.dumps(body), content_type="text/plain", HTTP_ORIGIN=SHOP, HTTP_USER_AGENT="Firefox"
    )
    assert response.status_code in (200, 201), response.json()
    return PushSubscription.objects.get(endpoint=browser.endpoint)


def collect(client, site, *items):
    body = json.dumps({"key": site.public_key, "batch": list(items)})
    response = client.post("/events/collect", body, content_type="text/plain", HTTP_ORIGIN=SHOP)
    assert response.status_code == 202, response.json()
    return response.json()


def page_view(visitor: str, **fields) -> dict:
    return {
        "type": "track",
        "event_id": str(uuid.uuid4()),
        "name": "Viewed Page",
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        "anonymous_id": visitor,
        "properties": {"path": "/"},
        **fields,
    }


def test_messaging_follows_identified_visitors():
    assert visitor_identified_handlers()["messaging.push"] is attach_visitor


def test_a_visitor_who_subscribed_then_signs_up_through_the_tracker_gets_the_push(client, site, push_service, clock):
    browser = Browser(endpoint=f"{push_service.origin}/push/laptop")
    with clock.frozen(NOON):
        row = subscribe(client, site, browser, "visitor-1")
        assert (row.customer_id, row.anonymous_id) == (None, "visitor-1")  # nobody knows who they are yet

        result = collect(client, site, {"type": "identify", "anonymous_id": "visitor-1", "email": "ayse@example.com"})
        assert result["identified"] == 1
        ayse = Customer.objects.get(email="ayse@example.com")
        row.refresh_from_db()
        assert row.customer_id == ayse.pk
        # The visitor accepted the prompt: her consent to marketing push, in the ledger with where it came from.
        ayse.refresh_from_db()
        assert ayse.consent_push == ConsentRecord.Status.GRANTED
        assert ayse.consents.get(channel="push").source == "browser push subscription"

        template = template_save(
            actor=Actor.system(),
            name="Sepet",
            channel="push",
            purpose="marketing",
            content={"tr": {"subject": "Merhaba {{ customer.email }}", "text": "Sepetiniz sizi bekliyor"}},
        )
        messages_enqueue(
            origin="test:push", customer_ids=[ayse.pk], channel="push", purpose="marketing", template=template
        )
        assert deliver_due(worker="w1", channel="push") == {"sent": 1}
    assert Message.objects.get().status == Message.Status.SENT
    [(headers, body)] = push_service.received["/push/laptop"]
    assert headers["content-encoding"] == "aes128gcm" and headers["authorization"].startswith("vapid ")
    shown = json.loads(http_ece.decrypt(body, private_key=browser.private_key, auth_secret=browser.auth))
    assert (shown["title"], shown["body"]) == ("Merhaba ayse@example.com", "Sepetiniz sizi bekliyor")


def test_a_server_identify_through_the_api_attaches_the_subscription(client, site, api):
    row = subscribe(client, site, Browser(endpoint="https://fcm.googleapis.com/fcm/send/phone"), "visitor-2")
    response = api.post("/events/identify", {"anonymous_id": "visitor-2", "email": "can@example.com"})
    assert response.status_code == 200, response.json()
    row.refresh_from_db()
    assert row.customer_id == response.json()["customer_id"]


def test_events_naming_a_person_and_a_visitor_attach_the_subscription(client, site, api):
    row = subscribe(client, site, Browser(endpoint="https://fcm.googleapis.com/fcm/send/tablet"), "visitor-3")
    event = page_view("visitor-3", email="deniz@example.com")
    event.pop("type")
    response = api.post("/events/track", event)
    assert response.status_code in (200, 202), response.json()
    row.refresh_from_db()
    assert row.customer == Customer.objects.get(email="deniz@example.com")


def test_an_identify_without_a_subscription_changes_no_subscription(client, site):
    other = subscribe(client, site, Browser(endpoint="https://fcm.googleapis.com/fcm/send/other"), "visitor-9")
    known = customer_create(actor=Actor.system(), first_name="Zeynep", email="zeynep@example.com")
    Identity.objects.create(customer=known, kind=Identity.Kind.ANONYMOUS, value="visitor-8")
    theirs = subscribe(client, site, Browser(endpoint="https://fcm.googleapis.com/fcm/send/zeynep"), "visitor-8")
    before = sorted(PushSubscription.objects.values_list("pk", "customer_id", "anonymous_id", "updated_at"))

    collect(client, site, page_view("visitor-7"), {"type": "identify", "anonymous_id": "visitor-7", "email": "a@b.co"})

    assert sorted(PushSubscription.objects.values_list("pk", "customer_id", "anonymous_id", "updated_at")) == before
    assert (other.customer_id, theirs.customer_id) == (None, known.pk)
    newcomer = Customer.objects.get(email="a@b.co")
    assert newcomer.consent_push != ConsentRecord.Status.GRANTED and not newcomer.consents.exists()


def test_a_refusal_given_after_subscribing_still_wins(client, site, clock):
    known = customer_create(actor=Actor.system(), first_name="Ece", email="ece@example.com")
    with clock.frozen(NOON):
        row = subscribe(client, site, Browser(endpoint="https://fcm.googleapis.com/fcm/send/old"), "visitor-5")
    PushSubscription.objects.filter(pk=row.pk).update(updated_at=NOON)
    with clock.frozen(NOON + dt.timedelta(hours=1)):
        consent_record(actor=Actor.system(), customer=known, channel="push", status="refused", source="preferences")
        assert attach_visitor(anonymous_id="visitor-5", customer_id=known.pk) == 1
    known.refresh_from_db()
    assert known.consent_push == ConsentRecord.Status.REFUSED  # the older acceptance is kept, and does not overturn it
    assert known.consents.filter(channel="push", status="granted", occurred_at=NOON).exists()
