"""SLA targets in business hours (per priority, faster for a segment), the pause while pending the customer, and
the scheduled check: breaches and "at risk" recorded once, long-pending tickets closed; round-robin assignment."""

import datetime as dt
import zoneinfo

import pytest

from kervan.accounts.actors import Actor
from kervan.core.models import AuditLog
from kervan.customers.tests.factories import make_customer
from kervan.segments.models import Segment, SegmentMembership
from kervan.support import ticket_actions as actions
from kervan.support.models import SlaPolicy, Ticket
from kervan.support.sla_check import tickets_sla_check

pytestmark = pytest.mark.django_db
IST = zoneinfo.ZoneInfo("Europe/Istanbul")


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=IST)


def new_ticket(customer=None, priority="normal", **extra) -> Ticket:
    return actions.ticket_create(
        actor=Actor.system(),
        subject="Kargom nerede?",
        body="Siparişim bir haftadır gelmedi.",
        customer=customer or make_customer(),
        priority=priority,
        **extra,
    )


def test_due_times_per_priority_in_business_hours(monday):
    normal, urgent, low = new_ticket(), new_ticket(priority="urgent"), new_ticket(priority="low")
    # Normal: 4 h first response; 27 business hours to solve: Mon 8 h, Tue 9, Wed 9, Thu 1 → Thursday 10:00
    assert str(normal.sla_policy) == "Normal"
    assert normal.first_response_due_at == at(2026, 12, 7, 14, 0)
    assert normal.resolution_due_at == at(2026, 12, 10, 10, 0)
    assert normal.first_response_warn_at == at(2026, 12, 7, 13, 12)  # 80% of 4 h used
    assert (urgent.first_response_due_at, urgent.resolution_due_at) == (at(2026, 12, 7, 11, 0), at(2026, 12, 7, 14, 0))
    # Low: 9 h first response → Tuesday 10:00 (the night does not count)
    assert low.first_response_due_at == at(2026, 12, 8, 10, 0)


def test_a_vip_segment_policy_comes_first(monday):
    vips = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC)
    SlaPolicy.objects.create(
        name="VIP normal", priority="normal", first_response_minutes=30, resolution_minutes=120, segment=vips
    )
    vip, other = make_customer(), make_customer()
    SegmentMembership.objects.create(segment=vips, customer=vip, entered_at=monday.now())
    fast, usual = new_ticket(vip), new_ticket(other)
    assert fast.sla_policy.name == "VIP normal" and str(usual.sla_policy) == "Normal"
    assert fast.first_response_due_at == at(2026, 12, 7, 10, 30) and fast.resolution_due_at == at(2026, 12, 7, 12, 0)
    # a change of priority takes the policy of the new one (the VIP has none for urgent: the general one)
    actions.ticket_set_priority(actor=Actor.system(), ticket=fast, priority="urgent")
    assert (fast.sla_policy.name, str(fast.sla_policy)) == ("", "Urgent") and fast.first_response_due_at == at(
        2026, 12, 7, 11, 0
    )


def test_the_resolution_clock_pauses_while_pending(monday):
    ticket = new_ticket()
    monday.advance(dt.timedelta(hours=1))
    actions.ticket_reply(actor=Actor.system(), ticket=ticket, body="Bakıyoruz, sipariş numaranız?", status="pending")
    assert ticket.status == "pending" and ticket.pending_since == at(2026, 12, 7, 11, 0)
    with monday.frozen(at(2026, 12, 8, 11, 0)):  # the customer answers a day later
        actions.ticket_set_status(actor=Actor.system(), ticket=ticket, status="open")
    ticket.refresh_from_db()
    # paused Mon 11:00–18:00 and Tue 09:00–11:00: 9 business hours, so Thursday 10:00 becomes Friday 10:00
    assert ticket.paused_seconds == 9 * 3600 and ticket.pending_since is None
    assert ticket.resolution_due_at == at(2026, 12, 11, 10, 0)
    assert ticket.first_response_due_at == at(2026, 12, 7, 14, 0)  # the first response was given: unchanged


def test_the_check_records_a_breach_once_with_a_moved_clock(monday):
    ticket = new_ticket()
    assert tickets_sla_check() == {
        "closed": 0,
        "breached_first_response": 0,
        "breached_resolution": 0,
        "at_risk": 0,
    }
    monday.advance(dt.timedelta(hours=3, minutes=15))  # 13:15: past 80% of the 4 h target
    assert tickets_sla_check()["at_risk"] == 1
    monday.advance(dt.timedelta(hours=1))  # 14:15: the first response is late
    done = tickets_sla_check()
    assert done["breached_first_response"] == 1 and done["at_risk"] == 0
    ticket.refresh_from_db()
    assert ticket.breached_first_response and not ticket.breached_resolution
    changes = list(
        AuditLog.objects.filter(object_type="support.ticket", object_id=str(ticket.pk)).values_list(
            "changes", flat=True
        )
    )
    assert {"sla_at_risk": [False, True]} in changes and {"breached_first_response": [False, True]} in changes
    assert tickets_sla_check()["breached_first_response"] == 0  # recorded once
    with monday.frozen(at(2026, 12, 10, 10, 1)):  # Thursday 10:01: the resolution target missed too
        assert tickets_sla_check()["breached_resolution"] == 1
    # a late reply keeps the breach; the reply time is the first response
    actions.ticket_reply(actor=Actor.system(), ticket=ticket, body="Özür dileriz.")
    assert ticket.first_responded_at == monday.now() and ticket.breached_first_response


def test_a_pending_ticket_is_neither_breached_nor_at_risk(monday):
    ticket = new_ticket(priority="urgent")
    actions.ticket_reply(actor=Actor.system(), ticket=ticket, body="Fotoğraf gönderir misiniz?", status="pending")
    with monday.frozen(at(2026, 12, 7, 17, 0)):  # past the 14:00 resolution target, but pending
        assert tickets_sla_check()["breached_resolution"] == 0
    assert not Ticket.objects.get(pk=ticket.pk).breached_resolution


@pytest.mark.parametrize("days, closed", [(6, False), (7, True)])
def test_pending_tickets_close_after_n_days(monday, settings, days, closed):
    ticket = new_ticket()
    actions.ticket_set_status(actor=Actor.system(), ticket=ticket, status="pending")
    monday.advance(dt.timedelta(days=days, minutes=1))
    assert tickets_sla_check()["closed"] == int(closed)
    ticket.refresh_from_db()
    assert ticket.status == ("closed" if closed else "pending")
    assert ticket.closed_at == (monday.now() if closed else None)
    assert ticket.solved_at == (monday.now() if closed else None)


def test_pending_close_days_is_a_setting(monday, settings):
    settings.KERVAN_TICKET_PENDING_CLOSE_DAYS = 2
    ticket = new_ticket()
    actions.ticket_set_status(actor=Actor.system(), ticket=ticket, status="pending")
    monday.advance(dt.timedelta(days=2, seconds=1))
    assert tickets_sla_check()["closed"] == 1


def test_round_robin_among_online_agents_only(monday, make_agent, make_user):
    ayse, burak = make_agent("ayse-destek", "online"), make_agent("burak-destek", "online")
    make_agent("cem-destek", "away")
    make_agent("deniz-destek")  # no presence: offline
    make_agent("pazarlama", "online", role="marketing")  # online, but not a support agent
    assignees = [new_ticket().assignee for _ in range(4)]
    assert [a.username for a in assignees] == ["ayse-destek", "burak-destek", "ayse-destek", "burak-destek"]
    burak.agent_presence.status = "offline"
    burak.agent_presence.save()
    assert new_ticket().assignee == ayse
    ayse.agent_presence.status = "away"
    ayse.agent_presence.save()
    assert new_ticket().assignee is None  # nobody online: the ticket waits in the unassigned queue


def test_a_named_assignee_wins_and_must_be_an_agent(monday, make_agent):
    make_agent("ayse-destek", "online")
    cem = make_agent("cem-destek", "away")
    assert new_ticket(assignee_id=cem.pk).assignee == cem
    marketing = make_agent("pazarlama", role="marketing")
    with pytest.raises(actions.KervanError) as refused:
        new_ticket(assignee_id=marketing.pk)
    assert (refused.value.code, refused.value.field) == ("invalid_assignee", "assignee")


def test_the_check_runs_on_its_schedule(monday, monkeypatch, django_capture_on_commit_callbacks):
    from kervan.core import schedule

    monkeypatch.setattr(schedule, "_schedules", {"tickets_sla_check": schedule._schedules["tickets_sla_check"]})
    ticket = new_ticket()
    actions.ticket_set_status(actor=Actor.system(), ticket=ticket, status="pending")
    monday.advance(dt.timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):
        assert schedule.scheduler_tick() == []  # first sight: due in five minutes
    monday.advance(dt.timedelta(minutes=5, seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert schedule.scheduler_tick() == ["tickets_sla_check"]
    assert Ticket.objects.get(pk=ticket.pk).status == "closed"
