"""Orders in the shop's reporting currency (issue 20): the rate of the order's day and its total converted with it,
and each refund's amount converted at its order's rate.

Backfill: orders already in the reporting currency (nearly all) get rate 1 in two set-based statements; orders in
another currency get the rate of their placed day from the exchange-rate table when it holds one (kervan.currency's
rule: the latest rate on or before the day, ten days back at most), else they stay awaiting a rate. The customers'
stats rows are labelled with the reporting currency. A shop that recorded orders in other currencies before this
should run `manage.py stats_rebuild` once after it: the totals kept until now added their amounts raw.
"""

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.db import migrations, models
from django.db.models import F
from django.utils import timezone

CENT = Decimal("0.01")
RATE = Decimal("0.00000001")
LOOKBACK = dt.timedelta(days=10)


def backfill(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    Refund = apps.get_model("orders", "Refund")
    ExchangeRate = apps.get_model("currency", "ExchangeRate")
    CustomerStats = apps.get_model("customers", "CustomerStats")
    target = settings.KERVAN_REPORTING_CURRENCY
    Order.objects.filter(currency=target).update(
        reporting_rate=Decimal(1), reporting_total=F("total"), reporting_refunded=F("refunded_total")
    )
    Refund.objects.filter(order__currency=target).update(reporting_amount=F("amount"))
    CustomerStats.objects.exclude(currency=target).update(currency=target)

    def try_per_unit(currency, day):
        if currency == "TRY":
            return Decimal(1)
        return (
            ExchangeRate.objects.filter(currency=currency, on__lte=day, on__gt=day - LOOKBACK)
            .order_by("-on")
            .values_list("try_per_unit", flat=True)
            .first()
        )

    for order in Order.objects.exclude(currency=target).iterator():
        day = timezone.localdate(order.placed_at)
        source, reporting = try_per_unit(order.currency, day), try_per_unit(target, day)
        if source is None or reporting is None:
            continue
        rate = (source / reporting).quantize(RATE, rounding=ROUND_HALF_EVEN)
        order.reporting_rate = rate
        order.reporting_total = (order.total * rate).quantize(CENT, rounding=ROUND_HALF_EVEN)
        order.reporting_refunded = (order.refunded_total * rate).quantize(CENT, rounding=ROUND_HALF_EVEN)
        order.save(update_fields=["reporting_rate", "reporting_total", "reporting_refunded"])
        before = Decimal(0)  # each refund converted as the difference of the cumulative sums (as the orders app does)
        for refund in Refund.objects.filter(order_id=order.pk).order_by("pk"):
            converted = ((before + refund.amount) * rate).quantize(CENT, rounding=ROUND_HALF_EVEN)
            refund.reporting_amount = converted - (before * rate).quantize(CENT, rounding=ROUND_HALF_EVEN)
            refund.save(update_fields=["reporting_amount"])
            before += refund.amount


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0003_order_source_required"),
        ("currency", "0001_initial"),
        ("customers", "0006_consent_address"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="reporting_rate",
            field=models.DecimalField(blank=True, decimal_places=8, max_digits=18, null=True),
        ),
        migrations.AddField(
            model_name="order",
            name="reporting_total",
            field=models.DecimalField(blank=True, decimal_places=2, default=None, max_digits=14, null=True),
        ),
        migrations.AddField(
            model_name="order",
            name="reporting_refunded",
            field=models.DecimalField(blank=True, decimal_places=2, default=None, max_digits=14, null=True),
        ),
        migrations.AddField(
            model_name="refund",
            name="reporting_amount",
            field=models.DecimalField(blank=True, decimal_places=2, default=None, max_digits=14, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
