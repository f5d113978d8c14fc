"""The SMS transports against real HTTP servers on loopback that answer as Netgsm, Twilio and a plain gateway do:
what reaches the provider (auth, fields, İYS filter, encoding, number form), the id that comes back, and what each
refusal means for the sender (permanent, retryable, the address rejected). Answer shapes and codes follow
../shared/data/sms (Netgsm's official client, Twilio's OpenAPI spec)."""

import base64
import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from kervan.messaging.channels import transport_for
from kervan.messaging.channels.base import Outgoing, Sender, TransportError
from kervan.messaging.channels.sms.generic import HttpTransport
from kervan.messaging.channels.sms.netgsm import NetgsmTransport
from kervan.messaging.channels.sms.twilio import TwilioTransport


@dataclass
class Reply:
    status: int = 200
    body: dict | str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


class Provider:
    """A real HTTP server in a thread: `answer(*replies)` sets the replies in order (the last one repeated);
    `seen` keeps every request."""

    def __init__(self) -> None:
        self.replies = [Reply()]
        self.seen: list[Seen] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                provider.seen.append(Seen(self.command, self.path, dict(self.headers), body))
                reply = provider.replies[min(len(provider.seen), len(provider.replies)) - 1]
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data.encode())))
                self.end_headers()
                self.wfile.write(data.encode())

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.handle_error = lambda request, address: None  # a client that timed out and left is expected
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def answer(self, *replies: Reply) -> None:
        self.replies = list(replies)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def provider() -> Iterator[Provider]:
    running = Provider()
    yield running
    running.close()


@pytest.fixture(autouse=True)
def _frozen(clock):
    """Retry waits move the frozen clock; retry_at is read against it."""


def sms(text: str = "Kampanya: tüm ürünlerde %20 indirim. RET yazıp 3000'e gönderin.", **extra) -> Outgoing:
    values = {"key": "kervan-42", "to": "+905321112233", "sender": Sender(address=""), "text": text, **extra}
    return Outgoing(**values)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fails(transport, message: Outgoing) -> TransportError:
    with pytest.raises(TransportError) as caught, transport:
        transport.send(message)
    return caught.value


# Netgsm

SID = "AC" + "a" * 32
NETGSM_OK = {"code": "00", "jobid": "17377215342605050417149344", "description": "queued"}


@pytest.fixture
def netgsm(provider) -> NetgsmTransport:
    return NetgsmTransport(usercode="8503020000", password="s3cret", header="KERVAN", url=provider.url("/sms/send"))


def test_netgsm_marketing_in_turkish_goes_iys_checked_with_turkish_encoding(provider, netgsm):
    provider.answer(Reply(200, NETGSM_OK))
    with netgsm:
        sent = netgsm.send(sms("Şule Hanım, sepetinizdeki ürünler için %10 indirim. Çıkış: RET yazın.", marketing=True))
    assert sent.provider_id == "17377215342605050417149344"
    [seen] = provider.seen
    assert seen.path == "/sms/send" and seen.headers["Authorization"] == basic("8503020000", "s3cret")
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.json() == {
        "msgheader": "KERVAN",
        "messages": [
            {"msg": "Şule Hanım, sepetinizdeki ürünler için %10 indirim. Çıkış: RET yazın.", "no": "5321112233"}
        ],
        "iysfilter": "11",
        "encoding": "TR",
    }


def test_netgsm_transactional_is_not_iys_filtered_and_plain_text_has_no_encoding(provider, netgsm):
    provider.answer(Reply(200, NETGSM_OK))
    with netgsm:
        netgsm.send(sms("Siparisiniz kargoya verildi. Takip: KRV123", marketing=False, sender=Sender(address="DUKKAN")))
    body = provider.seen[0].json()
    assert body["iysfilter"] == "0" and "encoding" not in body and body["msgheader"] == "DUKKAN"


def test_netgsm_numbers_abroad_take_the_00_prefix(provider, netgsm):
    provider.answer(Reply(200, NETGSM_OK))
    with netgsm:
        netgsm.send(sms(to="+4915112345678"))
    assert provider.seen[0].json()["messages"][0]["no"] == "004915112345678"


@pytest.mark.parametrize("to", ["05321112233", "+90532111223", "+90 532 111 22 33", ""])
def test_netgsm_a_malformed_number_is_rejected_before_any_call(provider, netgsm, to):
    error = fails(netgsm, sms(to=to))
    assert error.permanent and error.address_rejected
    assert provider.seen == []


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (406, "30", "invalid user code or password"),
        (406, "40", "message header"),
        (406, "70", "invalid request"),
        (406, "20", "message text"),
        (406, "51", "İYS brand"),
        (200, "40", "message header"),  # the code decides, whatever the HTTP status
    ],
)
def test_netgsm_refusals_that_will_not_change_are_permanent(provider, netgsm, status, code, words):
    provider.answer(Reply(status, {"code": code, "jobid": None, "description": "refused"}))
    error = fails(netgsm, sms())
    assert error.permanent and not error.address_rejected
    assert error.reason.startswith(f"Netgsm {code}: ") and words in error.reason


@pytest.mark.parametrize("code", ["80", "85"])
def test_netgsm_rate_limits_come_back_after_a_minute(provider, netgsm, clock, code):
    provider.answer(Reply(406, {"code": code, "jobid": None, "description": "limit"}))
    error = fails(netgsm, sms())
    assert not error.permanent and error.retry_at == clock.now() + dt.timedelta(seconds=60)


@pytest.mark.parametrize("status", [200, 406, 500])
def test_netgsm_system_errors_are_retried_with_the_senders_backoff(provider, netgsm, status):
    provider.answer(Reply(status, {"code": "100", "jobid": None, "description": "system error"}))
    error = fails(netgsm, sms())
    assert not error.permanent and error.retry_at is None and "Netgsm 100" in error.reason


def test_netgsm_a_gateway_error_is_retryable_and_the_post_is_not_repeated_within_the_call(provider, netgsm):
    provider.answer(Reply(503, "<html>Service Unavailable</html>", {"Retry-After": "120"}))
    error = fails(netgsm, sms())
    assert not error.permanent and error.retry_at is not None
    assert len(provider.seen) == 1  # the POST may have reached Netgsm: repeating it could send twice


def test_netgsm_an_unreadable_success_is_not_tried_again(provider, netgsm):
    provider.answer(Reply(200, "<html>ok</html>"))
    error = fails(netgsm, sms())
    assert error.permanent and "unreadable" in error.reason


def test_netgsm_down_or_slow_is_retryable():
    down = NetgsmTransport("u", "p", "KERVAN", url=f"http://127.0.0.1:{closed_port()}/send")
    assert not fails(down, sms()).permanent


def test_netgsm_a_slow_answer_times_out_as_retryable(provider):
    provider.answer(Reply(200, NETGSM_OK, delay=1.0))
    slow = NetgsmTransport("u", "p", "KERVAN", url=provider.url("/send"), timeout=0.2)
    error = fails(slow, sms())
    assert not error.permanent and "no answer" in error.reason


# Settings pick the provider (Twilio's and the gateway's own tests: test_sms_transports_twilio.py)


@pytest.mark.parametrize(
    ("conf", "kind"),
    [
        (
            {"provider": "netgsm", "usercode": "u", "password": "p", "header": "KERVAN", "report_token": "t"},
            NetgsmTransport,
        ),
        (
            {
                "provider": "twilio",
                "account_sid": SID,
                "auth_token": "t",
                "from_number": "+14155552345",
                "inbound_url": "https://x.example/in",
            },
            TwilioTransport,
        ),
        ({"provider": "http", "url": "https://sms.example/send", "token": "t"}, HttpTransport),
    ],
)
def test_kervan_sms_settings_build_the_transport(settings, conf, kind):
    settings.KERVAN_SMS = conf
    transport = transport_for("sms")
    assert isinstance(transport, kind) and transport.channel == "sms"
