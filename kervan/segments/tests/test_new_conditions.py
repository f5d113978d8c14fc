"""The order-window, UTM, returns, consent-ledger and prediction conditions: their meaning on hand-made data (the
hypothesis test proves SQL and Python agree; these pin what both mean), the builder's rows, and the clock."""

import datetime as dt
from decimal import Decimal

import pytest

from kervan.core import clock
from kervan.core.models import Source
from kervan.customers.models import ConsentRecord, Customer, CustomerStats
from kervan.orders.models import Order, Return
from kervan.orders.stats_rebuild import customer_totals
from kervan.predictions.models import CustomerPrediction
from kervan.predictions.models import Segment as RfmSegment
from kervan.segments import forms
from kervan.segments.compiler import compile_tree
from kervan.segments.definition import CONSENT_CHANNELS, CONSENT_PURPOSES, parse_definition, rfm_segments
from kervan.segments.freshness import crossed_edge

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def d(*conditions, match="all"):
    return {"match": match, "conditions": list(conditions)}


def matching(*conditions) -> set[int]:
    tree = parse_definition(d(*conditions), custom_fields={})
    return set(Customer.objects.active().filter(compile_tree(tree, now=NOW)).values_list("pk", flat=True))


def customer(**fields) -> Customer:
    c = Customer.objects.create(first_name="A", **fields)
    CustomerStats.objects.create(customer=c)
    return c


def order(c, days_ago, total, refunded="0", status="delivered", rate=True, **fields):
    source, _ = Source.objects.get_or_create(key="web", defaults={"name": "Web"})
    return Order.objects.create(
        source=source,
        external_id=f"{c.pk}-{Order.objects.count()}",
        customer=c,
        status=status,
        placed_at=NOW - dt.timedelta(days=days_ago),
        total=Decimal(total),
        refunded_total=Decimal(refunded),
        reporting_rate=Decimal(1) if rate else None,
        reporting_total=Decimal(total) if rate else None,
        reporting_refunded=Decimal(refunded) if rate else None,
        **fields,
    )


def test_spent_and_orders_in_a_window_count_what_customer_stats_counts():
    big, small, none = customer(), customer(), customer()
    order(big, 10, "1500.00", refunded="100.00")
    order(big, 100, "700.00")
    order(big, 200, "5000.00")  # outside 180 days
    order(big, 5, "9000.00", status="cancelled")  # never counts
    order(big, 3, "9000.00", rate=False)  # awaiting its exchange rate: not counted yet, as in CustomerStats
    order(small, 20, "100.00")
    spent = {"field": "spent", "op": "gt", "value": "2000", "within_days": 180}
    assert matching(spent) == {big.pk}  # 1400 + 700 = 2100
    assert matching({**spent, "value": "2100"}) == set()
    assert matching({"field": "spent", "op": "eq", "value": "2100", "within_days": 180}) == {big.pk}
    assert matching({"field": "orders", "op": "gte", "value": 2, "within_days": 180}) == {big.pk}
    assert matching({"field": "orders", "op": "eq", "value": 1, "within_days": 30}) == {big.pk, small.pk}
    # No order in the window is 0: "spent < 200" and "orders = 0" hold for customers who never ordered.
    assert matching({"field": "spent", "op": "lt", "value": "200", "within_days": 180}) == {small.pk, none.pk}
    assert matching({"field": "orders", "op": "eq", "value": 0, "within_days": 15}) == {small.pk, none.pk}
    assert matching({"field": "spent", "op": "gte", "value": "0"}) == {big.pk, small.pk, none.pk}
    assert matching({"field": "orders", "op": "eq", "value": "1.5"}) == set()
    # Absolute windows, like the event and "bought" ones.
    assert matching({"field": "orders", "op": "eq", "value": 3, "since": "2025-08-01"}) == {big.pk}
    assert matching({"field": "spent", "op": "eq", "value": "5000", "from": "2025-08-01", "to": "2025-08-31"}) == {
        big.pk
    }
    # Without a window: the customer's total spent as the stats recompute sums it from the same orders.
    totals = customer_totals([big.pk, small.pk])
    assert totals[big.pk].total_spent == Decimal("7100.00")
    assert matching({"field": "spent", "op": "eq", "value": str(totals[big.pk].total_spent)}) == {big.pk}
    assert matching({"field": "orders", "op": "eq", "value": totals[big.pk].order_count}) == {big.pk}


def test_utm_and_returned_anything():
    insta, google, cancelled, neither = customer(), customer(), customer(), customer()
    first = order(insta, 10, "100", utm_source="instagram", utm_medium="social", utm_campaign="spring")
    order(insta, 60, "100", utm_source="google")
    order(google, 5, "100", utm_source="google", utm_medium="cpc")
    order(cancelled, 5, "100", utm_source="instagram", status="cancelled")
    assert matching({"field": "utm_source", "op": "yes", "value": "instagram", "within_days": 30}) == {insta.pk}
    assert matching({"field": "utm_source", "op": "yes", "value": "Instagram"}) == set()  # exact, as links send it
    assert matching({"field": "utm_source", "op": "yes", "value": "google", "within_days": 30}) == {google.pk}
    assert matching({"field": "utm_medium", "op": "yes", "value": "cpc"}) == {google.pk}
    assert matching({"field": "utm_campaign", "op": "no", "value": "spring"}) == {google.pk, cancelled.pk, neither.pk}
    Return.objects.create(order=first, customer_id=insta.pk, reason="size", created_at=NOW)
    assert matching({"field": "returned_anything", "op": "is_true"}) == {insta.pk}
    assert matching({"field": "returned_anything", "op": "is_false"}) == {google.pk, cancelled.pk, neither.pk}


def test_consent_per_channel_and_purpose_reads_the_ledger_like_consent_state():
    from kervan.customers.consent_state import consent_state

    tie = customer(phone="+905321112233")
    moved = customer(email="yeni@example.com", email_key="yeni@example.com")
    push = customer(consent_push="granted")
    never = customer()

    def record(c, channel, status, minutes_ago, address="", purpose="transactional"):
        ConsentRecord.objects.create(
            customer=c,
            channel=channel,
            purpose=purpose,
            status=status,
            address=address,
            occurred_at=NOW - dt.timedelta(minutes=minutes_ago),
        )

    record(tie, "sms", "granted", 5, "+905321112233")
    record(tie, "sms", "refused", 5, "+905321112233")  # the same instant: the refusal wins
    record(moved, "email", "refused", 1, "eski@example.com")  # for an address no longer theirs
    record(moved, "email", "granted", 60, "yeni@example.com")
    record(push, "push", "refused", 30)
    record(push, "push", "granted", 10)
    sms = {"field": "consent", "channel": "sms", "purpose": "transactional", "op": "eq"}
    assert matching({**sms, "value": "refused"}) == {tie.pk}
    assert matching({**sms, "value": "granted"}) == set()
    assert matching({**sms, "value": "unknown"}) == {moved.pk, push.pk, never.pk}
    assert matching({**sms, "op": "neq", "value": "unknown"}) == {tie.pk}
    email = {"field": "consent", "channel": "email", "purpose": "transactional", "op": "eq", "value": "granted"}
    assert matching(email) == {moved.pk}
    assert matching({**email, "channel": "push"}) == {push.pk}
    for c in (tie, moved, push, never):
        for channel in ("sms", "email", "push"):
            state = consent_state(c, channel, "transactional") or "unknown"
            held = matching({**email, "channel": channel, "value": state})
            assert c.pk in held, (c, channel, state)
    # Marketing: the cached consent_<channel> columns (the ledger's marketing state for the current address).
    assert matching(
        {"field": "consent", "channel": "push", "purpose": "marketing", "op": "eq", "value": "granted"}
    ) == {push.pk}
    assert matching({"field": "consent_push", "op": "eq", "value": "granted"}) == {push.pk}
    assert matching({"field": "consent_whatsapp", "op": "eq", "value": "unknown"}) == {
        tie.pk,
        moved.pk,
        push.pk,
        never.pk,
    }


def predicted(c, **fields):
    values = {
        "p_alive": 0.8,
        "expected_orders_30": 0.1,
        "expected_orders_90": 0.3,
        "expected_orders_365": 1.2,
        "expected_order_value": Decimal("500"),
        "clv_12m": Decimal("600"),
        "churn_risk": 0.3,
        "expected_next_order_at": NOW + dt.timedelta(days=10),
        "basis": "fit",
        "rfm_r": 5,
        "rfm_f": 5,
        "rfm_m": 5,
        "rfm_segment": "champions",
        "rfm_month": dt.date(2026, 3, 1),
        "fitted_at": NOW,
        **fields,
    }
    return CustomerPrediction.objects.create(customer=c, **values)


def test_rfm_and_prediction_conditions():
    champion, lost, unpredicted = customer(), customer(), customer()
    predicted(champion)
    predicted(
        lost,
        rfm_segment="lost",
        p_alive=0.05,
        churn_risk=0.97,
        clv_12m=Decimal("0"),
        expected_orders_365=0.1,
        expected_next_order_at=None,
    )
    assert matching({"field": "rfm_segment", "op": "eq", "value": "champions"}) == {champion.pk}
    # A customer without a prediction row matches no prediction condition, negations included (like stats).
    assert matching({"field": "rfm_segment", "op": "neq", "value": "champions"}) == {lost.pk}
    assert matching({"field": "clv_12m", "op": "gt", "value": "500"}) == {champion.pk}
    assert matching({"field": "clv_12m", "op": "neq", "value": "600"}) == {lost.pk}
    assert matching({"field": "p_alive", "op": "gte", "value": "0.8"}) == {champion.pk}
    assert matching({"field": "churn_risk", "op": "between", "value": ["0.9", "1"]}) == {lost.pk}
    assert matching({"field": "expected_orders_365", "op": "gt", "value": 1}) == {champion.pk}
    assert matching({"field": "expected_next_order_at", "op": "within_next_days", "value": 14}) == {champion.pk}
    assert matching({"field": "expected_next_order_at", "op": "within_next_days", "value": 7}) == set()
    assert matching({"field": "expected_next_order_at", "op": "after", "value": "2026-03-05"}) == {champion.pk}
    assert matching({"field": "expected_next_order_at", "op": "is_not_set"}) == {lost.pk}
    assert unpredicted.pk not in matching({"field": "expected_next_order_at", "op": "is_not_set"})
    assert rfm_segments() == tuple(RfmSegment.values) and len(rfm_segments()) == 11
    assert tuple(ConsentRecord.Channel.values) == CONSENT_CHANNELS
    assert tuple(ConsentRecord.Purpose.values) == CONSENT_PURPOSES


def test_new_relative_conditions_move_with_the_clock():
    a, b = customer(), customer()
    order(a, 30, "100")  # its 30-day edge is crossed right at NOW
    order(b, 10, "100")
    for condition in (
        {"field": "spent", "op": "gt", "value": "0", "within_days": 30},
        {"field": "orders", "op": "gte", "value": 1, "within_days": 30},
        {"field": "utm_source", "op": "yes", "value": "x", "within_days": 30},
    ):
        (leaf,) = parse_definition(d(condition), custom_fields={}).children
        assert leaf.relative
        crossed = set(crossed_edge(leaf, NOW - dt.timedelta(minutes=1), NOW + dt.timedelta(minutes=1)))
        assert crossed == {a.pk}
    (absolute,) = parse_definition(d({"field": "orders", "op": "gte", "value": 1}), custom_fields={}).children
    assert not absolute.relative
    (upcoming,) = parse_definition(
        d({"field": "expected_next_order_at", "op": "within_next_days", "value": 7}), custom_fields={}
    ).children
    assert upcoming.relative and crossed_edge(upcoming, NOW, NOW + dt.timedelta(minutes=1)) is None
    with clock.frozen(NOW):
        assert matching({"field": "orders", "op": "gte", "value": 1, "within_days": 30}) == {a.pk, b.pk}


def test_the_builder_rows_for_the_new_conditions(admin_client):
    post = {
        "name": "Builder",
        "match": "all",
        "c-r1-field": "spent",
        "c-r1-op": "gt",
        "c-r1-value": "2000",
        "c-r1-days": "180",
        "c-r2-field": "consent",
        "c-r2-channel": "whatsapp",
        "c-r2-purpose": "transactional",
        "c-r2-op": "eq",
        "c-r2-value": "granted",
        "c-r3-field": "p_alive",
        "c-r3-op": "gte",
        "c-r3-value": "40%",
        "c-r4-field": "rfm_segment",
        "c-r4-op": "neq",
        "c-r4-value": "lost",
        "c-r5-field": "returned_anything",
        "c-r5-op": "is_false",
        "c-r6-field": "utm_source",
        "c-r6-op": "yes",
        "c-r6-value": "instagram",
        "c-r6-days": "30",
    }
    definition = forms.definition_from_post(post)
    assert definition["conditions"] == [
        {"field": "spent", "op": "gt", "value": "2000", "within_days": "180"},
        {"field": "consent", "op": "eq", "channel": "whatsapp", "purpose": "transactional", "value": "granted"},
        {"field": "p_alive", "op": "gte", "value": "0.4"},
        {"field": "rfm_segment", "op": "neq", "value": "lost"},
        {"field": "returned_anything", "op": "is_false"},
        {"field": "utm_source", "op": "yes", "value": "instagram", "within_days": "30"},
    ]
    parse_definition(definition, custom_fields={})  # a valid definition
    count = admin_client.post("/segments/count/", post)
    assert count.status_code == 200 and 'id="count-value">0<' in count.content.decode()
    saved = admin_client.post("/segments/new/", post)
    assert saved.status_code == 302
    page = admin_client.get(saved["Location"]).content.decode()
    assert 'name="c-' in page and 'value="whatsapp" selected' in page and 'value="transactional" selected' in page
    assert 'value="lost" selected' in page and 'value="180"' in page
    row = admin_client.get("/segments/row/", {"i": "z9", "c-z9-field": "consent"}).content.decode()
    assert 'name="c-z9-channel"' in row and 'name="c-z9-purpose"' in row and "never asked" in row
    row = admin_client.get("/segments/row/", {"i": "z9", "c-z9-field": "expected_next_order_at"}).content.decode()
    assert 'value="within_next_days"' in row
    # Dates in a window have no inputs in the rows: such a definition is edited as JSON, nothing dropped.
    assert forms.rows_from_definition(d({"field": "spent", "op": "gt", "value": 1, "from": "2026-01-01"})) is None


def test_the_api_takes_the_same_json(api):
    c = customer()
    order(c, 3, "2500", utm_source="instagram")
    definition = d(
        {"field": "spent", "op": "gt", "value": "2000", "within_days": 180},
        {"field": "orders", "op": "gte", "value": 1, "within_days": 180},
        {"field": "utm_source", "op": "yes", "value": "instagram", "within_days": 30},
    )
    with clock.frozen(NOW):
        created = api.post("/segments", {"name": "Big spenders", "definition": definition})
        assert created.status_code == 201, created.content
        assert created.json()["member_count"] == 1 and created.json()["relative"] is True
        assert api.post("/segments/preview", {"definition": definition}).json()["count"] == 1


def test_sibling_window_conditions_read_the_orders_once_and_mean_the_same():
    two, three, none = customer(), customer(), customer()
    for days in (1, 2):
        order(two, days, "1500")
    for days in (1, 2, 3):
        order(three, days, "100")
    both = [
        {"field": "orders", "op": "gte", "value": 3, "within_days": 180},
        {"field": "spent", "op": "gt", "value": "2000", "within_days": 180},
    ]
    tree = parse_definition(d(*both), custom_fields={})
    sql = str(Customer.objects.filter(compile_tree(tree, now=NOW)).query)
    assert sql.count("GROUP BY") == 1  # one sub-select with both conditions in its HAVING
    assert matching(*both) == set()
    assert set(
        Customer.objects.filter(
            compile_tree(parse_definition(d(*both, match="any"), custom_fields={}), now=NOW)
        ).values_list("pk", flat=True)
    ) == {two.pk, three.pk}
    for narrow in (False, True):  # per customer (an incremental refresh): the same members
        q = compile_tree(parse_definition(d(both[0]), custom_fields={}), now=NOW, narrow=narrow)
        assert set(Customer.objects.filter(q).values_list("pk", flat=True)) == {three.pk}
    assert none.pk in matching({"field": "orders", "op": "lt", "value": 3, "within_days": 180})
