"""Event names and properties in the UI language with readable labels (kervan.events.labels), the products and
variants a page of events names resolved in one query."""

import datetime as dt
import itertools

import pytest
from django.utils import translation

from kervan.accounts.actors import Actor
from kervan.catalog.actions import product_create
from kervan.core.models import Source
from kervan.events import labels
from kervan.events.models import CanonicalEvent, Event

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
_keys = itertools.count()


def _event(name="Viewed Product", **properties) -> Event:
    return Event(
        dedupe_key=f"label:{next(_keys)}",
        name=name,
        occurred_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        properties=properties,
    )


def _text(event: Event) -> str:
    return labels.summary(labels.describe([event])[0], limit=10)


def test_every_canonical_name_has_a_turkish_label_and_english_keeps_the_name():
    for name in CanonicalEvent.values:
        with translation.override("en"):
            assert labels.event_label(name) == name
        with translation.override("tr"):
            assert labels.event_label(name) != name, name
    with translation.override("tr"):
        assert labels.event_label("Viewed Product") == "Ürün görüntüledi"
        assert labels.event_label("Added to Cart") == "Sepete ekledi"
        assert labels.event_label("Kendi Olayımız") == "Kendi Olayımız"  # a custom name as it was sent


def test_properties_read_as_labelled_text_in_both_languages():
    product = product_create(
        actor=SYSTEM,
        title="Çaydanlık",
        variants=[{"sku": "CAY-K", "title": "Kırmızı", "price": "349.90"}, {"sku": "CAY-M", "price": "349.90"}],
    )
    red, plain = product.variants.order_by("sku")
    event = _event(product_id=product.pk, variant_id=red.pk, value="349.90", currency="TRY", shoe_size=42)
    with translation.override("en"):
        assert _text(event) == "Product: Çaydanlık · Variant: Kırmızı · Value: ₺349.90 · shoe_size: 42"
    with translation.override("tr"):
        assert _text(event) == "Ürün: Çaydanlık · Varyant: Kırmızı · Tutar: ₺349,90 · shoe_size: 42"

    with translation.override("en"):
        # A variant alone names its product too; one without a title goes by its SKU.
        assert _text(_event(variant_id=plain.pk)) == "Variant: Çaydanlık · CAY-M"
        assert _text(_event(variant_id=str(red.pk))) == "Variant: Çaydanlık · Kırmızı"  # an id sent as text
        # Ids that match nothing stay as they are; amounts keep their own currency.
        assert _text(_event(product_id=999999, total=12.5, currency="eur")) == "Product: 999999 · Total: €12.50"
        page = _event(
            "Viewed Page", url="https://shop.example/kampanya?x=1", path="/kampanya", title="Kampanya", referrer=""
        )
        assert _text(page) == "Title: Kampanya · Page: /kampanya"  # the path, not the whole address; no empty ones
        order = _event("Placed Order", order_id=7, number="#1001", value="100", items=2, paid=True)
        assert _text(order) == "Order: #1001 · Items: 2 · Value: ₺100.00 · paid: yes"
        assert _text(_event(query="kırmızı çaydanlık", filters={"renk": "kırmızı"})) == (
            'Search: kırmızı çaydanlık · filters: {"renk":"kırmızı"}'
        )
        assert _text(_event(note="x" * 100)).endswith("…") and len(_text(_event(note="x" * 100))) < 80


def test_a_storefront_id_is_matched_to_the_imported_products_external_id_first():
    shopify = Source.objects.create(key="shopify", name="Shopify", kind=Source.Kind.SHOPIFY)
    own = product_create(actor=SYSTEM, title="Kervan'ın kendi ürünü", variants=[{"sku": "K-1", "price": "1"}])
    imported = product_create(
        actor=SYSTEM,
        title="Mağazadaki ürün",
        variants=[{"sku": "S-1", "price": "1", "external_id": "v-88"}],
        source=shopify,
        external_id=str(own.pk),  # the store's own number happens to be another product's id here
    )
    with translation.override("en"):
        assert _text(_event(product_id=own.pk)) == "Product: Mağazadaki ürün"
        assert _text(_event(product_id="demo-caydanlik")) == "Product: demo-caydanlik"
        assert _text(_event(product_id=imported.pk, variant_id="v-88")) == "Product: Mağazadaki ürün · Variant: S-1"


def test_a_page_of_events_resolves_its_products_and_variants_in_one_query(django_assert_num_queries):
    products = [
        product_create(
            actor=SYSTEM, title=f"Ürün {i}", variants=[{"sku": f"U-{i}", "title": f"Beden {i}", "price": "5"}]
        )
        for i in range(20)
    ]
    events = [_event(product_id=p.pk, variant_id=p.variants.get().pk) for p in products]
    events += [_event("Viewed Page", path="/")]
    with django_assert_num_queries(1):
        described = labels.describe(events)
    assert [d[0].text for d in described[:20]] == [f"Ürün {i}" for i in range(20)]
    assert [d[1].text for d in described[:20]] == [f"Beden {i}" for i in range(20)]
    with django_assert_num_queries(0):
        labels.describe([_event("Viewed Page", path="/")])  # nothing to resolve: no query


def test_an_order_id_shows_the_orders_number(django_assert_num_queries):
    from kervan.customers.tests.factories import make_customer, make_order

    order = make_order(make_customer())
    line = _event("Ordered Product", order_id=order.pk, sku="KG-1", quantity=1)
    placed = _event("Placed Order", order_id=order.pk, number=order.number)
    with translation.override("en"), django_assert_num_queries(1):  # the orders' numbers, in one query
        assert [labels.summary(d) for d in labels.describe([line, placed])] == [
            f"SKU: KG-1 · Order: {order.number} · Quantity: 1",
            f"Order: {order.number}",
        ]
    with django_assert_num_queries(0):
        labels.describe([placed])  # the number is in the event itself
