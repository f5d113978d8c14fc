"""predictions_refresh on hand-built shops: RFM scores and segments, scoring against hand-computed values with the
pooled priors (a small shop), a real fit on a larger shop, month-over-month movement, idempotence, and who sees the
360 card, the Today card and the RFM page. Runs on SQLite and on PostgreSQL (DATABASE_URL)."""

import datetime as dt
import math
import zoneinfo
from decimal import Decimal
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client

from kervan.accounts.models import User
from kervan.accounts.permissions import Role
from kervan.customers.models import Customer
from kervan.customers.stats import stats_load
from kervan.customers.tests.factories import make_customer, make_order
from kervan.predictions import selectors
from kervan.predictions.actions import PRIOR_BGNBD, predictions_refresh
from kervan.predictions.models import CustomerPrediction, PredictionFit, RfmSnapshot

pytestmark = pytest.mark.django_db
IST = zoneinfo.ZoneInfo("Europe/Istanbul")
NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=IST)

# Customer i: COUNTS[i] orders of 100 TRY, five days apart, the last one (10 − i) × 10 days before NOW.
COUNTS = [5, 1, 4, 1, 2, 1, 3, 1, 4, 1]
# By hand (rfm module docstring): R = 1 + i // 2; F from the counts (five 1s → 1, 2 → 3, 3 → 4, 4 → 4, 5 → 5).
EXPECTED = [
    (1, 5, "cant_lose"),
    (1, 1, "lost"),
    (2, 4, "at_risk"),
    (2, 1, "hibernating"),
    (3, 3, "need_attention"),
    (3, 1, "about_to_sleep"),
    (4, 4, "loyal"),
    (4, 1, "promising"),
    (5, 4, "champions"),
    (5, 1, "new"),
]


@pytest.fixture
def at_now(clock):
    with clock.frozen(NOW):
        yield clock


@pytest.fixture
def shop(at_now):
    customers = []
    for i, count in enumerate(COUNTS):
        customer = make_customer(first_name=f"Müşteri{i}")
        last = NOW - dt.timedelta(days=(10 - i) * 10)
        for k in range(count):
            make_order(customer, placed_at=last - dt.timedelta(days=5 * (count - 1 - k)))
        customers.append(customer)
    return customers


def _row(customer) -> CustomerPrediction:
    return CustomerPrediction.objects.get(customer=customer)


def test_rfm_scores_and_segments_on_a_hand_built_shop(shop):
    predictions_refresh()
    for customer, (r, f, segment) in zip(shop, EXPECTED, strict=True):
        row = _row(customer)
        assert (row.rfm_r, row.rfm_f, row.rfm_segment) == (r, f, segment), customer.first_name
    # M: the totals are 100 × the counts, so M follows F; the 500 TRY customer is the only M 5.
    assert [_row(c).rfm_m for c in shop] == [5, 1, 4, 1, 3, 1, 4, 1, 4, 1]
    snapshot = dict(RfmSnapshot.objects.filter(month=dt.date(2026, 11, 1)).values_list("segment", "count"))
    assert snapshot["potential_loyalist"] == 0 and snapshot["lost"] == 1 and sum(snapshot.values()) == 10
    grid = selectors.rfm_grid(selectors_actor())
    assert grid[0] == [1, 0, 0, 1, 0]  # R 5: the new customer (F 1) and the champion (F 4)
    assert sum(map(sum, grid)) == 10


def selectors_actor():
    from kervan.accounts.actors import Actor

    return Actor.system()


def test_small_shop_scores_with_pooled_priors_and_says_what_it_needs(shop):
    report = predictions_refresh()
    fit = report.fit
    assert fit.basis == "prior" and fit.customers == 10
    assert fit.customers_needed == 190 and fit.days_needed == 0  # history: 120 days
    assert (fit.r, fit.alpha, fit.a, fit.b) == (PRIOR_BGNBD.r, PRIOR_BGNBD.alpha, PRIOR_BGNBD.a, PRIOR_BGNBD.b)
    # Gamma-Gamma's γ scaled so the population mean is the shop's mean order (100): 100 · 2.74 / 6.25 = 43.84.
    assert fit.gamma == pytest.approx(43.84)

    # Customer 4: two orders, on days −65 and −60 → x = 1, t_x = 5, T = 65 (days).
    row = _row(shop[4])
    r, alpha, a, b = 0.243, 4.414 * 7, 0.793, 2.426
    p_alive = 1 / (1 + a / b * ((alpha + 65) / (alpha + 5)) ** (r + 1))
    assert row.p_alive == pytest.approx(p_alive, abs=1e-6)
    assert row.basis == "prior"
    # Expected order value: p(γ + x·m)/(p·x + q − 1) = 6.25 · (43.84 + 100) / (6.25 + 2.74) = 100.00
    assert row.expected_order_value == Decimal("100.00")
    assert row.clv_12m == Decimal(f"{row.expected_orders_365 * 100:.2f}")
    quiet = ((alpha + 65) / (alpha + 65 + 365)) ** (r + 1)
    assert row.churn_risk == pytest.approx(1 - p_alive + p_alive * quiet, abs=1e-6)
    assert row.expected_orders_30 < row.expected_orders_90 < row.expected_orders_365

    # One order only: P(alive) is 1 by the model; a customer whose first order is 10 days old is "too little history".
    assert _row(shop[9]).p_alive == 1.0 and _row(shop[9]).basis == "thin"
    assert _row(shop[1]).basis == "prior"


def test_shop_with_enough_data_is_fitted(at_now):
    rng = np.random.default_rng(3)
    customers = Customer.objects.bulk_create([Customer(first_name=f"C{i}") for i in range(400)])
    rows = []
    for customer in customers:
        age = float(rng.uniform(100, 400))
        rate = float(rng.gamma(0.8, 1 / 40))
        times = np.cumsum(rng.exponential(1 / rate, 30))
        times = [0.0, *[t for t in times if t < age][: int(rng.integers(0, 8))]]
        first = NOW - dt.timedelta(days=age)
        last = first + dt.timedelta(days=times[-1])
        count = len(times)
        aov = Decimal(int(rng.gamma(5, 40)) + 10)
        rows.append((customer.pk, aov * count, count, aov, first, last, 0, Decimal("0"), None))
    stats_load(rows)
    report = predictions_refresh()
    assert report.fit.basis == "fit" and report.customers == 400
    assert report.fit.customers_needed == 0 and report.fit.days_needed == 0
    assert math.isfinite(report.fit.log_likelihood)
    assert 0.1 < report.fit.r < 5
    assert set(CustomerPrediction.objects.values_list("basis", flat=True)) <= {"fit", "thin"}


def test_month_over_month_movement(shop, at_now):
    predictions_refresh()
    november = {c.pk: _row(c).rfm_segment for c in shop}
    at_now.advance(dt.timedelta(days=20))  # 10 December
    make_order(shop[1], placed_at=at_now.now())  # the lost customer comes back
    predictions_refresh()
    predictions_refresh()  # twice in one month: the previous segment stays November's
    for customer in shop:
        assert _row(customer).previous_segment == november[customer.pk]
        assert _row(customer).rfm_month == dt.date(2026, 12, 1)
    assert _row(shop[1]).rfm_segment != "lost"
    nov = dict(RfmSnapshot.objects.filter(month=dt.date(2026, 11, 1)).values_list("segment", "count"))
    assert nov["lost"] == 1  # November's snapshot is kept
    table = {row.code: row for row in selectors.segment_table(selectors_actor())}
    assert table["lost"].last_month == 1 and table["lost"].moved_out >= 1


def test_refresh_command_is_idempotent(shop):
    call_command("predictions_refresh", stdout=StringIO())
    first = list(CustomerPrediction.objects.order_by("pk").values())
    snapshots = list(RfmSnapshot.objects.values_list("month", "segment", "count"))
    call_command("predictions_refresh", stdout=StringIO())
    assert list(CustomerPrediction.objects.order_by("pk").values()) == first
    assert list(RfmSnapshot.objects.values_list("month", "segment", "count")) == snapshots
    assert PredictionFit.objects.count() == 2


def test_a_customer_without_orders_has_no_row_and_no_card(shop):
    nobody = make_customer(first_name="Siparişsiz")
    predictions_refresh()
    assert not CustomerPrediction.objects.filter(customer=nobody).exists()


def _client(role: str) -> Client:
    user = User.objects.create_user(username=f"{role}-p", password="kervan-test-pw", role=role, language="en")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "role, sees",
    [(Role.ADMIN, True), (Role.MARKETING, True), (Role.SALES, True), (Role.ANALYST, True), (Role.SUPPORT, False),
     (Role.READ_ONLY, False)],
)  # fmt: skip
def test_cards_and_page_by_role(shop, role, sees):
    predictions_refresh()
    client = _client(role)
    page = client.get(f"/customers/{shop[0].pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert ('id="predictions-card"' in body) == sees
    if sees:
        assert "Can&#x27;t Lose Them" in body or "Can't Lose Them" in body
        assert "pooled defaults" in body and "190 more customers" in body
    today = client.get("/").content.decode()
    assert ('id="today-vips_at_risk"' in today) == sees
    if sees:
        assert 'id="today-vips-count">\n  <span class="value">1</span>' in today
    rfm = client.get("/analytics/rfm/?vip=1")
    assert rfm.status_code == (200 if sees else 403)
    if sees:
        assert "Müşteri0" in rfm.content.decode()


def test_rfm_page_refuses_an_unknown_segment(shop, make_user):
    predictions_refresh()
    client = _client(Role.ANALYST)
    response = client.get("/analytics/rfm/?segment=nope")
    assert response.status_code == 400
    assert "Unknown segment: nope." in response.content.decode()
    ok = client.get("/analytics/rfm/?segment=lost")
    assert ok.status_code == 200 and 'id="rfm-grid"' in ok.content.decode() and "Müşteri1" in ok.content.decode()


def test_api_answers_a_customers_predictions_and_the_rfm_summary(shop, api, make_api_key):
    predictions_refresh()
    body = api.get(f"/predictions/customers/{shop[0].pk}").json()
    assert body["rfm_segment"] == "cant_lose" and (body["rfm_r"], body["rfm_f"], body["rfm_m"]) == (1, 5, 5)
    assert body["basis"] == "prior" and 0 < body["p_alive"] <= 1
    summary = api.get("/predictions/rfm").json()
    assert summary["grid"][0] == [1, 0, 0, 1, 0] and summary["fit"]["customers_needed"] == 190
    assert {s["code"]: s["count"] for s in summary["segments"]}["lost"] == 1
    nobody = make_customer(first_name="Siparişsiz")
    missing = api.get(f"/predictions/customers/{nobody.pk}")
    assert missing.status_code == 404 and missing.json()["code"] == "prediction_not_found"
    # A key without the analytics area is refused.
    _, secret = make_api_key(scopes={"customers": "read"}, name="no analytics")
    from kervan.conftest import ApiClient

    refused = ApiClient(secret).get(f"/predictions/customers/{shop[0].pk}")
    assert refused.status_code == 403 and refused.json()["code"]
