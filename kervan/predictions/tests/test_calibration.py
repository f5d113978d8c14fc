"""The calibration/holdout report: on orders generated the way BG/NBD assumes customers buy, the model fitted on the
calibration period predicts the holdout's orders (totals and per group); a small shop is told plainly what history
it lacks. Runs on SQLite and on PostgreSQL (DATABASE_URL)."""

import datetime as dt
import zoneinfo
from decimal import Decimal
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from kervan.accounts.models import User
from kervan.accounts.permissions import Role
from kervan.accounts.testing import login_client
from kervan.core.sources import manual_source
from kervan.customers.models import Customer
from kervan.customers.tests.factories import make_customer, make_order
from kervan.orders.models import Order
from kervan.predictions.calibration import calibration_report, holdout_days_for
from kervan.predictions.models import CalibrationReport

pytestmark = pytest.mark.django_db
IST = zoneinfo.ZoneInfo("Europe/Istanbul")
NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=IST)
# BG/NBD in days: purchase rates λ ~ Gamma(r, 1/α), dropout after each repeat purchase p ~ Beta(a, b).
R, ALPHA, A, B = 0.8, 40.0, 0.7, 3.0
CUSTOMERS = 3000


@pytest.fixture
def at_now(clock):
    with clock.frozen(NOW):
        yield clock


def _bgnbd_shop() -> None:
    """CUSTOMERS customers who joined over the first year of two, buying as BG/NBD says."""
    rng = np.random.default_rng(18)
    customers = Customer.objects.bulk_create([Customer(first_name=f"M{i}") for i in range(CUSTOMERS)])
    source = manual_source()
    orders = []
    for customer in customers:
        rate = rng.gamma(R, 1 / ALPHA)
        p = rng.beta(A, B)
        t = float(rng.uniform(-730, -365))  # days from NOW
        times = [t]
        while True:
            t += rng.exponential(1 / rate)
            if t >= 0:
                break
            times.append(t)
            if rng.random() < p:
                break
        for day in times:
            orders.append(
                Order(
                    source=source, customer=customer, currency="TRY", subtotal=Decimal("100"), total=Decimal("100"),
                    reporting_rate=Decimal("1"), reporting_total=Decimal("100"), reporting_refunded=Decimal("0"),
                    placed_at=NOW + dt.timedelta(days=day),
                )
            )  # fmt: skip
    Order.objects.bulk_create(orders, batch_size=2000)


def test_holdout_length_follows_the_history():
    assert holdout_days_for(179) is None
    assert holdout_days_for(180) == 90
    assert holdout_days_for(730) == 243
    assert holdout_days_for(3000) == 365


def test_predictions_match_the_holdout_on_bgnbd_data(at_now):
    _bgnbd_shop()
    call_command("predictions_calibrate", stdout=StringIO())
    report = CalibrationReport.objects.get()
    assert report.basis == "fit"
    assert report.holdout_days == 243  # a third of ~730 days
    assert report.calibration_end == (NOW - dt.timedelta(days=243)).replace(microsecond=0)
    assert report.customers == CUSTOMERS  # everyone joined before the cut-off
    # The fit finds the parameters the data was drawn with, roughly (3,000 customers).
    assert 0.5 < report.r < 1.3 and 20 < report.alpha < 70
    # Totals within 10%, and the groups of hundreds of customers within 25% (sampling noise).
    assert report.actual_total > 300
    assert report.predicted_total == pytest.approx(report.actual_total, rel=0.10)
    rows = {row["repeat"]: row for row in report.rows}
    assert sum(row["customers"] for row in report.rows) == CUSTOMERS
    for k in (0, 1, 2):
        assert rows[k]["customers"] > 100
        assert rows[k]["predicted"] == pytest.approx(rows[k]["actual"], rel=0.25), (k, report.rows)
    # The actual holdout orders by hand, from the orders table.
    assert report.actual_total == Order.objects.filter(placed_at__gte=report.calibration_end).count()
    page = login_client(_user()).get("/analytics/calibration/").content.decode()
    assert 'id="calibration-table"' in page and 'data-chart="calibration-chart-data"' in page
    assert f"actual {report.actual_total:,}" in page


def _user() -> User:
    return User.objects.create_user(username="analyst-c", password="kervan-test-pw", role=Role.ANALYST, language="en")


def test_small_shop_is_told_what_it_needs(at_now):
    customer = make_customer()
    make_order(customer, placed_at=NOW - dt.timedelta(days=100))
    make_order(customer, placed_at=NOW - dt.timedelta(days=10))
    report = calibration_report()
    assert report.basis == "thin" and report.rows == []
    assert (report.history_days, report.days_needed, report.customers, report.customers_needed) == (100, 80, 1, 199)
    page = login_client(_user()).get("/analytics/calibration/").content.decode()
    assert "Too little data for this report yet" in page
    assert "About 80 more days of history are needed." in page
    assert "About 199 more customers are needed." in page


def test_enough_history_but_few_customers(at_now):
    for i in range(3):
        customer = make_customer(first_name=f"K{i}")
        make_order(customer, placed_at=NOW - dt.timedelta(days=400 - i))
    report = calibration_report()
    assert report.basis == "thin" and report.days_needed == 0
    assert report.holdout_days == 133 and report.customers == 3 and report.customers_needed == 197
