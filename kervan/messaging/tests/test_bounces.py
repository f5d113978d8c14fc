"""Bounces read from real delivery reports (the flufl.bounce corpus in ../shared/data, with its expected addresses
and classes), the report's link back to our message, mbox files, and manage.py bounces_import."""

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from kervan.core.testing import SHARED_DATA
from kervan.messaging import actions
from kervan.messaging.bounces import read_bounce, read_bounces, read_mailbox

DATA = SHARED_DATA / "email_bounces"
CORPUS = DATA / "corpus"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"the bounce corpus is not at {DATA} (../shared/data)")


def _expected() -> list:
    if not (DATA / "expected.csv").is_file():
        return [pytest.param(None, marks=needs_data, id="no-corpus")]
    with (DATA / "expected.csv").open(encoding="utf-8", newline="") as handle:
        return [pytest.param(row, id=row["file"]) for row in csv.DictReader(handle)]


def _one(name: str) -> bytes:
    ((_, raw),) = read_mailbox(CORPUS / name)
    return raw


@pytest.mark.parametrize("row", _expected())
def test_each_real_bounce_yields_the_expected_addresses_and_class(row):
    bounces = read_bounces(_one(row["file"]))
    expected = sorted(row["expected_addresses"].split())
    if not expected:  # the report names no address anyone could use (groupwise_03, qmail_08, simple_42)
        assert bounces == [] and read_bounce(_one(row["file"])) is None
        return
    permanent = row["is_temporary_failure"] == "False"
    assert [(b.addresses, b.permanent) for b in bounces] == [(expected, permanent)]


@needs_data
def test_a_cut_short_address_is_no_address():
    # Exim wrote "david...@gmail.com": Gmail ignores dots, so acting on it would suppress david@gmail.com.
    assert b"david...@gmail.com" in _one("simple_42.txt")
    assert read_bounce(_one("simple_42.txt")) is None


def _dsn(action: str, status: str, original: str, kind: str = "message/rfc822") -> bytes:
    """A delivery report as Gmail's and Postfix's look today (the corpus has none from the 2020s)."""
    return (
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
        "To: bounces@shop.example\r\n"
        "Subject: Delivery Status Notification (Failure)\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        '--b1\r\nContent-Type: text/plain; charset="UTF-8"\r\n\r\n'
        "Your message wasn't delivered to ayse.yilmaz@example.com.\r\n\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; googlemail.com\r\n\r\n"
        "Final-Recipient: rfc822; ayse.yilmaz@example.com\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.\r\n\r\n"
        f"--b1\r\nContent-Type: {kind}\r\n\r\n{original}\r\n--b1--\r\n"
    ).encode()


ORIGINAL = "From: Dükkan <shop@shop.example>\r\nTo: ayse.yilmaz@example.com\r\nX-Kervan-Message: m-42.7\r\n"


def test_a_modern_dsn_names_the_message_it_answers():
    bounce = read_bounce(_dsn("failed", "5.1.1", ORIGINAL + "Subject: Kampanya\r\n\r\nMerhaba\r\n"))
    assert bounce.addresses == ["ayse.yilmaz@example.com"] and bounce.permanent and bounce.message_key == "m-42.7"
    headers_only = read_bounce(_dsn("delayed", "4.2.2", ORIGINAL, kind="text/rfc822-headers"))
    assert not headers_only.permanent and headers_only.message_key == "m-42.7"


def test_without_the_header_the_key_is_blank_and_a_quoted_header_counts():
    assert read_bounce(_dsn("failed", "5.1.1", "From: a@b.example\r\nSubject: x\r\n\r\nbody")).message_key == ""
    quoted = _dsn("failed", "5.1.1", "Original message follows:\r\n> X-Kervan-Message: <m-7>", kind="text/plain")
    assert read_bounce(quoted).message_key == "m-7"


def test_a_report_with_failed_and_delayed_recipients_gives_both_classes():
    raw = _dsn("failed", "5.1.1", ORIGINAL).replace(
        b"Reporting-MTA: dns; googlemail.com\r\n\r\n",
        b"Reporting-MTA: dns; googlemail.com\r\n\r\n"
        b"Final-Recipient: rfc822; can@example.org\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\n",
    )
    assert [(b.addresses, b.permanent) for b in read_bounces(raw)] == [
        (["ayse.yilmaz@example.com"], True),
        (["can@example.org"], False),
    ]


def test_a_message_that_is_no_bounce_gives_nothing():
    assert read_bounce(b"From: a@b.example\r\nTo: c@d.example\r\nSubject: Thanks!\r\n\r\nGreat shop.\r\n") is None
    assert read_bounce(b"") is None


def _mbox(tmp_path, *names: str) -> Path:
    """An mbox as a mail client exports it: "From " separators, a body's "From " escaped as ">From "."""
    parts = []
    for name in names:
        body = (CORPUS / name).read_bytes().replace(b"\r\n", b"\n")
        if body.startswith(b"From "):  # some corpus files keep their own envelope line
            body = body.split(b"\n", 1)[1]
        body = b"\n".join(b">" + line if line.startswith(b"From ") else line for line in body.split(b"\n"))
        parts.append(b"From MAILER-DAEMON Mon Dec  7 01:00:00 2026\n" + body.rstrip(b"\n") + b"\n\n")
    path = tmp_path / "bounces.mbox"
    path.write_bytes(b"".join(parts))
    return path


@needs_data
def test_an_mbox_gives_each_message_by_number(tmp_path):
    path = _mbox(tmp_path, "dsn_01.txt", "simple_21.txt", "postfix_01.txt")
    messages = list(read_mailbox(path))
    assert [name for name, _ in messages] == ["bounces.mbox#1", "bounces.mbox#2", "bounces.mbox#3"]
    assert [(b.addresses, b.permanent) for b in map(read_bounce, (raw for _, raw in messages))] == [
        (["userx@example.com"], True),
        (["userx@example.com"], False),
        (["xxxxx@local.ie"], True),
    ]
    assert not any(raw.startswith(b"From ") for _, raw in messages)


def test_an_unescaped_from_inside_a_paragraph_does_not_split_a_message(tmp_path):
    path = tmp_path / "one.mbox"
    path.write_bytes(
        b"From x Mon Dec  7 01:00:00 2026\nSubject: a\n\nline\nFrom here on\n\nFrom y Mon Dec 7\nB: 1\n\nb\n"
    )
    assert [raw for _, raw in read_mailbox(path)] == [b"Subject: a\n\nline\nFrom here on\n", b"B: 1\n\nb\n"]


@needs_data
def test_a_dsn_file_with_an_envelope_line_is_one_message_named_after_the_file():
    assert [name for name, _ in read_mailbox(CORPUS / "dsn_01.txt")] == ["dsn_01.txt"]  # starts with "From "
    assert [name for name, _ in read_mailbox(CORPUS / "dsn_05.txt")] == ["dsn_05.txt"]


def _run(*args) -> str:
    out = io.StringIO()
    call_command("bounces_import", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def recorded(monkeypatch):
    """bounce_record replaced by a recorder, so a test sees exactly what the importer hands it."""
    calls = []

    def fake(*, address, permanent, source, message_key="", trusted=False):
        calls.append((address, permanent, source, message_key))
        return "suppressed" if permanent else "counted"

    monkeypatch.setattr(actions, "bounce_record", fake)
    return calls


@needs_data
def test_dry_run_prints_one_csv_line_per_message_and_records_nothing(tmp_path, recorded):
    mbox = _mbox(tmp_path, "yale_01.txt", "qmail_08.txt")
    out = _run(str(CORPUS / "dsn_05.txt"), str(CORPUS / "simple_42.txt"), str(mbox), "--dry-run")
    assert out.splitlines() == [
        "dsn_05.txt,userx@example.cz,temporary",
        "simple_42.txt,,",
        "bounces.mbox#1,userx@cs.yale.edu,permanent",
        "bounces.mbox#1,userx@yale.edu,permanent",
        "bounces.mbox#2,,",
    ]
    assert recorded == []


@needs_data
def test_import_records_each_address_and_prints_a_summary(tmp_path, recorded):
    mbox = _mbox(tmp_path, "yahoo_04.txt", "groupwise_03.txt")
    summary = json.loads(_run(str(CORPUS / "dsn_01.txt"), str(CORPUS / "simple_28.txt"), str(mbox)))
    assert summary == {"messages": 4, "addresses": 4, "suppressed": 3, "counted": 1, "unknown": 0, "no_address": 1}
    assert recorded == [
        ("userx@example.com", True, "bounce import: dsn_01.txt", ""),
        ("userx@example.com", False, "bounce import: simple_28.txt", ""),
        ("userx@example.es", True, "bounce import: bounces.mbox#1", ""),
        ("usery@example.uk", True, "bounce import: bounces.mbox#1", ""),
    ]


@needs_data
def test_import_suppresses_a_hard_bounce_for_real(db):
    from kervan.messaging.models import Suppression

    summary = json.loads(_run(str(CORPUS / "postfix_01.txt"), str(CORPUS / "dsn_17.txt")))
    assert summary["suppressed"] == 1 and summary["messages"] == 2
    assert Suppression.objects.get(address="xxxxx@local.ie").reason == Suppression.Reason.HARD_BOUNCE
    assert not Suppression.objects.filter(address="userx@example.fi").exists()  # one delay suppresses nobody


def test_the_key_in_a_returned_message_marks_the_message_that_bounced(db, tmp_path):
    from kervan.customers.tests.factories import make_customer
    from kervan.messaging.models import Message, Template

    # She has changed her address since: only the key, not a look-up by address, can find this message.
    customer = make_customer(email="ayse@new.example")
    template = Template.objects.create(name="Kampanya", channel="email", purpose="marketing", content={"tr": {}})
    message = Message.objects.create(
        origin="campaign:1", customer=customer, channel="email", purpose="marketing", template=template,
        status=Message.Status.SENT, to_address="ayse.yilmaz@example.com",
    )  # fmt: skip
    dsn = tmp_path / "dsn.eml"
    # The key as the email transport writes it (actions.message_key) on the original the report returns.
    dsn.write_bytes(_dsn("failed", "5.1.1", ORIGINAL.replace("m-42.7", actions.message_key(message))))
    assert json.loads(_run(str(dsn)))["suppressed"] == 1
    message.refresh_from_db()
    assert message.bounced_at is not None


def test_bad_paths_are_refused_with_exit_status_2_before_anything_is_recorded(tmp_path, recorded):
    good = tmp_path / "good.eml"
    good.write_bytes(_dsn("failed", "5.1.1", ORIGINAL))
    unreadable = tmp_path / "locked.eml"
    unreadable.write_bytes(b"x")
    unreadable.chmod(0)
    cases = [(tmp_path / "missing.eml", "no such file"), (tmp_path, "no such file")]
    try:
        unreadable.open("rb").close()
    except PermissionError:  # root reads anything: only test the refusal where the file is really unreadable
        cases.append((unreadable, "Permission denied"))
    for path, message in cases:
        with pytest.raises(CommandError) as raised:
            _run(str(good), str(path))
        assert raised.value.returncode == 2 and str(path) in str(raised.value) and message in str(raised.value)
    assert recorded == []
