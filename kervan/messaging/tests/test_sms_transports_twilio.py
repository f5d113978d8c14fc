"""Twilio and the generic HTTP gateway against real HTTP servers on loopback (the server and helpers are
test_sms_transports.py's): what reaches them, the id that comes back, and what each refusal means for the sender."""

import datetime as dt

import pytest

from kervan.messaging.channels.base import Sender
from kervan.messaging.channels.sms.generic import HttpTransport
from kervan.messaging.channels.sms.twilio import TwilioTransport
from kervan.messaging.tests.test_sms_transports import SID, Reply, _frozen, basic, fails, provider, sms

__all__ = ["_frozen", "provider"]  # fixtures, used by name

# Twilio

TWILIO_OK = {"sid": "SM" + "b" * 32, "status": "queued", "account_sid": SID, "num_segments": "1"}


@pytest.fixture
def twilio(provider) -> TwilioTransport:
    return TwilioTransport(
        SID, "tok3n", from_number="+14155552345", url=provider.url(), status_callback="https://shop.example/sms/st"
    )


def test_twilio_sends_form_encoded_with_basic_auth_and_returns_the_sid(provider, twilio):
    provider.answer(Reply(201, TWILIO_OK))
    with twilio:
        sent = twilio.send(sms("Şule, siparişin yolda 🚚"))
    assert sent.provider_id == "SM" + "b" * 32
    [seen] = provider.seen
    assert seen.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert seen.headers["Authorization"] == basic(SID, "tok3n")
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen.form() == {
        "To": "+905321112233",
        "Body": "Şule, siparişin yolda 🚚",
        "From": "+14155552345",
        "StatusCallback": "https://shop.example/sms/st",
    }


def test_twilio_a_messaging_service_picks_the_sender(provider):
    provider.answer(Reply(201, TWILIO_OK))
    service = TwilioTransport(SID, "tok3n", messaging_service_sid="MG" + "c" * 32, url=provider.url())
    with service:
        service.send(sms())
    form = provider.seen[0].form()
    assert form["MessagingServiceSid"] == "MG" + "c" * 32 and "From" not in form and "StatusCallback" not in form


def test_twilio_without_any_sender_nothing_is_sent(provider):
    error = fails(TwilioTransport(SID, "tok3n", url=provider.url()), sms())
    assert error.permanent and provider.seen == []


def twilio_error(code: int, status: int, message: str) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (21211, "The 'To' number +90532111223 is not a valid phone number."),
        (21610, "Attempt to send to unsubscribed recipient"),
        (21614, "'To' number is not a valid mobile number"),
    ],
)
def test_twilio_a_bad_or_unsubscribed_number_is_rejected(provider, twilio, code, message):
    provider.answer(Reply(400, twilio_error(code, 400, message)))
    error = fails(twilio, sms())
    assert error.permanent and error.address_rejected and f"Twilio {code}" in error.reason and message in error.reason


@pytest.mark.parametrize(("status", "code"), [(401, 20003), (400, 21606), (400, 21408), (404, 20404), (400, 21999)])
def test_twilio_account_and_sender_problems_are_permanent_and_keep_the_address(provider, twilio, status, code):
    provider.answer(Reply(status, twilio_error(code, status, "refused")))
    error = fails(twilio, sms())
    assert error.permanent and not error.address_rejected and str(code) in error.reason


def test_twilio_too_many_requests_comes_back_when_twilio_says(provider, twilio, clock):
    provider.answer(Reply(429, twilio_error(20429, 429, "Too Many Requests"), {"Retry-After": "30"}))
    error = fails(twilio, sms())
    assert not error.permanent and error.retry_at == clock.now() + dt.timedelta(seconds=30)
    assert len(provider.seen) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_twilio_server_errors_are_retryable(provider, twilio, status):
    provider.answer(Reply(status, twilio_error(20500, status, "Internal Server Error")))
    error = fails(twilio, sms())
    assert not error.permanent and error.retry_at is None and len(provider.seen) == 1


# A generic HTTP gateway


def test_generic_posts_json_with_a_bearer_token_and_reads_the_id(provider):
    provider.answer(Reply(202, {"id": 9911, "status": "accepted"}))
    gateway = HttpTransport(url=provider.url("/v1/sms"), token="gw-token")
    with gateway:
        sent = gateway.send(sms("Merhaba", sender=Sender(address="KERVAN")))
    assert sent.provider_id == "9911"
    [seen] = provider.seen
    assert seen.headers["Authorization"] == "Bearer gw-token"
    assert seen.json() == {"to": "+905321112233", "from": "KERVAN", "text": "Merhaba", "key": "kervan-42"}


def test_generic_a_2xx_without_json_is_sent_without_an_id(provider):
    provider.answer(Reply(200, "OK"))
    gateway = HttpTransport(url=provider.url("/v1/sms"))
    with gateway:
        assert gateway.send(sms()).provider_id == ""
    assert "Authorization" not in provider.seen[0].headers


@pytest.mark.parametrize("status", [400, 401, 422, 301])
def test_generic_refusals_and_redirects_are_permanent(provider, status):
    provider.answer(Reply(status, {"error": "nope"}, {"Location": "http://elsewhere.example/"}))
    error = fails(HttpTransport(url=provider.url("/v1/sms")), sms())
    assert error.permanent and not error.address_rejected


def test_generic_busy_gateway_is_retried_when_it_says(provider, clock):
    provider.answer(Reply(503, "busy", {"Retry-After": "120"}))
    error = fails(HttpTransport(url=provider.url("/v1/sms")), sms())
    assert not error.permanent and error.retry_at == clock.now() + dt.timedelta(seconds=120)
