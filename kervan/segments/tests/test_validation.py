"""Invalid definitions are refused with the path of the offending part, through the API (4xx) and the actions; nothing
is saved."""

import pytest

from kervan.core.audit import AuditLog
from kervan.customers.models import CustomFieldDefinition
from kervan.segments.models import Segment

pytestmark = pytest.mark.django_db


def d(*conditions, match="all"):
    return {"match": match, "conditions": list(conditions)}


BAD = [
    (d({"field": "favourite_colour", "op": "eq", "value": "red"}), "conditions[0].field", "unknown_field"),
    (
        d({"field": "city", "op": "eq", "value": "x"}, {"field": "city", "op": "gt", "value": "x"}),
        "conditions[1].op",
        "invalid_operator",
    ),
    (d({"field": "total_spent", "op": "gt", "value": "lots"}), "conditions[0].value", "invalid_value"),
    (d({"field": "order_count", "op": "gte", "value": True}), "conditions[0].value", "invalid_value"),
    (
        d({"field": "birth_date", "op": "between", "value": ["2000-01-01", "1990-01-01"]}),
        "conditions[0].value",
        "invalid_range",
    ),
    (d({"field": "created_at", "op": "after", "value": "31.02.2024"}), "conditions[0].value", "invalid_value"),
    (
        d(
            {
                "field": "event",
                "name": "Viewed Product",
                "op": "at_least",
                "count": 1,
                "from": "2026-05-01",
                "to": "2026-04-01",
            }
        ),
        "conditions[0].to",
        "invalid_range",
    ),
    (
        d({"field": "event", "name": "Viewed Product", "op": "at_least", "count": "many"}),
        "conditions[0].count",
        "invalid_value",
    ),
    (
        d(d({"field": "gender", "op": "eq", "value": "robot"}), match="any"),
        "conditions[0].conditions[0].value",
        "invalid_value",
    ),
    (d({"field": "segment", "op": "in", "value": 999999}), "conditions[0].value", "unknown_segment"),
    (d({"field": "custom.nope", "op": "eq", "value": "x"}), "conditions[0].field", "unknown_field"),
    ({"match": "some", "conditions": []}, "match", "invalid_definition"),
    # The order-window, UTM, returns, consent and prediction conditions.
    (d({"field": "spent", "op": "gt", "value": "lots", "within_days": 180}), "conditions[0].value", "invalid_value"),
    (
        d({"field": "orders", "op": "gte", "value": 3, "within_days": "soon"}),
        "conditions[0].within_days",
        "invalid_value",
    ),
    (
        d({"field": "orders", "op": "gte", "value": 3, "within_days": 30, "since": "2026-01-01"}),
        "conditions[0].within_days",
        "invalid_range",
    ),
    (d({"field": "spent", "op": "contains", "value": "1"}), "conditions[0].op", "invalid_operator"),
    (d({"field": "orders", "op": "gte", "value": 3, "name": "x"}), "conditions[0]", "invalid_definition"),
    (d({"field": "utm_source", "op": "yes", "value": 5}), "conditions[0].value", "invalid_value"),
    (d({"field": "utm_campaign", "op": "yes", "value": "x" * 101}), "conditions[0].value", "invalid_value"),
    (d({"field": "returned_anything", "op": "is_true", "value": "x"}), "conditions[0].value", "invalid_value"),
    (d({"field": "returned_anything", "op": "eq"}), "conditions[0].op", "invalid_operator"),
    (
        d({"field": "consent", "channel": "fax", "purpose": "marketing", "op": "eq", "value": "granted"}),
        "conditions[0].channel",
        "invalid_value",
    ),
    (
        d({"field": "consent", "channel": "sms", "purpose": "sales", "op": "eq", "value": "granted"}),
        "conditions[0].purpose",
        "invalid_value",
    ),
    (
        d({"field": "consent", "channel": "sms", "purpose": "transactional", "op": "eq", "value": "yes"}),
        "conditions[0].value",
        "invalid_value",
    ),
    (d({"field": "consent_whatsapp", "op": "eq", "value": "maybe"}), "conditions[0].value", "invalid_value"),
    (d({"field": "rfm_segment", "op": "eq", "value": "vip"}), "conditions[0].value", "invalid_value"),
    (d({"field": "p_alive", "op": "gt", "value": "high"}), "conditions[0].value", "invalid_value"),
    (d({"field": "clv_12m", "op": "gt", "value": [1, 2]}), "conditions[0].value", "invalid_value"),
    (
        d({"field": "expected_next_order_at", "op": "within_next_days", "value": "soon"}),
        "conditions[0].value",
        "invalid_value",
    ),
    (
        d({"field": "expected_next_order_at", "op": "within_last_days", "value": 3}),
        "conditions[0].op",
        "invalid_operator",
    ),
]


@pytest.mark.parametrize(("definition", "path", "code"), BAD)
def test_api_refuses_an_invalid_definition_with_its_path_and_saves_nothing(api, definition, path, code):
    before = (Segment.objects.count(), AuditLog.objects.count())
    response = api.post("/segments", {"name": "Bad", "definition": definition})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == code
    assert body["field"] == path
    assert path in body["detail"]
    assert (Segment.objects.count(), AuditLog.objects.count()) == before
    preview = api.post("/segments/preview", {"definition": definition})
    assert preview.status_code == 400 and preview.json()["field"] == path


def test_a_cycle_between_segments_is_refused_and_changes_nothing(api):
    a = api.post("/segments", {"name": "A", "definition": d({"field": "city", "op": "eq", "value": "Ankara"})}).json()
    b = api.post("/segments", {"name": "B", "definition": d({"field": "segment", "op": "in", "value": a["id"]})}).json()
    response = api.patch(f"/segments/{a['id']}", {"definition": d({"field": "segment", "op": "in", "value": b["id"]})})
    assert response.status_code == 400
    assert response.json()["code"] == "segment_cycle"
    assert response.json()["field"] == "conditions[0].value"
    assert Segment.objects.get(pk=a["id"]).definition == d({"field": "city", "op": "eq", "value": "Ankara"})
    self_ref = api.patch(f"/segments/{a['id']}", {"definition": d({"field": "segment", "op": "in", "value": a["id"]})})
    assert self_ref.json()["code"] == "segment_cycle"


def test_custom_field_types_are_checked(api):
    CustomFieldDefinition.objects.create(key="shoe_size", label="Shoe size", field_type="number")
    ok = api.post("/segments/preview", {"definition": d({"field": "custom.shoe_size", "op": "gte", "value": 40})})
    assert ok.status_code == 200
    bad = api.post(
        "/segments/preview", {"definition": d({"field": "custom.shoe_size", "op": "contains", "value": "4"})}
    )
    assert bad.status_code == 400 and bad.json()["field"] == "conditions[0].op"


def test_odd_input_is_a_4xx_never_a_500(api):
    odd = [
        {"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "a\x00b"}]},
        {"match": "all", "conditions": "nope"},
        {"match": "all", "conditions": [[1, 2]]},
        {"match": "all", "conditions": [{"field": "event", "name": "x" * 200}]},
        {
            "match": "all",
            "conditions": [{"field": "event", "name": "V", "where": [{"property": "a;drop", "value": 1}]}],
        },
        {"match": "all", "conditions": [{"field": "total_spent", "op": "gt", "value": "1e400"}]},
        {"match": "all", "conditions": [{"field": "last_order_at", "op": "within_last_days", "value": 10**9}]},
    ]
    for definition in odd:
        response = api.post("/segments/preview", {"definition": definition})
        assert response.status_code == 400, (definition, response.content)
        assert response.json()["field"]
