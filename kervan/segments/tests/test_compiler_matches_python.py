"""The compiled query and the plain Python evaluation agree on random data and random definitions (SQLite, and
PostgreSQL with DATABASE_URL=postgres://…/kervan_segments)."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kervan.catalog.models import Category, Product, Variant
from kervan.core import clock
from kervan.core.models import Source
from kervan.core.text import search_fold
from kervan.customers.models import ConsentRecord, Customer, CustomerStats, CustomFieldDefinition, Tag
from kervan.events.models import Event
from kervan.orders.models import Order, OrderLine, Return
from kervan.predictions.models import CustomerPrediction
from kervan.segments.compiler import compile_tree
from kervan.segments.definition import parse_definition
from kervan.segments.evaluator import evaluate, load_rows
from kervan.segments.models import Segment, SegmentMembership

NOW = dt.datetime(2026, 6, 15, 9, 30, tzinfo=dt.UTC)
CITIES = ["İstanbul", "istanbul", "ISTANBUL", "Izmir", "İzmir", "ızmir", "Ankara", "Iğdır", ""]
NAMES = ["Ayşe", "AYŞE", "Işık", "ışık", "Ali", "Çağla", ""]
EVENT_NAMES = ["Viewed Product", "Added to Cart"]
CATEGORIES = ["Ayakkabı", "Çanta"]
CUSTOM = {"shoe_size": "number", "segment_note": "text", "is_vip": "boolean", "since": "date"}

days = st.integers(min_value=0, max_value=400)


@st.composite
def customer_data(draw):
    return {
        "city": draw(st.sampled_from(CITIES)),
        "first_name": draw(st.sampled_from(NAMES)),
        "gender": draw(st.sampled_from(["female", "male", "other", ""])),
        "language": draw(st.sampled_from(["tr", "en"])),
        "consent_email": draw(st.sampled_from(["granted", "refused", ""])),
        "consent_sms": draw(st.sampled_from(["granted", "refused", ""])),
        "consent_whatsapp": draw(st.sampled_from(["granted", "refused", ""])),
        "email": draw(st.sampled_from(["", "a@example.com"])),
        "phone": draw(st.sampled_from(["", "+905551112233"])),
        "birth_date": draw(st.one_of(st.none(), st.dates(dt.date(1960, 1, 1), dt.date(2010, 1, 1)))),
        "created_days": draw(days),
        "custom": draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "shoe_size": st.sampled_from([36, 38, 40, 42, 40.5]),
                    "segment_note": st.sampled_from(["a", "b"]),
                    "is_vip": st.booleans(),
                    "since": st.sampled_from(["2025-01-01", "2026-06-01", "2026-06-14"]),
                },
            )
        ),
        "stats": draw(
            st.one_of(
                st.none(),
                st.tuples(
                    st.sampled_from(["0", "500", "2000", "2000.01", "9999.99"]),
                    st.integers(0, 6),
                    st.one_of(st.none(), days),
                    st.integers(0, 2),
                ),
            )
        ),
        "tags": draw(st.sets(st.sampled_from(["vip", "personel"]))),
        "events": draw(
            st.lists(
                st.tuples(
                    st.sampled_from(EVENT_NAMES),
                    st.integers(0, 60 * 24),  # hours ago
                    st.sampled_from(CATEGORIES + [None]),
                ),
                max_size=5,
            )
        ),
        "orders": draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["web", "pos", "marketplace"]),
                    days,
                    st.sampled_from(["placed", "delivered", "cancelled"]),
                    st.sampled_from([0, 1, None]),  # product index
                    # reporting total, refunded (None: awaiting its exchange rate): sums on a cent's edge
                    st.sampled_from([("1000.50", "0"), ("999.51", "0.01"), ("0.10", "0"), ("0.20", "0.10"), None]),
                    st.sampled_from(["", "instagram", "google"]),  # utm_source (medium, campaign derived)
                ),
                max_size=4,
            )
        ),
        "returns": draw(st.integers(0, 2)),  # on the customer's first order, if any
        # (channel, purpose, status, minutes ago: ties on purpose, address: the customer's own or another)
        "consents": draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["email", "sms", "push"]),
                    st.sampled_from(["transactional", "marketing"]),
                    st.sampled_from(["granted", "refused"]),
                    st.sampled_from([0, 10, 10, 60]),
                    st.sampled_from(["own", "own", "other"]),
                ),
                max_size=4,
            )
        ),
        "prediction": draw(
            st.one_of(
                st.none(),
                st.tuples(
                    st.sampled_from(["champions", "at_risk", "lost"]),
                    st.sampled_from(["0", "150.50", "2000"]),
                    st.sampled_from([0.0, 0.1, 0.5, 0.93]),
                    st.sampled_from([0.0, 1.5, 3.0]),
                    st.one_of(st.none(), st.integers(-5, 40)),  # next order in … days
                ),
            )
        ),
        "in_segment": draw(st.booleans()),
    }


def leaf_strategy():
    date_value = st.sampled_from(["2026-01-01", "2026-06-10", "2000-01-01", "1985-05-05"])
    rel = st.integers(0, 200)

    def date_leaf(field):
        return st.one_of(
            st.builds(
                lambda op, v: {"field": field, "op": op, "value": v},
                st.sampled_from(["before", "after", "on"]),
                date_value,
            ),
            st.builds(
                lambda op, v: {"field": field, "op": op, "value": v},
                st.sampled_from(["within_last_days", "more_than_days_ago"]),
                rel,
            ),
            st.builds(lambda a, b: {"field": field, "op": "between", "value": sorted([a, b])}, date_value, date_value),
            st.builds(lambda op: {"field": field, "op": op}, st.sampled_from(["is_set", "is_not_set"])),
        )

    number = st.sampled_from(["0", "500", "2000", "3", 1, 2])
    num_ops = st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte"])
    window = st.one_of(
        st.just({}),
        st.builds(lambda d: {"within_days": d}, st.integers(1, 90)),
        st.builds(lambda a: {"from": a}, date_value),
        st.builds(lambda a, b: {"from": min(a, b), "to": max(a, b)}, date_value, date_value),
    )
    return st.one_of(
        st.builds(
            lambda f, op, v: {"field": f, "op": op, "value": v},
            st.sampled_from(["city", "first_name"]),
            st.sampled_from(["eq", "neq", "contains", "starts_with"]),
            st.sampled_from(["istanbul", "İZMİR", "ış", "I", "ayse", "Ankara"]),
        ),
        st.builds(
            lambda f, op: {"field": f, "op": op},
            st.sampled_from(["city", "first_name"]),
            st.sampled_from(["is_set", "is_not_set"]),
        ),
        st.builds(
            lambda v: {"field": "search", "op": "contains", "value": v},
            st.sampled_from(["ışık", "ISTANBUL ayşe", "izmir"]),
        ),
        st.builds(
            lambda op, v: {"field": "gender", "op": op, "value": v},
            st.sampled_from(["eq", "neq"]),
            st.sampled_from(["female", "unknown"]),
        ),
        st.builds(
            lambda f, op, v: {"field": f, "op": op, "value": v},
            st.sampled_from(["consent_email", "consent_sms"]),
            st.sampled_from(["eq", "neq"]),
            st.sampled_from(["granted", "refused", "unknown"]),
        ),
        st.builds(
            lambda op, v: {"field": "language", "op": op, "value": v},
            st.sampled_from(["eq", "neq"]),
            st.sampled_from(["tr", "en"]),
        ),
        st.builds(
            lambda f, op: {"field": f, "op": op},
            st.sampled_from(["has_email", "has_phone"]),
            st.sampled_from(["is_true", "is_false"]),
        ),
        date_leaf("birth_date"),
        date_leaf("created_at"),
        date_leaf("last_order_at"),
        date_leaf("first_order_at"),
        st.builds(
            lambda f, op, v: {"field": f, "op": op, "value": v},
            st.sampled_from(["total_spent", "order_count", "average_order_value", "returns_count"]),
            num_ops,
            number,
        ),
        st.builds(
            lambda a, b: {"field": "total_spent", "op": "between", "value": sorted([a, b])},
            st.integers(0, 3000),
            st.integers(0, 3000),
        ),
        st.builds(
            lambda op, v: {"field": "tag", "op": op, "value": v},
            st.sampled_from(["has", "has_not"]),
            st.sampled_from(["vip", "personel", "yok"]),
        ),
        st.builds(
            lambda op, v: {"field": "custom.shoe_size", "op": op, "value": v},
            num_ops,
            st.sampled_from([38, 40, "40.5"]),
        ),
        st.builds(lambda op: {"field": "custom.shoe_size", "op": op}, st.sampled_from(["is_set", "is_not_set"])),
        st.builds(
            lambda op, v: {"field": "custom.segment_note", "op": op, "value": v},
            st.sampled_from(["eq", "neq"]),
            st.sampled_from(["a", "b"]),
        ),
        st.builds(lambda op: {"field": "custom.is_vip", "op": op}, st.sampled_from(["is_true", "is_false", "is_set"])),
        st.builds(
            lambda op, v: {"field": "custom.since", "op": op, "value": v},
            st.sampled_from(["before", "after", "on", "within_last_days"]),
            st.sampled_from(["2026-06-01", 10]),
        ).filter(lambda c: (c["op"] == "within_last_days") == isinstance(c["value"], int)),
        st.builds(
            lambda name, op, count, w, where: {
                "field": "event",
                "name": name,
                "op": op,
                **({"count": count} if op != "none" else {}),
                **w,
                "where": where,
            },
            st.sampled_from(EVENT_NAMES),
            st.sampled_from(["at_least", "at_most", "none"]),
            st.integers(1, 3),
            window,
            st.one_of(
                st.just([]), st.builds(lambda c: [{"property": "category", "value": c}], st.sampled_from(CATEGORIES))
            ),
        ),
        st.builds(
            lambda f, op, w: {"field": f, "op": op, "value": "PRODUCT" if f == "bought_product" else "CATEGORY", **w},
            st.sampled_from(["bought_product", "bought_category"]),
            st.sampled_from(["yes", "no"]),
            window,
        ),
        st.builds(
            lambda op, v, w: {"field": "sales_channel", "op": op, "value": v, **w},
            st.sampled_from(["yes", "no"]),
            st.sampled_from(["web", "pos"]),
            window,
        ),
        st.builds(lambda op: {"field": "segment", "op": op, "value": "SEGMENT"}, st.sampled_from(["in", "not_in"])),
        st.builds(
            lambda f, op, v, w: {"field": f, "op": op, "value": v, **w},
            st.sampled_from(["spent", "orders"]),
            st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte"]),
            st.sampled_from(["0", "0.1", "0.2", "1000.5", "1000.6", "2000.01", 1, 2, "1.5", "999.52"]),
            window,
        ),
        st.builds(
            lambda f, a, b, w: {"field": f, "op": "between", "value": sorted([a, b]), **w},
            st.sampled_from(["spent", "orders"]),
            st.sampled_from([0, 1, 2, 1000]),
            st.sampled_from([0, 1, 2, 2000]),
            window,
        ),
        st.builds(
            lambda f, op, v, w: {"field": f, "op": op, "value": v, **w},
            st.sampled_from(["utm_source", "utm_medium", "utm_campaign"]),
            st.sampled_from(["yes", "no"]),
            st.sampled_from(["instagram", "google", "cpc", "summer"]),
            window,
        ),
        st.builds(lambda op: {"field": "returned_anything", "op": op}, st.sampled_from(["is_true", "is_false"])),
        st.builds(
            lambda ch, pu, op, v: {"field": "consent", "channel": ch, "purpose": pu, "op": op, "value": v},
            st.sampled_from(["email", "sms", "push", "whatsapp"]),
            st.sampled_from(["transactional", "marketing"]),
            st.sampled_from(["eq", "neq"]),
            st.sampled_from(["granted", "refused", "unknown"]),
        ),
        st.builds(
            lambda op, v: {"field": "consent_whatsapp", "op": op, "value": v},
            st.sampled_from(["eq", "neq"]),
            st.sampled_from(["granted", "refused", "unknown"]),
        ),
        st.builds(
            lambda op, v: {"field": "rfm_segment", "op": op, "value": v},
            st.sampled_from(["eq", "neq"]),
            st.sampled_from(["champions", "lost", "new"]),
        ),
        st.builds(
            lambda f, op, v: {"field": f, "op": op, "value": v},
            st.sampled_from(["clv_12m", "p_alive", "churn_risk", "expected_orders_365"]),
            num_ops,
            st.sampled_from(["0", "0.1", "0.5", "1.5", "150.5", "2000", 3]),
        ),
        st.builds(
            lambda f, a, b: {"field": f, "op": "between", "value": sorted([a, b])},
            st.sampled_from(["p_alive", "churn_risk", "expected_orders_365", "clv_12m"]),
            st.sampled_from(["0", "0.1", "0.5", "1.5"]),
            st.sampled_from(["0.5", "0.93", "3", "2000"]),
        ),
        st.one_of(
            st.builds(
                lambda op, v: {"field": "expected_next_order_at", "op": op, "value": v},
                st.sampled_from(["before", "after", "on"]),
                st.sampled_from(["2026-06-10", "2026-06-15", "2026-07-01"]),
            ),
            st.builds(
                lambda v: {"field": "expected_next_order_at", "op": "within_next_days", "value": v},
                st.sampled_from([0, 1, 7, 30]),
            ),
            st.builds(
                lambda op: {"field": "expected_next_order_at", "op": op}, st.sampled_from(["is_set", "is_not_set"])
            ),
        ),
    )


definitions = st.recursive(
    st.builds(
        lambda m, c: {"match": m, "conditions": c},
        st.sampled_from(["all", "any"]),
        st.lists(leaf_strategy(), max_size=3),
    ),
    lambda children: st.builds(
        lambda m, c: {"match": m, "conditions": c},
        st.sampled_from(["all", "any"]),
        st.lists(st.one_of(children, leaf_strategy()), max_size=3),
    ),
    max_leaves=6,
)


def _fill(value, refs):
    if isinstance(value, dict):
        return {k: _fill(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, refs) for v in value]
    return refs.get(value, value) if isinstance(value, str) else value


def _load(customers):
    Event.objects.all().delete()
    Return.objects.all().delete()
    ConsentRecord.objects.all().delete()
    CustomerPrediction.objects.all().delete()
    OrderLine.objects.all().delete()
    Order.objects.all().delete()
    SegmentMembership.objects.all().delete()
    Customer.tags.through.objects.all().delete()
    CustomerStats.objects.all().delete()
    Customer.objects.all().delete()
    source, _ = Source.objects.get_or_create(key="test", defaults={"name": "Test"})
    category, _ = Category.objects.get_or_create(slug="ayakkabi", defaults={"name": "Ayakkabı"})
    products = []
    for i in range(2):
        product, _ = Product.objects.get_or_create(title=f"P{i}", defaults={"category": category if i == 0 else None})
        variant, _ = Variant.objects.get_or_create(sku=f"SKU{i}", defaults={"product": product})
        products.append(variant)
    segment, _ = Segment.objects.get_or_create(name="Other", kind="static")
    tags = {name: Tag.objects.get_or_create(name=name)[0] for name in ("vip", "personel")}
    for n, data in enumerate(customers):
        c = Customer.objects.create(
            first_name=data["first_name"],
            city=data["city"],
            gender=data["gender"],
            language=data["language"],
            consent_email=data["consent_email"],
            consent_sms=data["consent_sms"],
            consent_whatsapp=data["consent_whatsapp"],
            email=data["email"],
            email_key=data["email"],
            phone=data["phone"],
            birth_date=data["birth_date"],
            custom_fields=data["custom"],
            search_key=search_fold(" ".join([data["first_name"], data["email"], data["city"]])),
        )
        Customer.objects.filter(pk=c.pk).update(created_at=NOW - dt.timedelta(days=data["created_days"], hours=n))
        if data["stats"] is not None:
            spent, count, last_days, returns = data["stats"]
            last = NOW - dt.timedelta(days=last_days, minutes=n) if last_days is not None else None
            CustomerStats.objects.create(
                customer=c,
                total_spent=Decimal(spent),
                order_count=count,
                average_order_value=(Decimal(spent) / count).quantize(Decimal("0.01")) if count else 0,
                first_order_at=last - dt.timedelta(days=30) if last else None,
                last_order_at=last,
                returns_count=returns,
            )
        c.tags.add(*[tags[t] for t in data["tags"]])
        for i, (name, hours, cat) in enumerate(data["events"]):
            Event.objects.create(
                dedupe_key=f"e{c.pk}-{i}",
                customer=c,
                name=name,
                occurred_at=NOW - dt.timedelta(hours=hours, seconds=n),
                properties={"category": cat, "price": 10} if cat else {},
            )
        for i, (channel, ago, status, product, amounts, utm) in enumerate(data["orders"]):
            order = Order.objects.create(
                source=source,
                external_id=f"o{c.pk}-{i}",
                customer=c,
                status=status,
                sales_channel=channel,
                placed_at=NOW - dt.timedelta(days=ago, hours=n),
                reporting_rate=Decimal(1) if amounts else None,
                reporting_total=Decimal(amounts[0]) if amounts else None,
                reporting_refunded=Decimal(amounts[1]) if amounts else None,
                utm_source=utm,
                utm_medium="cpc" if utm == "google" else "",
                utm_campaign="summer" if utm and i % 2 else "",
            )
            if product is not None:
                OrderLine.objects.create(order=order, variant=products[product], title="x", quantity=1)
            for _r in range(data["returns"] if i == 0 else 0):
                Return.objects.create(order=order, customer_id=c.pk, reason="other", created_at=NOW)
        for channel, purpose, status, minutes, whose in data["consents"]:
            own = c.email_key if channel == "email" else c.phone if channel == "sms" else ""
            ConsentRecord.objects.create(
                customer=c,
                channel=channel,
                purpose=purpose,
                status=status,
                occurred_at=NOW - dt.timedelta(minutes=minutes),
                address=own if whose == "own" or channel == "push" else "someone@example.com",
            )
        if data["prediction"] is not None:
            segment_name, clv, p_alive, expected, next_days = data["prediction"]
            CustomerPrediction.objects.create(
                customer=c,
                p_alive=p_alive,
                expected_orders_30=0,
                expected_orders_90=0,
                expected_orders_365=expected,
                expected_order_value=0,
                clv_12m=Decimal(clv),
                churn_risk=1 - p_alive,
                expected_next_order_at=NOW + dt.timedelta(days=next_days, hours=n) if next_days is not None else None,
                basis="fit",
                rfm_r=1,
                rfm_f=1,
                rfm_m=1,
                rfm_segment=segment_name,
                rfm_month=NOW.date().replace(day=1),
                fitted_at=NOW,
            )
        if data["in_segment"]:
            SegmentMembership.objects.create(segment=segment, customer=c, entered_at=NOW)
    return {"PRODUCT": products[0].product_id, "CATEGORY": category.pk, "SEGMENT": segment.pk}


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(customers=st.lists(customer_data(), min_size=1, max_size=8), definition=definitions)
def test_compiled_query_matches_python_evaluation(customers, definition):
    for key, type_ in CUSTOM.items():
        CustomFieldDefinition.objects.get_or_create(key=key, defaults={"label": key, "field_type": type_})
    with clock.frozen(NOW):
        refs = _load(customers)
        definition = _fill(definition, refs)
        tree = parse_definition(definition, custom_fields=CUSTOM)
        compiled = set(Customer.objects.active().filter(compile_tree(tree)).values_list("pk", flat=True))
        # The form for a few customers (an incremental refresh) means the same.
        narrow = set(Customer.objects.active().filter(compile_tree(tree, narrow=True)).values_list("pk", flat=True))
        python = {row.pk for row in load_rows() if evaluate(tree, row, NOW)}
    assert compiled == python, definition
    assert narrow == python, definition
