"""Netgsm's codes as its official client documents them (../shared/data/sms/netgsm/netgsm_codes.csv, from
@netgsm/sms src/enums.ts): every delivery-report status is read as delivered, failed or still pending, every
send-time refusal is known, and nothing is invented. Then the delivery-report webhook, through its real URL, for each
documented status, in the form-parameter and the REST v2 report's JSON shape."""

import csv
import json
from urllib.parse import urlencode

import pytest

from kervan.core.testing import SHARED_DATA
from kervan.customers.tests.factories import make_customer
from kervan.messaging.channels.sms import netgsm
from kervan.messaging.models import Message, Suppression, Template

CODES = SHARED_DATA / "sms" / "netgsm" / "netgsm_codes.csv"
needs_data = pytest.mark.skipif(not CODES.is_file(), reason=f"Netgsm's codes are not at {CODES} (../shared/data)")
QUERY_ONLY = {"100"}  # SmsStatus.ALL: a report query's filter, never a message's status
URL = "/m/hooks/netgsm/report/"
PHONE = "+905321112233"


def documented(enum: str) -> dict[str, str]:
    """{code as written: description} of one enum in the CSV."""
    with CODES.open(encoding="utf-8", newline="") as handle:
        return {row["code"]: row["description"] for row in csv.DictReader(handle) if row["enum"] == enum}


@needs_data
def test_every_documented_report_status_has_a_meaning_and_none_is_invented():
    statuses = documented("SmsStatus")
    assert statuses["0"] == "Message pending" and statuses["1"] == "Message sent"
    outcomes = {code: netgsm.Report(jobid="j", status=int(code)).outcome for code in statuses if code not in QUERY_ONLY}
    assert outcomes.pop("0") == "pending"
    assert outcomes.pop("1") == "delivered"
    assert set(outcomes.values()) == {"failed"}, outcomes
    assert {str(code) for code in netgsm.REPORT_FAILED} == set(outcomes)
    # Only a number Netgsm calls invalid, or one on the blacklist, is suppressed; İYS refusals are consent answers.
    assert {str(code) for code, (_meaning, bad) in netgsm.REPORT_FAILED.items() if bad} == {"3", "15"}
    assert "Invalid" in statuses["3"] and "Blacklisted" in statuses["15"] and "IYS" in statuses["16"]


@needs_data
def test_every_documented_send_refusal_is_known_with_its_leading_zeros():
    codes = documented("SendSmsErrorCode")
    assert codes["00"] == "Operation successful"  # success is the string "00", not 0
    # 5000 is the client library's own code for an answer without one; Netgsm never sends it.
    assert set(netgsm.SEND_CODES) == set(codes) - {"00", "5000"}
    for code in netgsm.RATE_LIMITED:
        assert "limit" in codes[code].lower()
        assert netgsm.SEND_CODES[code][1] is False  # waits and tries again
    for code in ("100", "101"):
        assert codes[code] == "System error" and netgsm.SEND_CODES[code][1] is False


@pytest.mark.parametrize(
    ("value", "status"),
    [("1", 1), ("01", 1), (" 12 ", 12), (3, 3), ("", None), ("1.0", None), ("x", None), (True, None), (None, None)],
)
def test_a_report_status_is_read_as_its_code(value, status):
    assert netgsm.report_status(value) == status


def test_the_rest_v2_report_shape_is_read():
    answer = {
        "code": "00",
        "description": "success",
        "jobs": [
            {"jobid": "J1", "number": "5321112233", "status": 1, "operator": 30, "msglen": 1, "errorCode": 0},
            {"jobid": "J2", "number": "5321112244", "status": "16", "operator": 10, "msglen": 1},
            {"jobid": "", "status": 1},
            {"jobid": "J3", "status": "sent"},
            "junk",
        ],
    }
    assert netgsm.parse_reports(answer) == [netgsm.Report("J1", 1), netgsm.Report("J2", 16)]
    older = {"response": {"job": [{"jobid": "J4", "telno": "5321112233", "status": 2, "operator": 20}]}}
    assert netgsm.parse_reports(older) == [netgsm.Report("J4", 2)]
    assert netgsm.parse_reports({"code": "60"}) == netgsm.parse_reports(None) == []


# The webhook, through the URL Netgsm is given


@pytest.fixture
def report_token(db, settings):
    settings.KERVAN_SMS = {"provider": "netgsm", "usercode": "u", "password": "p", "header": "H", "report_token": "n3t"}


def sent_sms(jobid: str, phone: str = PHONE) -> Message:
    template, _ = Template.objects.get_or_create(
        name="Kampanya", channel="sms", purpose="marketing", defaults={"content": {"tr": {}}}
    )
    return Message.objects.create(
        origin=f"campaign:{jobid}",
        customer=make_customer(phone=phone),
        channel="sms",
        purpose="marketing",
        template=template,
        status=Message.Status.SENT,
        to_address=phone,
        provider_id=jobid,
    )


def state(message: Message) -> tuple[bool, bool, bool]:
    message.refresh_from_db()
    suppressed = Suppression.objects.filter(channel="sms", address=message.to_address).exists()
    return message.delivered_at is not None, message.bounced_at is not None, suppressed


def documented_statuses() -> list[str]:
    return sorted(set(documented("SmsStatus")) - QUERY_ONLY, key=int) if CODES.is_file() else []


@needs_data
@pytest.mark.parametrize("code", documented_statuses())
def test_each_documented_status_through_the_webhook(client, report_token, code):
    message = sent_sms("17377215342605050417149344")
    response = client.get(f"{URL}?{urlencode({'token': 'n3t', 'jobid': message.provider_id, 'status': code})}")
    assert response.status_code == 200 and response.json() == {"ok": True}
    delivered, bounced, suppressed = state(message)
    if code == "0":
        assert (delivered, bounced, suppressed) == (False, False, False)
    elif code == "1":
        assert (delivered, bounced, suppressed) == (True, False, False)
    else:
        assert (delivered, bounced) == (False, True)
        assert suppressed is (code in ("3", "15"))
        assert message.error.startswith(f"Netgsm {code}: ")


def test_a_json_report_of_several_messages(client, report_token):
    delivered, refused, waiting = sent_sms("J1"), sent_sms("J2", "+905321112244"), sent_sms("J3", "+905321112255")
    body = {
        "code": "00",
        "jobs": [
            {"jobid": "J1", "number": "5321112233", "status": 1, "deliveredDate": "07.12.2026 12:00:05"},
            {"jobid": "J2", "number": "5321112244", "status": 3, "errorCode": 0},
            {"jobid": "J3", "number": "5321112255", "status": 0},
        ],
    }
    for _ in range(2):  # Netgsm repeats a report it thinks was lost: the second changes nothing
        response = client.post(f"{URL}?token=n3t", json.dumps(body), content_type="application/json")
        assert response.status_code == 200
    assert state(delivered) == (True, False, False)
    assert state(refused) == (False, True, True) and refused.error == "Netgsm 3: invalid or restricted number"
    assert state(waiting) == (False, False, False)


def test_an_undocumented_status_changes_nothing_and_a_malformed_one_is_refused(client, report_token):
    message = sent_sms("J9")
    assert client.get(f"{URL}?token=n3t&jobid=J9&status=999").status_code == 200
    assert client.post(f"{URL}?token=n3t", {"jobid": "J9", "status": "01"}).status_code == 200  # form, "01" is 1
    assert state(message) == (True, False, False)
    for query in ("jobid=J9&status=delivered", "jobid=J9", "status=1"):
        response = client.get(f"{URL}?token=n3t&{query}")
        assert response.status_code == 400 and set(response.json()) == {"detail", "code"}
    empty = client.post(f"{URL}?token=n3t", json.dumps({"jobs": []}), content_type="application/json")
    assert empty.status_code == 400


def test_a_json_report_needs_the_token_too(client, report_token):
    message = sent_sms("J5")
    body = json.dumps({"jobs": [{"jobid": "J5", "status": 3}]})
    response = client.post(f"{URL}?token=guess", body, content_type="application/json")
    assert response.status_code == 403 and response.json()["code"] == "invalid_token"
    assert state(message) == (False, False, False)
