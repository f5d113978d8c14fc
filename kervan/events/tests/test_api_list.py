"""GET /api/v1/events/: filters and keyset pagination, newest first."""

import datetime as dt

import pytest

from kervan.conftest import ApiClient
from kervan.events.models import Event

BASE = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def history(zeynep):
    events = []
    for i in range(7):
        events.append(
            Event.objects.create(
                dedupe_key=f"t:{i}",
                name="Viewed Product" if i % 2 else "Added to Cart",
                occurred_at=BASE + dt.timedelta(hours=i),
                customer=zeynep if i < 5 else None,
                anonymous_id="" if i < 5 else "v-1",
                properties={"i": i},
            )
        )
    # Two events at the same instant: the id breaks the tie, so paging never skips or repeats one.
    events.append(Event.objects.create(dedupe_key="t:tie", name="Viewed Page", occurred_at=BASE, customer=zeynep))
    return events


def test_pages_cover_every_event_once_newest_first(api, history):
    expected = [e.pk for e in sorted(history, key=lambda e: (e.occurred_at, e.pk), reverse=True)]
    assert _all_pages(api, limit=3) == expected


def _all_pages(api, **params) -> list[int]:
    seen, cursor = [], None
    while True:
        body = api.get("/events/", {**params, **({"cursor": cursor} if cursor else {})}).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return seen


def test_one_customers_pages_cover_each_of_their_events_once(api, zeynep, history):
    """On PostgreSQL a customer's events are read per event name and merged: pages must still be exactly the ORM's
    order (time, then id), across names, ties and filters."""
    for i in range(6):  # more names, more ties: three events at BASE + 2h
        Event.objects.create(
            dedupe_key=f"x:{i}",
            name=("Started Checkout", "Placed Order", "Viewed Page")[i % 3],
            occurred_at=BASE + dt.timedelta(hours=2 if i < 3 else i),
            customer=zeynep,
        )
    theirs = Event.objects.filter(customer=zeynep)

    def expected(qs):
        return [e.pk for e in sorted(qs, key=lambda e: (e.occurred_at, e.pk), reverse=True)]

    assert _all_pages(api, customer_id=zeynep.pk, limit=2) == expected(theirs)
    assert _all_pages(api, customer_id=zeynep.pk, limit=1, name="Viewed Page") == expected(
        theirs.filter(name="Viewed Page")
    )
    window = {"since": "2026-03-01T13:00:00+00:00", "until": "2026-03-01T16:00:00+00:00"}
    assert _all_pages(api, customer_id=zeynep.pk, limit=2, **window) == expected(
        theirs.filter(occurred_at__gte=BASE + dt.timedelta(hours=1), occurred_at__lt=BASE + dt.timedelta(hours=4))
    )
    assert _all_pages(api, customer_id=zeynep.pk + 1000) == []
    bad = api.get("/events/", {"customer_id": zeynep.pk, "cursor": "WyJ4IiwieSJd"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"


def test_filters(api, zeynep, history):
    def ids(**params):
        return {item["properties"].get("i") for item in api.get("/events/", params).json()["items"]}

    assert ids(customer_id=zeynep.pk) == {0, 1, 2, 3, 4, None}
    assert ids(name="Viewed Product") == {1, 3, 5}
    assert ids(since="2026-03-01T15:00:00+00:00") == {3, 4, 5, 6}
    assert ids(until="2026-03-01T14:00:00+00:00") == {0, 1, None}
    assert ids(customer_id=zeynep.pk, name="Added to Cart", since="2026-03-01T13:00:00+00:00") == {2, 4}


def test_item_shape(api, zeynep, history):
    item = api.get("/events/", {"customer_id": zeynep.pk, "limit": 1}).json()["items"][0]
    assert set(item) == {
        "id",
        "name",
        "occurred_at",
        "received_at",
        "customer_id",
        "anonymous_id",
        "properties",
        "source",
    }
    assert item["customer_id"] == zeynep.pk


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1000},
        {"since": "2026-03-01T12:00:00"},
        {"since": "nope"},
        {"customer_id": "abc"},
        {"cursor": "not-a-cursor"},
        {"cursor": "WyJ4IiwieSJd"},  # ["x","y"]: decodes, but the wrong kinds of values
        {"cursor": "W3siZGVjIjoieCJ9LDFd"},  # [{"dec":"x"},1]
    ],
)
def test_bad_query_params_are_4xx(api, history, params):
    response = api.get("/events/", params)
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["code"]


def test_reading_needs_events_read(make_api_key, history):
    _, secret = make_api_key(scopes={"customers": "read"})
    assert ApiClient(secret).get("/events/").status_code == 403
    _, secret = make_api_key(scopes={"events": "read"}, name="reader")
    assert ApiClient(secret).get("/events/").status_code == 200


def test_a_huge_number_in_properties_reads_back_exactly(api, zeynep):
    # Accepted as a float; PostgreSQL's jsonb keeps it as the integer 100000000000000000000, beyond 64 bits.
    sent = {"event_id": "huge-1", "name": "Viewed Product", "customer_id": zeynep.pk, "properties": {"n": 1e20}}
    assert api.post("/events/track", {**sent, "occurred_at": BASE.isoformat()}).status_code == 202
    listed = api.get("/events/", {"customer_id": zeynep.pk})
    assert listed.status_code == 200
    assert [item["properties"]["n"] for item in listed.json()["items"]] == [1e20]
    timeline = api.get(f"/customers/{zeynep.pk}/timeline")
    assert timeline.status_code == 200 and timeline.json()["items"][0]["data"] == {"n": 1e20}
