"""The 360 timeline's events: newest first, each once across pages, whatever their names; order actions' own
events are shown through the order rows instead. (PostgreSQL reads them per name; SQLite in the one UNION.)"""

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
