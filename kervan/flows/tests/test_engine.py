"""The engine's rules: checked before going live, versions, holdout and uplift, each kind of step, priorities,
filters re-checked before every step, pause, merges."""

import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.db import connection

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.core.testing import LoopbackSite
from kervan.customers.actions import customer_merge, customer_tags_change
from kervan.customers.custom_fields import custom_field_define
from kervan.customers.tests.factories import make_order
from kervan.flows.actions import flow_create, flow_publish, flow_set_status, flow_update
from kervan.flows.engine import next_local_time
from kervan.flows.models import Flow, FlowRun, FlowStepLog, FlowVersion
from kervan.flows.selectors import step_counts, uplift
from kervan.flows.triggers import Entry, enroll
from kervan.messaging.actions import template_save
from kervan.messaging.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

CONTENT = {"tr": {"subject": "Merhaba {{ customer.first_name }}", "html": "<p>Merhaba! {{ flow.coupon }}</p>"}}
TRIGGER = {"type": "event", "event": "Started Checkout"}


@pytest.fixture
def template(sender):
    return template_save(actor=Actor.system(), name="Merhaba", channel="email", purpose="marketing", content=CONTENT)


def make_flow(steps: dict, *, template=None, start="s1", trigger=None, settings=None, publish=True, **kw) -> Flow:
    for step in steps.values():
        if step.get("type") == "send" and "template" not in step:
            step["template"] = template.pk
    flow = flow_create(
        actor=Actor.system(),
        name=kw.get("name", "Akış"),
        trigger=trigger or TRIGGER,
        graph={"start": start, "steps": steps},
        settings=settings or {},
        priority=kw.get("priority", 100),
    )
    if publish:
        flow_publish(actor=Actor.system(), flow=flow)
        flow.refresh_from_db()
    return flow


def enter(flow: Flow, *customers, key: str = "k") -> None:
    enroll(flow.live_version, [Entry(c.pk, f"{key}:{c.pk}", {}) for c in customers])


# --- nothing goes live that cannot run ---------------------------------------------------------------------------

BAD = [
    (
        {"s1": {"type": "wait", "hours": 1, "next": "s2"}, "s2": {"type": "exit"}, "s3": {"type": "exit"}},
        "steps.s3",
        "unreachable_step",
    ),
    (
        {
            "s1": {"type": "tag", "add": ["a"], "next": "s2"},
            "s2": {"type": "split", "kind": "random", "percent": 50, "yes": "s1", "no": "s3"},
            "s3": {"type": "exit"},
        },
        "steps.s",
        "cycle_without_wait",
    ),
    ({"s1": {"type": "send", "template": 999999, "next": None}}, "steps.s1.template", "missing_template"),
    (
        {"s1": {"type": "split", "kind": "random", "percent": 50, "yes": "s2", "no": None}, "s2": {"type": "exit"}},
        "steps.s1.no",
        "missing_branch",
    ),
]


@pytest.mark.parametrize(("steps", "field", "code"), BAD)
def test_a_flow_that_cannot_run_does_not_go_live(steps, field, code, template, shopper, tick):
    flow = make_flow(steps, template=template, publish=False)
    with pytest.raises(KervanError) as refused:
        flow_publish(actor=Actor.system(), flow=flow)
    assert refused.value.code == code
    assert refused.value.field.startswith(field)
    flow.refresh_from_db()
    assert (flow.status, flow.live_version_id) == ("draft", None)
    assert not FlowVersion.objects.exists() and not FlowRun.objects.exists()


def test_a_trigger_on_an_unknown_field_is_refused(template):
    flow = make_flow(
        {"s1": {"type": "exit"}}, trigger={"type": "date", "field": "custom:nope"}, template=template, publish=False
    )
    with pytest.raises(KervanError) as refused:
        flow_publish(actor=Actor.system(), flow=flow)
    assert (refused.value.code, refused.value.field) == ("unknown_field", "trigger.field")


def test_a_loop_through_a_wait_is_allowed(template):
    flow = make_flow(
        {
            "s1": {"type": "wait", "hours": 24, "next": "s2"},
            "s2": {"type": "split", "kind": "did", "event": "Placed Order", "yes": "s3", "no": "s1"},
            "s3": {"type": "exit"},
        },
        template=template,
    )
    assert flow.status == "live"


# --- versions ------------------------------------------------------------------------------------------------------


def test_editing_a_live_flow_does_not_move_people_already_in_it(template, shopper, tick, clock, smtp):
    flow = make_flow(
        {"s1": {"type": "wait", "hours": 2, "next": "s2"}, "s2": {"type": "send", "next": None}}, template=template
    )
    ayse = shopper(email="ayse@example.com")
    enter(flow, ayse)
    tick()
    # v2: the send is gone. Ayşe is in v1 and still gets it; Ali enters v2 and does not.
    flow_update(actor=Actor.system(), flow=flow, graph={"start": "s1", "steps": {"s1": {"type": "wait", "hours": 2}}})
    flow_publish(actor=Actor.system(), flow=flow)
    flow.refresh_from_db()
    ali = shopper(email="ali@example.com")
    enter(flow, ali)
    clock.advance(dt.timedelta(hours=3))
    tick()
    assert len(smtp.to("ayse@example.com")) == 1 and smtp.to("ali@example.com") == []
    versions = dict(FlowRun.objects.values_list("customer_id", "version__number"))
    assert versions == {ayse.pk: 1, ali.pk: 2}


# --- holdout and uplift ------------------------------------------------------------------------------------------


def test_the_holdout_receives_nothing_and_uplift_compares_the_groups(template, shopper, tick, clock, smtp):
    flow = make_flow(
        {"s1": {"type": "send", "next": None}}, template=template, settings={"holdout_percent": 50, "goal_days": 7}
    )
    people = [shopper(email=f"kisi{n}@example.com") for n in range(40)]
    enter(flow, *people)
    tick()
    runs = {r.customer_id: r for r in FlowRun.objects.filter(flow=flow)}
    held = [p for p in people if runs[p.pk].status == "holdout"]
    treated = [p for p in people if runs[p.pk].status != "holdout"]
    assert 8 <= len(held) <= 32  # a stable hash, about half
    assert {r for m in smtp.received for r in m.recipients} == {p.email for p in treated}
    # Again: the same people land in the same group (a stable hash of flow and customer).
    FlowRun.objects.filter(flow=flow).delete()
    enter(flow, *people, key="again")
    assert {r.customer_id for r in FlowRun.objects.filter(flow=flow, status="holdout")} == {p.pk for p in held}
    FlowRun.objects.filter(flow=flow).update(entered_at=clock.now())

    for person in treated[: len(treated) // 2]:
        make_order(person, placed_at=clock.now() + dt.timedelta(days=1), total_lines=((1, "100.00"),))
    make_order(held[0], placed_at=clock.now() + dt.timedelta(days=1), total_lines=((1, "100.00"),))
    assert uplift(flow)["treatment"]["people"] == 0  # the window has not closed yet: nobody counts
    clock.advance(dt.timedelta(days=8))
    report = uplift(flow)
    t, h = report["treatment"], report["holdout"]
    assert (t["people"], t["converted"]) == (len(treated), len(treated) // 2)
    assert (h["people"], h["converted"]) == (len(held), 1)
    assert t["revenue_per_person"] == pytest.approx(100 * (len(treated) // 2) / len(treated))
    diff = report["conversion"]
    assert diff["difference"] == pytest.approx(t["conversion_rate"] - h["conversion_rate"])
    assert diff["low"] < diff["difference"] < diff["high"]
    assert diff["significant"] == (diff["low"] > 0 or diff["high"] < 0)


# --- steps ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def hook():
    with LoopbackSite() as site:
        yield site


def test_webhook_notify_tag_field_and_coupon_steps(template, shopper, tick, smtp, hook):
    custom_field_define(actor=Actor.system(), key="segment_note", label="Not", field_type="text")
    flow = make_flow(
        {
            "s1": {"type": "coupon", "prefix": "HEDIYE", "next": "s2"},
            "s2": {"type": "tag", "add": ["akış"], "remove": ["yeni"], "next": "s3"},
            "s3": {"type": "field", "field": "segment_note", "value": "akıştan", "next": "s4"},
            "s4": {"type": "webhook", "url": f"{hook.url}/hook", "secret": "gizli", "next": "s5"},
            "s5": {"type": "notify", "emails": ["ekip@shop.example.com"], "message": "Yeni VIP", "next": "s6"},
            "s6": {"type": "send", "next": None},
        },
        template=template,
    )
    ayse = shopper(first_name="Ayşe", email="ayse@example.com", tags=["yeni"])
    enter(flow, ayse)
    tick()
    run = FlowRun.objects.get(flow=flow)
    assert run.status == "completed"
    code = run.context["coupon"]
    assert code.startswith("HEDIYE-")
    ayse.refresh_from_db()
    assert list(ayse.tags.values_list("name", flat=True)) == ["akış"]
    assert ayse.custom_fields["segment_note"] == "akıştan"
    [(path, headers, body)] = hook.posted
    assert path == "/hook"
    signed = headers["X-Kervan-Timestamp"].encode() + b"." + body  # kervan.core.signing, as outgoing webhooks
    expected = hmac.new(b"gizli", signed, hashlib.sha256).hexdigest()
    assert headers["X-Kervan-Signature"] == f"sha256={expected}"
    assert json.loads(body)["customer"]["id"] == ayse.pk and json.loads(body)["context"]["coupon"] == code
    assert smtp.to("ekip@shop.example.com")[0].message["Subject"].startswith("[Kervan] Akış")
    assert code in smtp.to("ayse@example.com")[0].message.get_body(("plain",)).get_content()
    outcomes = list(FlowStepLog.objects.filter(run=run).order_by("seq").values_list("step", "outcome"))
    assert outcomes == [("s1", "passed"), ("s2", "passed"), ("s3", "passed"), ("s4", "passed"), ("s5", "passed"),
                        ("s6", "sent")]  # fmt: skip


def test_wait_until_a_time_of_day_on_given_weekdays_in_the_customers_zone():
    monday_night = dt.datetime(2026, 12, 7, 20, 0, tzinfo=dt.UTC)  # 23:00 Monday in Istanbul
    # 10:00 on a Wednesday or a Friday, Istanbul time → Wednesday 9 December 07:00 UTC
    assert next_local_time(monday_night, "10:00", [2, 4], "Europe/Istanbul") == dt.datetime(
        2026, 12, 9, 7, 0, tzinfo=dt.UTC
    )
    # Any day, New York: 10:00 on Monday there is 15:00 UTC, before 20:00 → Tuesday
    assert next_local_time(monday_night, "10:00", [], "America/New_York") == dt.datetime(
        2026, 12, 8, 15, 0, tzinfo=dt.UTC
    )


def test_a_random_split_is_stable_and_near_its_share(template, shopper, tick):
    flow = make_flow(
        {
            "s1": {"type": "split", "kind": "random", "percent": 30, "yes": "s2", "no": "s3"},
            "s2": {"type": "tag", "add": ["A"], "next": None},
            "s3": {"type": "tag", "add": ["B"], "next": None},
        },
        template=template,
    )
    people = [shopper(email=f"k{n}@example.com") for n in range(100)]
    enter(flow, *people)
    tick()
    yes = FlowStepLog.objects.filter(flow=flow, step="s1", outcome="yes").count()
    assert 15 <= yes <= 45
    assert step_counts(flow)["s1"]["passed"] == 100


def test_the_flow_filters_are_checked_before_every_step(template, shopper, tick, clock, smtp):
    flow = make_flow(
        {"s1": {"type": "wait", "hours": 1, "next": "s2"}, "s2": {"type": "send", "next": None}},
        template=template,
        settings={"filters": {"match": "all", "conditions": [{"field": "tag", "op": "has", "value": "aktif"}]}},
    )
    ayse = shopper(email="ayse@example.com", tags=["aktif"])
    ali = shopper(email="ali@example.com", tags=["aktif"])
    enter(flow, ayse, ali)
    tick()
    customer_tags_change(actor=Actor.system(), customer_id=ali.pk, remove=["aktif"])
    clock.advance(dt.timedelta(hours=2))
    tick()
    assert len(smtp.to("ayse@example.com")) == 1 and smtp.to("ali@example.com") == []
    assert FlowRun.objects.get(customer=ali).exit_reason == "filters"
    assert step_counts(flow)["s1"]["exited"] == 1


def test_two_flows_on_one_day_send_only_the_higher_prioritys_message(template, shopper, tick, smtp):
    low = make_flow({"s1": {"type": "send", "next": None}}, template=template, name="Düşük", priority=50)
    high = make_flow({"s1": {"type": "send", "next": None}}, template=template, name="Yüksek", priority=10)
    ayse = shopper(email="ayse@example.com")
    enter(low, ayse)
    enter(high, ayse)
    tick()
    assert len(smtp.to("ayse@example.com")) == 1
    sent = Message.objects.get(customer=ayse)
    assert sent.origin.startswith(f"flow:{high.pk}:")
    assert FlowStepLog.objects.get(flow=low).detail == "priority"


def test_a_paused_flow_holds_its_runs_until_resumed(template, shopper, tick, clock, smtp):
    flow = make_flow({"s1": {"type": "send", "next": None}}, template=template)
    ayse = shopper(email="ayse@example.com")
    flow_set_status(actor=Actor.system(), flow=flow, status="paused")
    enter(flow, ayse)
    tick()
    assert not smtp.received
    flow_set_status(actor=Actor.system(), flow=flow, status="live")
    tick()
    assert len(smtp.to("ayse@example.com")) == 1


def test_a_merge_moves_runs_to_the_survivor_without_a_second_copy_of_one_flow(template, shopper):
    flow = make_flow({"s1": {"type": "wait", "hours": 5, "next": None}}, template=template)
    survivor = shopper(email="ayse@example.com")
    merged = shopper(email="ayse.yilmaz@example.com")
    enter(flow, survivor, merged)
    customer_merge(actor=Actor.system(), survivor=survivor, merged=merged)
    runs = list(FlowRun.objects.filter(flow=flow).values_list("customer_id", "status"))
    assert sorted(runs) == [(survivor.pk, "active"), (survivor.pk, "exited")]
    assert connection.vendor in ("sqlite", "postgresql")


@pytest.mark.parametrize(("reentry_days", "again_after_two_days"), [(1, True), (None, False)])
def test_re_entry_waits_for_the_cooldown_or_never_happens(
    reentry_days, again_after_two_days, template, shopper, tick, clock
):
    flow = make_flow({"s1": {"type": "tag", "add": ["x"], "next": None}}, template=template,
                     settings={"reentry_days": reentry_days})  # fmt: skip
    ayse = shopper(email="ayse@example.com")
    enter(flow, ayse, key="first")
    tick()
    enter(flow, ayse, key="second")  # completed, but within the cooldown (or once only)
    assert FlowRun.objects.filter(flow=flow).count() == 1
    clock.advance(dt.timedelta(days=2))
    enter(flow, ayse, key="third")
    assert FlowRun.objects.filter(flow=flow).count() == (2 if again_after_two_days else 1)
