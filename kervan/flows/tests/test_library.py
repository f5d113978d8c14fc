"""Each ready-made flow end to end with a moved clock, on the real data paths: events through the ingestion API,
orders through the order actions, stock through the catalogue's actions, messages to a real SMTP server."""

import datetime as dt
import re
from decimal import Decimal

import pytest

from kervan.accounts.actors import Actor
from kervan.catalog.actions import category_create, product_create, stock_adjust, variant_update
from kervan.catalog.models import Variant
from kervan.core.clock import frozen
from kervan.customers.tests.factories import make_order
from kervan.flows.actions import flow_publish, flow_update
from kervan.flows.library import LIBRARY, library_start
from kervan.flows.models import Flow, FlowRun
from kervan.orders.actions.orders import order_set_status

pytestmark = pytest.mark.django_db(transaction=True)


def start(key: str) -> Flow:
    """The library flow, started as a shop would, with no holdout so every entrant is messaged."""
    system = Actor.system()
    flow = library_start(actor=system, key=key, publish=False)
    flow_update(actor=system, flow=flow, settings={**flow.settings, "holdout_percent": 0})
    flow_publish(actor=system, flow=flow)
    return flow


def bodies(smtp, address: str) -> list[str]:
    return [m.message.get_body(("plain",)).get_content() for m in smtp.to(address)]


def test_every_library_flow_starts_with_one_click_and_is_live(sender):
    for entry in LIBRARY:
        flow = library_start(actor=Actor.system(), key=entry.key)
        assert flow.status == "live" and flow.live_version.number == 1, entry.key


def test_welcome_series_greets_then_gives_a_coupon_to_those_who_have_not_ordered(sender, shopper, tick, clock, smtp):
    flow = start("welcome")
    tick(scan=True)  # the scan's first look starts now: earlier profiles are not "new"
    clock.advance(dt.timedelta(minutes=1))
    shopper(first_name="Ayşe", email="ayse@example.com")
    ali = shopper(first_name="Ali", email="ali@example.com")
    tick(scan=True)
    assert [m.message["Subject"] for m in smtp.to("ayse@example.com")] == ["Hoş geldin Ayşe!"]
    make_order(ali, placed_at=clock.now())
    clock.advance(dt.timedelta(hours=73))
    tick(scan=True)
    second = bodies(smtp, "ayse@example.com")
    assert len(second) == 2 and "HOSGELDIN-" in second[1]
    assert len(smtp.to("ali@example.com")) == 1  # ordered: the split sent Ali to the exit
    assert FlowRun.objects.get(flow=flow, customer=ali).exit_reason == "exit_step"


def test_browse_abandonment_only_for_those_who_did_not_add_to_cart(sender, shopper, track, tick, clock, smtp):
    start("browse_abandonment")
    ayse = shopper(email="ayse@example.com")
    ali = shopper(email="ali@example.com")
    track("Viewed Product", ayse, product_id="p-1", name="Keten Gömlek", price=499)
    track("Viewed Product", ali, product_id="p-1", name="Keten Gömlek", price=499)
    tick()
    clock.advance(dt.timedelta(minutes=30))
    track("Added to Cart", ali, product_id="p-1", name="Keten Gömlek", price=499)
    clock.advance(dt.timedelta(hours=2))
    tick()
    assert "Keten Gömlek seni bekliyor." in bodies(smtp, "ayse@example.com")[0]
    assert smtp.to("ali@example.com") == []


def test_post_purchase_thanks_then_asks_for_a_review_three_days_after_delivery(sender, shopper, tick, clock, smtp):
    start("post_purchase")
    ayse = shopper(first_name="Ayşe", email="ayse@example.com")
    order = make_order(ayse, placed_at=clock.now())
    tick()
    assert [m.message["Subject"] for m in smtp.to("ayse@example.com")] == ["Siparişin için teşekkürler"]
    clock.advance(dt.timedelta(days=2))
    order_set_status(actor=Actor.system(), order=order, status="shipped", carrier="Yurtiçi", tracking_number="YK1")
    order_set_status(actor=Actor.system(), order=order, status="delivered")
    tick()
    clock.advance(dt.timedelta(hours=71))
    tick()
    assert len(smtp.to("ayse@example.com")) == 1  # not yet: three days after the delivery
    clock.advance(dt.timedelta(hours=2))
    tick()
    assert [m.message["Subject"] for m in smtp.to("ayse@example.com")][1] == "Ürünlerini nasıl buldun?"


def test_post_purchase_review_request_without_a_recorded_delivery(sender, shopper, tick, clock, smtp):
    start("post_purchase")
    ayse = shopper(email="ayse@example.com")
    make_order(ayse, placed_at=clock.now())
    tick()
    clock.advance(dt.timedelta(days=10, minutes=1))
    tick()
    assert len(smtp.to("ayse@example.com")) == 2


def test_birthday_at_ten_in_the_customers_own_time_zone_with_a_coupon(sender, shopper, tick, clock, smtp):
    start("birthday")
    with frozen(dt.datetime(2026, 6, 14, 21, 0, tzinfo=dt.UTC)):  # 15 June 00:00 in Istanbul
        shopper(first_name="Ayşe", email="ayse@example.com", birth_date=dt.date(1990, 6, 15))
        shopper(
            first_name="John", email="john@example.com", birth_date=dt.date(1985, 6, 15), time_zone="America/New_York"
        )
        shopper(email="other@example.com", birth_date=dt.date(1990, 6, 16))
        tick(scan=True)
        assert not smtp.received
        clock.advance(dt.timedelta(hours=10))  # 07:00 UTC: 10:00 in Istanbul, 03:00 in New York
        tick(scan=True)
        assert [m.message["Subject"] for m in smtp.to("ayse@example.com")] == ["İyi ki doğdun Ayşe!"]
        assert "DOGUMGUNU-" in bodies(smtp, "ayse@example.com")[0]
        assert smtp.to("john@example.com") == []
        clock.advance(dt.timedelta(hours=7))  # 14:00 UTC: 10:00 in New York
        tick(scan=True)
        assert len(smtp.to("john@example.com")) == 1
        assert smtp.to("other@example.com") == []
        clock.advance(dt.timedelta(hours=6))
        tick(scan=True)
        assert len(smtp.to("ayse@example.com")) == 1  # once a year


def test_back_in_stock_through_the_tracker_event_and_a_restock(sender, shopper, track, tick, smtp):
    system = Actor.system()
    product_create(actor=system, title="Deri Çanta", external_id="bag-1", variants=[{"sku": "BAG-1", "price": "1200"}])
    variant = Variant.objects.get(sku="BAG-1")
    start("back_in_stock")
    ayse = shopper(email="ayse@example.com")
    track("Subscribed to Back in Stock", ayse, product_id="bag-1")
    tick(scan=True)
    assert not smtp.received
    stock_adjust(actor=system, variant=variant, delta=5, reason="restock")
    tick(scan=True)
    assert [m.message["Subject"] for m in smtp.to("ayse@example.com")] == ["Deri Çanta yeniden stokta"]
    tick(scan=True)
    assert len(smtp.to("ayse@example.com")) == 1  # a subscription is answered once


def test_price_drop_on_a_viewed_product(sender, shopper, track, tick, clock, smtp):
    system = Actor.system()
    category = category_create(actor=system, name="Ayakkabı")
    product = product_create(
        actor=system, title="Koşu Ayakkabısı", category=category, variants=[{"sku": "RUN-1", "price": "2000"}]
    )
    variant = Variant.objects.get(sku="RUN-1")
    start("price_drop")
    ayse = shopper(email="ayse@example.com")
    ali = shopper(email="ali@example.com")
    track("Viewed Product", ayse, product_id=product.pk, price="2000")
    track("Viewed Product", ali, product_id=product.pk, price="1850")
    tick(scan=True)
    clock.advance(dt.timedelta(hours=1))
    variant_update(actor=system, variant=variant, price="1750")
    tick(scan=True)
    body = bodies(smtp, "ayse@example.com")[0]
    assert re.search(r"Koşu Ayakkabısı: 2000 →\s*1750", body)
    assert smtp.to("ali@example.com") == []  # saw it at 1850: 1750 is less than 10% off


def test_win_back_after_90_days_without_an_order(sender, shopper, tick, clock, smtp):
    flow = start("win_back")
    ayse = shopper(first_name="Ayşe", email="ayse@example.com")
    ali = shopper(email="ali@example.com")
    make_order(ayse, placed_at=clock.now() - dt.timedelta(days=89, hours=23))
    make_order(ali, placed_at=clock.now() - dt.timedelta(days=60))
    tick(scan=True)
    assert not smtp.received
    clock.advance(dt.timedelta(hours=2))
    tick(scan=True)
    assert [m.message["Subject"] for m in smtp.to("ayse@example.com")] == ["Seni özledik Ayşe"]
    clock.advance(dt.timedelta(days=3))
    make_order(ayse, placed_at=clock.now())  # came back: leaves before the coupon
    tick(scan=True)
    clock.advance(dt.timedelta(days=5))
    tick(scan=True)
    assert len(smtp.to("ayse@example.com")) == 1
    assert FlowRun.objects.get(flow=flow, customer=ayse).converted_at is not None
    assert smtp.to("ali@example.com") == []


def test_vip_when_a_customer_enters_the_champions_segment(sender, shopper, tick, clock, smtp):
    from kervan.predictions.models import CustomerPrediction
    from kervan.segments.actions import segment_rebuild
    from kervan.segments.models import Segment

    flow = start("vip")
    segment = Segment.objects.get(pk=flow.trigger["segment"])
    ayse = shopper(first_name="Ayşe", email="ayse@example.com")
    CustomerPrediction.objects.create(
        customer=ayse, p_alive=0.9, expected_orders_30=1, expected_orders_90=2, expected_orders_365=6,
        clv_12m=Decimal("5000"), churn_risk=0.1, basis="fit", rfm_r=5, rfm_f=5, rfm_m=5,
        rfm_segment="champions", rfm_month=clock.now().date().replace(day=1), fitted_at=clock.now(),
    )  # fmt: skip
    segment_rebuild(segment=segment)
    tick()
    assert [m.message["Subject"] for m in smtp.to("ayse@example.com")] == ["Artık VIP'sin"]
    assert list(ayse.tags.values_list("name", flat=True)) == ["VIP"]
