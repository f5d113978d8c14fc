"""What SMS providers call back: Twilio's signed status callbacks and inbound replies, Netgsm's token-guarded
delivery reports. The views are called as Django receives them (RequestFactory), and they reach the real actions
(kervan.messaging.actions): delivery marked, a bad number suppressed, a "RET" reply opting the customer out; a
repeated report changes nothing."""

import json
from urllib.parse import urlencode

import pytest

from kervan.customers.models import ConsentRecord
from kervan.customers.tests.factories import make_customer
from kervan.messaging.channels.sms import webhooks
from kervan.messaging.channels.sms.webhooks import twilio_signature
from kervan.messaging.models import Message, Suppression, Template

TOKEN = "twilio-auth-token"
PHONE = "+905321112233"
STATUS_URL = "http://testserver/hooks/twilio/status?shop=1"


@pytest.fixture
def twilio_settings(settings):
    settings.KERVAN_SMS = {"provider": "twilio", "account_sid": "AC" + "a" * 32, "auth_token": TOKEN}


@pytest.fixture
def netgsm_settings(settings):
    settings.KERVAN_SMS = {"provider": "netgsm", "usercode": "u", "password": "p", "header": "H", "report_token": "n3t"}


@pytest.fixture
def sent_sms(db):
    customer = make_customer(phone=PHONE)
    template = Template.objects.create(name="Kampanya", channel="sms", purpose="marketing", content={"tr": {}})
    return Message.objects.create(
        origin="campaign:1",
        customer=customer,
        channel="sms",
        purpose="marketing",
        template=template,
        status=Message.Status.SENT,
        to_address=PHONE,
        provider_id="SM" + "b" * 32,
    )


def signed_post(rf, url: str, params: dict, token: str = TOKEN, signature: str | None = None):
    request = rf.post(url, urlencode(params), content_type="application/x-www-form-urlencoded")
    request.META["HTTP_X_TWILIO_SIGNATURE"] = (
        twilio_signature(token, url, params.items()) if signature is None else signature
    )
    return request


def body(response) -> dict:
    return json.loads(response.content)


def status(sid: str, state: str, code: str = "") -> dict:
    params = {"MessageSid": sid, "MessageStatus": state, "AccountSid": "AC" + "a" * 32, "To": PHONE}
    return {**params, "ErrorCode": code} if code else params


# The signature


def test_the_signature_matches_twilios_published_example():
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    assert twilio_signature("12345", url, params.items()) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]
    assert twilio_signature("12345", url, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: r.META.update(HTTP_X_TWILIO_SIGNATURE="RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        lambda r: r.META.pop("HTTP_X_TWILIO_SIGNATURE"),
    ],
    ids=["wrong", "missing"],
)
def test_a_wrong_or_missing_signature_is_refused_and_changes_nothing(rf, twilio_settings, sent_sms, tamper):
    request = signed_post(rf, STATUS_URL, status(sent_sms.provider_id, "failed", "30006"))
    tamper(request)
    response = webhooks.twilio_status(request)
    assert response.status_code == 403
    assert body(response) == {"detail": "The request's Twilio signature is wrong.", "code": "invalid_signature"}
    sent_sms.refresh_from_db()
    assert sent_sms.bounced_at is None and not Suppression.objects.exists()


def test_a_signature_made_with_another_token_or_over_other_params_is_refused(rf, twilio_settings, sent_sms):
    params = status(sent_sms.provider_id, "delivered")
    assert webhooks.twilio_status(signed_post(rf, STATUS_URL, params, token="other")).status_code == 403
    forged = signed_post(rf, STATUS_URL, params, signature=twilio_signature(TOKEN, STATUS_URL, {"x": "y"}.items()))
    assert webhooks.twilio_status(forged).status_code == 403


def test_twilio_signing_the_url_with_its_default_port_is_accepted(rf, twilio_settings, sent_sms):
    params = status(sent_sms.provider_id, "delivered")
    signature = twilio_signature(TOKEN, "http://testserver:80/hooks/twilio/status?shop=1", params.items())
    assert webhooks.twilio_status(signed_post(rf, STATUS_URL, params, signature=signature)).status_code == 204


def test_behind_a_proxy_the_configured_url_is_what_twilio_signed(rf, twilio_settings, settings, sent_sms):
    public = "https://shop.example/hooks/twilio/inbound"
    settings.KERVAN_SMS = {**settings.KERVAN_SMS, "inbound_url": public}
    params = {"MessageSid": "SM" + "d" * 32, "From": PHONE, "Body": "RET"}
    request = signed_post(rf, "http://testserver/hooks/twilio/inbound", params)
    request.META["HTTP_X_TWILIO_SIGNATURE"] = twilio_signature(TOKEN, public, params.items())
    assert webhooks.twilio_inbound(request).status_code == 200


def test_without_twilio_settings_the_webhooks_refuse(rf, netgsm_settings):
    response = webhooks.twilio_inbound(signed_post(rf, STATUS_URL, {"From": PHONE, "Body": "RET"}))
    assert response.status_code == 403 and body(response)["code"] == "webhook_not_configured"


def test_only_post_is_accepted(rf, twilio_settings):
    assert webhooks.twilio_status(rf.get(STATUS_URL)).status_code == 405


# Twilio status callbacks


def test_delivered_marks_the_message_once(rf, twilio_settings, sent_sms):
    params = status(sent_sms.provider_id, "delivered")
    assert webhooks.twilio_status(signed_post(rf, STATUS_URL, params)).status_code == 204
    sent_sms.refresh_from_db()
    first = sent_sms.delivered_at
    assert first is not None
    assert webhooks.twilio_status(signed_post(rf, STATUS_URL, params)).status_code == 204  # Twilio repeats
    sent_sms.refresh_from_db()
    assert sent_sms.delivered_at == first


def test_undelivered_to_a_landline_suppresses_the_number(rf, twilio_settings, sent_sms):
    params = status(sent_sms.provider_id, "undelivered", "30006")
    for _ in range(2):  # the same report twice: the second changes nothing
        assert webhooks.twilio_status(signed_post(rf, STATUS_URL, params)).status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.bounced_at is not None and sent_sms.error == "Twilio undelivered 30006"
    assert list(Suppression.objects.values_list("channel", "address", "reason")) == [("sms", PHONE, "invalid")]


def test_a_handset_that_was_off_fails_the_message_but_keeps_the_number(rf, twilio_settings, sent_sms):
    webhooks.twilio_status(signed_post(rf, STATUS_URL, status(sent_sms.provider_id, "failed", "30003")))
    sent_sms.refresh_from_db()
    assert sent_sms.error == "Twilio failed 30003" and not Suppression.objects.exists()


@pytest.mark.parametrize("state", ["queued", "sending", "sent", "accepted"])
def test_statuses_on_the_way_change_nothing(rf, twilio_settings, sent_sms, state):
    assert webhooks.twilio_status(signed_post(rf, STATUS_URL, status(sent_sms.provider_id, state))).status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.delivered_at is None and sent_sms.bounced_at is None


def test_a_report_for_an_unknown_message_is_answered_without_error(rf, twilio_settings, db):
    response = webhooks.twilio_status(signed_post(rf, STATUS_URL, status("SM" + "f" * 32, "delivered")))
    assert response.status_code == 204


# Twilio inbound replies


def _sms_consents(customer) -> list[tuple[str, str]]:
    return list(ConsentRecord.objects.filter(customer=customer, channel="sms").values_list("status", "source"))


@pytest.mark.parametrize("body", ["RET", "stop", " Ret "])
def test_a_ret_or_stop_reply_opts_the_customer_out(rf, twilio_settings, sent_sms, body):
    url = "http://testserver/hooks/twilio/inbound"
    params = {"MessageSid": "SM" + "d" * 32, "From": PHONE, "To": "+14155552345", "Body": body}
    response = webhooks.twilio_inbound(signed_post(rf, url, params))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    assert response.content.decode() == webhooks.EMPTY_TWIML
    assert _sms_consents(sent_sms.customer) == [("refused", "twilio")]


def test_any_other_reply_changes_no_consent(rf, twilio_settings, sent_sms):
    url = "http://testserver/hooks/twilio/inbound"
    params = {"MessageSid": "SM" + "d" * 32, "From": PHONE, "Body": "Siparişim ne zaman gelir?"}
    assert webhooks.twilio_inbound(signed_post(rf, url, params)).status_code == 200
    assert _sms_consents(sent_sms.customer) == []


# Netgsm delivery reports


@pytest.fixture
def netgsm_sms(sent_sms):
    Message.objects.filter(pk=sent_sms.pk).update(provider_id="17377215342605050417149344")
    sent_sms.refresh_from_db()
    return sent_sms


def report(rf, token: str = "n3t", method: str = "get", **params):
    """GET with everything in the query; POST with the token in the URL and the report in the form."""
    if method == "get":
        return webhooks.netgsm_report(rf.get(f"/hooks/netgsm/report?{urlencode({'token': token, **params})}"))
    return webhooks.netgsm_report(rf.post(f"/hooks/netgsm/report?{urlencode({'token': token})}", params))


@pytest.mark.parametrize("method", ["get", "post"])
def test_netgsm_delivered_is_recorded_once(rf, netgsm_settings, netgsm_sms, method):
    for _ in range(2):
        response = report(rf, method=method, jobid=netgsm_sms.provider_id, status="1")
        assert response.status_code == 200 and body(response) == {"ok": True}
    netgsm_sms.refresh_from_db()
    assert netgsm_sms.delivered_at is not None and netgsm_sms.bounced_at is None


@pytest.mark.parametrize(
    ("code", "suppressed"), [("3", True), ("15", True), ("2", False), ("12", False), ("16", False)]
)
def test_netgsm_failures_suppress_only_a_bad_number(rf, netgsm_settings, netgsm_sms, code, suppressed):
    assert report(rf, jobid=netgsm_sms.provider_id, status=code).status_code == 200
    netgsm_sms.refresh_from_db()
    assert netgsm_sms.bounced_at is not None and netgsm_sms.error.startswith(f"Netgsm {code}: ")
    assert Suppression.objects.filter(channel="sms", address=PHONE).exists() is suppressed


def test_netgsm_pending_changes_nothing(rf, netgsm_settings, netgsm_sms):
    assert report(rf, jobid=netgsm_sms.provider_id, status="0").status_code == 200
    netgsm_sms.refresh_from_db()
    assert netgsm_sms.delivered_at is None and netgsm_sms.bounced_at is None


def test_netgsm_a_wrong_token_is_refused(rf, netgsm_settings, netgsm_sms):
    response = report(rf, token="guess", jobid=netgsm_sms.provider_id, status="3")
    assert response.status_code == 403 and body(response)["code"] == "invalid_token"
    assert not Suppression.objects.exists()


def test_netgsm_reports_without_a_configured_token_are_refused(rf, settings, netgsm_sms):
    settings.KERVAN_SMS = {"provider": "netgsm", "usercode": "u", "password": "p", "header": "H"}
    response = report(rf, token="", jobid=netgsm_sms.provider_id, status="1")
    assert response.status_code == 403 and body(response)["code"] == "webhook_not_configured"


def test_netgsm_a_report_without_jobid_is_a_bad_request(rf, netgsm_settings, db):
    response = report(rf, status="1")
    assert response.status_code == 400 and set(body(response)) == {"detail", "code"}
