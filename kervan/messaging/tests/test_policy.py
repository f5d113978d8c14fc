"""The policy's two forms — per customer for a worker's batch, as sets for a whole audience — give the same answer
for every mix of address, suppression, consent and cap, with a cap of one and of more."""

import datetime as dt
import itertools

import pytest

from kervan.accounts.actors import Actor
from kervan.customers.consent import consent_record
from kervan.customers.models import Customer
from kervan.customers.tests.factories import make_customer
from kervan.messaging.actions import suppression_add, template_save
from kervan.messaging.models import Message
from kervan.messaging.policy import blocked_counts, current_policy, quiet_until, with_blocked

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("cap", [1, 2])
def test_the_batch_and_the_audience_forms_agree(clock, cap):
    policy = current_policy()
    policy.email_cap = cap
    policy.save()
    template = template_save(
        actor=Actor.system(), name="t", channel="email", purpose="marketing", content={"tr": {"text": "x"}}
    )
    for n, (has_email, suppressed, consent, sent_before) in enumerate(
        itertools.product([True, False], [True, False], ["granted", "refused", ""], [0, 1, 2])
    ):
        customer = make_customer(email=f"k{n}@example.com" if has_email else "", phone=f"+90532000{n:04d}")
        if consent and has_email:
            consent_record(actor=Actor.system(), customer=customer, channel="email", status=consent)
        if suppressed and has_email:
            suppression_add(actor=Actor.system(), channel="email", address=customer.email, reason="manual")
        for k in range(sent_before):
            Message.objects.create(
                origin=f"campaign:{k}", customer=customer, channel="email", purpose="marketing", template=template,
                status="sent", sent_at=clock.now() - dt.timedelta(hours=k + 1),
            )  # fmt: skip
    now = clock.now()
    each = dict(
        with_blocked(Customer.objects.all(), channel="email", purpose="marketing", now=now).values_list("pk", "blocked")
    )
    expected: dict[str, int] = {}
    for reason in each.values():
        expected[reason] = expected.get(reason, 0) + 1
    assert blocked_counts(Customer.objects.all(), channel="email", purpose="marketing", now=now) == expected
    assert set(expected) == {"", "no_address", "suppressed", "no_consent", "capped"}


def test_quiet_hours_in_the_recipients_own_time(clock):
    policy = current_policy()  # 21:00-09:00
    istanbul_night = dt.datetime(2026, 6, 1, 20, 30, tzinfo=dt.UTC)  # 23:30 in Istanbul, 22:30 in London
    opens = quiet_until(policy, "sms", "Europe/Istanbul", istanbul_night)
    assert opens == dt.datetime(2026, 6, 2, 6, 0, tzinfo=dt.UTC)  # 09:00 in Istanbul
    assert quiet_until(policy, "sms", "America/New_York", istanbul_night) is None  # 16:30 there
    assert quiet_until(policy, "email", "Europe/Istanbul", istanbul_night) is None  # email waits in the inbox
    assert quiet_until(policy, "push", "Nowhere/Atlantis", istanbul_night) == opens  # unknown zone: the shop's
