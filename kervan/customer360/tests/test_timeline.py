"""The 360 timeline's events: newest first, each once across pages, whatever their names; order actions' own
events are shown through the order rows instead. (PostgreSQL reads them per name; SQLite in the one UNION.)"""

import dataclasses
import datetime as dt

import pytest

from kervan.customer360.timeline import customer_timeline
from kervan.customers.tests.factories import make_customer
from kervan.events.models import Event

pytestmark = pytest.mark.django_db
BASE = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
NAMES = ["Viewed Page", "Viewed Product", "Added to Cart", "Started Checkout", "Custom Thing"]


def test_events_of_many_names_page_newest_first_exactly_once(system_actor):
    customer, other = make_customer(), make_customer()
    events = [
        Event.objects.create(
            dedupe_key=f"tl:{i}",
            name=NAMES[i % len(NAMES)],
            occurred_at=BASE + dt.timedelta(minutes=(i * 7) % 13),  # interleaved names, many equal times
            customer=customer,
        )
        for i in range(40)
    ]
    Event.objects.create(dedupe_key="order:9:placed", name="Placed Order", occurred_at=BASE, customer=customer)
    Event.objects.create(dedupe_key="tl:other", name="Viewed Page", occurred_at=BASE, customer=other)
    expected = [e.pk for e in sorted(events, key=lambda e: (e.occurred_at, e.pk), reverse=True)]

    for kinds in (["event"], None):
        seen, cursor = [], None
        while True:
            items, cursor = customer_timeline(
                actor=system_actor, customer_id=customer.pk, kinds=kinds, cursor=cursor, limit=6
            )
            seen += [item.id for item in items if item.kind == "event"]
            if not cursor:
                break
        assert seen == expected


def test_every_timeline_kind_and_permission_area_has_a_turkish_name():
    from django.utils import translation

    from kervan.accounts.permissions import areas
    from kervan.customers.registry import timeline_sources

    labels = [s.label for s in timeline_sources()] + [a.label for a in areas()]
    with translation.override("en"):
        english = [str(label) for label in labels]
    with translation.override("tr"):
        turkish = [str(label) for label in labels]
    untranslated = [e for e, t in zip(english, turkish, strict=True) if e == t]
    assert untranslated == []


def test_a_key_sees_only_the_timeline_kinds_of_areas_it_may_read(make_api_key):
    from kervan.accounts.actors import Actor
    from kervan.conftest import ApiClient
    from kervan.customers.actions import note_add
    from kervan.customers.tests.factories import make_order

    customer = make_customer()
    make_order(customer)
    note_add(actor=Actor.system(), customer=customer, body="Called back")
    Event.objects.create(dedupe_key="tl:seen", name="Viewed Page", occurred_at=BASE, customer=customer)
    everything = ApiClient(make_api_key()[1])
    customers_only = ApiClient(make_api_key({"customers": "read"})[1])

    kinds = lambda client, **q: {i["kind"] for i in client.get(f"/customers/{customer.pk}/timeline", q).json()["items"]}  # noqa: E731
    assert kinds(everything) == {"note", "order", "event"}
    assert kinds(customers_only) == {"note"}  # no orders or events read access: neither shown
    refused = customers_only.get(f"/customers/{customer.pk}/timeline", {"kinds": "order"})
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_kind"
    assert ApiClient(make_api_key({"orders": "read"})[1]).get(f"/customers/{customer.pk}/timeline").status_code == 403


def test_two_timeline_kinds_cannot_share_a_position(monkeypatch):
    from kervan.customers import registry

    monkeypatch.setattr(registry._registry, "timeline", dict(registry._registry.timeline))
    taken = next(iter(registry._registry.timeline.values()))
    clash = dataclasses.replace(taken, kind="clashing_kind")
    with pytest.raises(ValueError, match=f"position {taken.position} is taken by '{taken.kind}'"):
        registry.register_timeline_source(clash)
    assert "clashing_kind" not in registry._registry.timeline
    registry.register_timeline_source(dataclasses.replace(taken, kind="clashing_kind", position=10_000))
    assert registry._registry.timeline["clashing_kind"].position == 10_000
