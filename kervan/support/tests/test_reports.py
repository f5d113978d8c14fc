"""Support reports: hand-made tickets, chats and surveys with known times give exact medians and 90th percentiles,
SLA compliance, backlog buckets, workload rows and the chat wait, the same on SQLite and PostgreSQL; the page by
role; bad period input is a form error, never a 500; the CSV download."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.utils import translation

from kervan.accounts.actors import Actor
from kervan.support import reports
from kervan.support.models import ChatConversation, CsatSurvey, Ticket, TicketMessage

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Europe/Istanbul")
PERIOD = {"period": "custom", "start": "2026-12-01", "end": "2026-12-07"}


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 12) -> dt.datetime:
    """A time in Istanbul, December 2026 unless told."""
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=IST)


def ticket(created, *, channel="email", status="open", assignee=None, responded=None, solved=None, fr_due=None,
           res_due=None, breached_fr=False, breached_res=False) -> Ticket:  # fmt: skip
    return Ticket.objects.create(
        subject="Kargom nerede?",
        requester_email="musteri@example.org",
        channel=channel,
        status=status,
        assignee=assignee,
        created_at=created,
        updated_at=created,
        first_responded_at=responded,
        solved_at=solved,
        first_response_due_at=fr_due,
        resolution_due_at=res_due,
        breached_first_response=breached_fr,
        breached_resolution=breached_res,
    )


@pytest.fixture
def desk(monday, make_agent):
    """Now: Monday 7 December 2026, 10:00 in Istanbul. Seven tickets, three replies, surveys and chats."""
    ali, veli = make_agent("ali"), make_agent("veli")
    t1 = ticket(
        at(1, 9),
        assignee=ali,
        status="solved",
        responded=at(1, 10),
        solved=at(1, 13),
        fr_due=at(1, 11),
        res_due=at(2, 9),
    )  # 1 h / 4 h, both met
    t2 = ticket(
        at(2, 9),
        assignee=ali,
        status="solved",
        responded=at(2, 12),
        solved=at(3, 9),
        fr_due=at(2, 10),
        res_due=at(3, 12),
        breached_fr=True,
    )  # 3 h (missed) / 24 h (met)
    t3 = ticket(
        at(3, 9), channel="chat", assignee=veli, responded=at(3, 9, 30), fr_due=at(3, 10), res_due=at(4, 9)
    )  # 30 min (met) / open past its due time: missed
    # 01:00 on the 7th in Istanbul is still the 6th in UTC: counted on the shop's day, the 7th.
    t4 = ticket(at(7, 1), channel="web_form", status="new", fr_due=at(7, 12), res_due=at(8, 12))  # running
    t5 = ticket(at(20, 10, month=11), status="pending")  # no SLA, open 17 days
    t6 = ticket(
        at(25, 10, month=11), assignee=veli, status="solved", responded=at(25, 11, month=11), solved=at(2, 10)
    )  # open when the period starts, solved in it after 168 h
    t7 = ticket(
        at(4, 9),
        channel="web_form",
        assignee=veli,
        status="closed",
        responded=at(4, 9, 10),
        solved=at(5, 10),
        fr_due=at(4, 9, 5),
        res_due=at(5, 9),
    )  # 10 min and 25 h, both late, no flags
    for author, when in ((ali, at(1, 10)), (ali, at(2, 12)), (ali, at(30, 9, month=11)), (veli, at(3, 9, 30))):
        TicketMessage.objects.create(ticket=t1, direction="outbound", author_user=author, body="…", created_at=when)
    TicketMessage.objects.create(ticket=t1, direction="note", author_user=veli, body="…", created_at=at(1, 11))
    for tk, agent, score, answered in (
        (t1, ali, 5, at(2, 9)),
        (t2, ali, 3, at(4, 9)),
        (t6, veli, 4, at(3, 9)),
        (t6, veli, 1, at(28, 9, month=11)),
        (t3, veli, None, None),
    ):
        CsatSurvey.objects.create(
            ticket=tk,
            agent=agent,
            email="m@example.org",
            due_at=at(1, 0),
            created_at=at(1, 0),
            score=score,
            answered_at=answered,
        )
    for key, started, first, linked in (
        ("c1", at(2, 10), at(2, 10, 0, 30), None),
        ("c2", at(3, 10), at(3, 10, 1, 30), None),
        ("c3", at(4, 10), at(4, 10, 10), None),
        ("c4", at(5, 10), None, t3),
        ("c5", at(6, 10), None, None),
        ("c6", at(30, 10, month=11), at(30, 11, month=11), None),
    ):
        ChatConversation.objects.create(
            visitor_key=key,
            started_at=started,
            last_message_at=started,
            first_agent_message_at=first,
            ticket=linked,
            assignee=veli if first else None,
        )
    return {"ali": ali, "veli": veli, "tickets": [t1, t2, t3, t4, t5, t6, t7]}  # fmt: skip


def report(**filters) -> reports.SupportReport:
    period = reports.period_from("custom", PERIOD["start"], PERIOD["end"])
    return reports.support_report(actor=Actor.system(), period=period, filters=reports.Filters(**filters))


def test_percentile_interpolates_like_percentile_cont():
    assert reports.percentile([], 0.5) is None
    assert reports.percentile([7.0], 0.9) == 7.0
    assert reports.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert reports.percentile([1.0, 2.0, 3.0, 4.0], 0.9) == pytest.approx(3.7)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PERCENTILE_CONT is PostgreSQL's")
def test_percentile_is_postgresqls_percentile_cont():
    values = [600.0, 1800.0, 3600.0, 10800.0, 42.5, 7.25, 99999.0]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v), percentile_cont(0.9) WITHIN GROUP (ORDER BY v) "
            "FROM unnest(%s::float8[]) AS v",
            [values],
        )
        median, p90 = cursor.fetchone()
    ordered = sorted(values)
    assert reports.percentile(ordered, 0.5) == pytest.approx(median, abs=1e-9)
    assert reports.percentile(ordered, 0.9) == pytest.approx(p90, abs=1e-9)


def test_volume_per_shop_day_and_channel(desk):
    found = report().volume
    assert found.totals == {"email": 2, "chat": 1, "web_form": 2} and found.total == 5
    assert [code for code, _label in found.channels] == ["email", "web_form", "chat"]
    assert found.counts[(dt.date(2026, 12, 7), "web_form")] == 1  # 01:00 Istanbul, the 6th in UTC
    assert found.series("email") == [1, 1, 0, 0, 0, 0, 0]
    assert report(channel="email").volume.totals == {"email": 2}


def test_first_response_and_resolution_medians_and_p90(desk):
    times = report().times
    # first answered in the period: 10 min, 30 min, 1 h, 3 h (t6 was answered in November)
    assert times.first_response == reports.Spread(4, 2700.0, pytest.approx(8640.0))
    assert times.first_response.median_hours == 0.75 and times.first_response.p90_hours == 2.4
    # solved in the period: 4 h, 24 h, 25 h, 168 h
    assert times.resolution.count == 4 and times.resolution.median == 24.5 * 3600
    assert times.resolution.p90 == pytest.approx((25 + 143 * 0.7) * 3600)
    assert times.resolution.p90_hours == 125.1
    ali = report(agent_id=desk["ali"].pk).times
    assert ali.first_response.median_hours == 2.0 and ali.resolution.count == 2


def test_sla_compliance(desk):
    found = report().compliance
    # created in the period with targets: t1, t2, t3, t4, t7
    assert found["first_response"] == reports.Compliance(met=2, breached=2, running=1)  # t2 flagged, t7 late
    assert found["resolution"] == reports.Compliance(met=2, breached=2, running=1)  # t3 overdue, t7 late
    assert found["first_response"].pct == 50.0
    assert report(channel="chat").compliance["resolution"] == reports.Compliance(met=0, breached=1, running=0)


def test_csat(desk):
    found = report().csat
    assert (found["answered"], found["average"], found["satisfied_pct"]) == (3, 4.0, 66.7)
    rows = {row["agent_id"]: row for row in found["by_agent"]}
    assert rows[desk["ali"].pk] | {"agent_name": ""} == {
        "agent_id": desk["ali"].pk, "agent_name": "", "answered": 2, "average": 4.0, "satisfied_pct": 50.0
    }  # fmt: skip
    assert (rows[desk["veli"].pk]["answered"], rows[desk["veli"].pk]["satisfied_pct"]) == (1, 100.0)
    ali = report(agent_id=desk["ali"].pk).csat
    assert (ali["answered"], ali["average"], ali["satisfied_pct"], len(ali["by_agent"])) == (2, 4.0, 50.0, 1)
    assert report(channel="email").csat | {"by_agent": []} == {
        "answered": 3, "average": 4.0, "satisfied_pct": 66.7, "by_agent": []
    }  # fmt: skip
    assert report(channel="chat").csat == {"answered": 0, "average": None, "satisfied_pct": None, "by_agent": []}


def test_backlog_now_and_per_day(desk):
    found = report().backlog
    rows = {status: counts for status, _label, counts in found.by_status}
    assert rows == {"new": [1, 0, 0, 0, 0], "open": [0, 0, 1, 0, 0], "pending": [0, 0, 0, 1, 0], "on_hold": [0] * 5}
    assert found.total == 3
    assert [n for _day, n in found.days] == [2, 2, 2, 3, 2, 2, 3]


def test_agent_workload(desk):
    rows = {row.name: row for row in report().workload}
    ali, veli = rows["ali"], rows["veli"]
    assert (ali.open_assigned, ali.replies, ali.solved, ali.first_response.median_hours) == (0, 2, 2, 2.0)
    assert (ali.csat_average, ali.csat_answered) == (4.0, 2)
    assert (veli.open_assigned, veli.replies, veli.solved) == (1, 1, 2)
    assert veli.first_response.median == 1200.0  # 10 and 30 minutes
    assert [row.name for row in report(agent_id=desk["ali"].pk).workload] == ["ali"]


def test_chat_wait(desk):
    chats = report().chats
    assert (chats.started, chats.wait.count, chats.unanswered, chats.waiting_now) == (5, 3, 1, 1)
    assert chats.wait.median == 90.0 and chats.wait.p90 == pytest.approx(498.0)
    assert (chats.wait.median_minutes, chats.wait.p90_minutes) == (1.5, 8.3)
    assert [n for _label, n in chats.histogram] == [1, 1, 0, 1, 0]


# ---------------------------------------------------------------- the page


def page(user, **query) -> tuple[int, str]:
    client = Client()
    client.force_login(user)
    response = client.get("/support/reports/", query)
    return response.status_code, response.content.decode()


def cells(html: str, table: str, attr: str) -> list[str]:
    body = re.search(rf'<table[^>]*id="{table}">(.*?)</table>', html, re.S).group(1)
    found = re.search(rf"<tr {attr}>(.*?)</tr>", body, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", found, re.S)]


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("support", 200), ("marketing", 200), ("analyst", 200), ("sales", 403), ("readonly", 403)],
)
def test_page_by_role(desk, make_user, role, status):
    code, html = page(make_user(role, f"{role}-person"), **PERIOD)
    assert code == status
    if status == 200:
        assert 'id="support-reports-link"' in html


def test_anonymous_is_sent_to_sign_in(desk):
    response = Client().get("/support/reports/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_page_shows_every_report_with_its_chart(desk, admin_user):
    with translation.override("en"):
        code, html = page(admin_user, **PERIOD)
    assert code == 200
    assert cells(html, "reports-volume", 'data-channel="total"') == ["Total", "5"]
    assert cells(html, "reports-times", 'data-measure="first_response"') == ["First response", "4", "0.75", "2.4"]
    assert cells(html, "reports-times", 'data-measure="resolution"') == ["Resolution", "4", "24.5", "125.1"]
    assert cells(html, "reports-sla", 'data-target="first_response"')[1:] == ["2", "2", "1", "50.0%"]
    assert cells(html, "reports-csat", 'data-agent="all"')[1:] == ["3", "4.0", "66.7%"]
    assert cells(html, "reports-backlog", 'data-status="pending"')[1:] == ["0", "0", "0", "1", "0"]
    assert cells(html, "reports-workload", f'data-agent="{desk["ali"].pk}"') == ["ali", "0", "2", "2", "2.0", "4.0"]
    assert cells(html, "reports-chat", 'data-row="chats"') == ["5", "3", "1.5", "8.3", "1", "1"]
    for name in ("volume", "times", "sla", "csat", "backlog-age", "backlog-days", "workload", "chat"):
        assert f'data-chart="reports-{name}-data"' in html and f'id="reports-{name}-data"' in html
    assert "<script>" not in html and "chart.min.js" in html  # Chart.js from Kervan's static files, no inline script


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"period": "12d"}, "period"),
        ({"period": "custom", "start": "2026-12-07", "end": "2026-12-01"}, "end"),
        ({"period": "custom", "start": "2026-13-01", "end": "2026-12-01"}, "start"),
        ({"period": "custom", "start": "2026-12-01"}, "end"),
        ({"period": "custom", "start": "2020-01-01", "end": "2026-12-01"}, "end"),
        ({"period": "7d", "channel": "fax"}, "channel"),
        ({"period": "7d", "agent": "abc"}, "agent"),
        ({"period": "7d", "agent": "99999999999999999999999"}, "agent"),
        ({"period": "custom\x00", "start": "2026-12-01\x00", "end": "x" * 500}, "end"),
    ],
)
def test_bad_input_is_a_form_error(desk, admin_user, query, field):
    with translation.override("en"):
        code, html = page(admin_user, **query)
    assert code == 400 and 'id="reports-error"' in html
    client = Client()
    client.force_login(admin_user)
    assert client.get("/support/reports/", {**query, "download": "csv"}).status_code == 400  # no CSV of a wrong period


def test_presets_end_today(desk, admin_user):
    period = reports.period_from("7d")
    assert (period.first, period.last) == (dt.date(2026, 12, 1), dt.date(2026, 12, 7))
    assert (
        report().volume.total
        == reports.support_report(actor=Actor.system(), period=period, filters=reports.Filters()).volume.total
    )
    code, html = page(admin_user)  # the default: last 30 days
    assert code == 200 and "8 Nov 2026 – 7 Dec 2026" in html


def test_csv_download(desk, admin_user):
    client = Client()
    client.force_login(admin_user)
    with translation.override("en"):
        response = client.get("/support/reports/", {**PERIOD, "download": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    assert "Tickets per day and channel" in text and "2026-12-07,0,1,0,1" in text
    assert "Agent workload" in text and "ali,0,2,2,2.0,4.0" in text
