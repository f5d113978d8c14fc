"""The Analytics page on a small hand-built shop: every figure against numbers worked out by hand, the period
comparison, bad period input, the rollup against a live recompute after new orders and refunds, who may see it, and
the Today card of segment changes. Runs on SQLite and on PostgreSQL (DATABASE_URL)."""

import datetime as dt
import re
import zoneinfo
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client

from kervan.accounts.actors import Actor
from kervan.accounts.models import User
from kervan.accounts.permissions import Role
from kervan.accounts.testing import login_client
from kervan.customers.tests.factories import make_customer, make_order
from kervan.orders.actions.orders import order_set_status
from kervan.orders.actions.refunds import refund_create
from kervan.predictions.actions import predictions_refresh
from kervan.predictions.models import CustomerPrediction
from kervan.reports import rollup, selectors
from kervan.reports.models import ChannelDay
from kervan.segments.models import Segment, SegmentChange

pytestmark = pytest.mark.django_db
IST = zoneinfo.ZoneInfo("Europe/Istanbul")
NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=IST)


def at(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=IST)


@pytest.fixture
def at_now(clock):
    with clock.frozen(NOW):
        yield clock


@pytest.fixture
def shop(at_now):
    """Seven customers; the 7-day period is 14–20 November, the previous one 7–13 November.

    A: 5 Sep 100 web, 3 Oct 50 web, 15 Nov 200 web       G: 20 Sep 60 web
    B: 15 Nov 300 mobile app                              C: 10 Nov 150 web, today 10:00 250 phone
    D: 16 Nov 400 POS, 17 Nov 999 web (cancelled)         E: 12 Nov 120 web, 20 refunded
    F: today 09:00 80 web
    """
    c = {name: make_customer(first_name=name) for name in "ABCDEFG"}

    def order(name, when, amount, channel="web"):
        return make_order(c[name], total_lines=((1, amount),), placed_at=when, sales_channel=channel)

    order("A", at(9, 5), "100")
    order("A", at(10, 3), "50")
    order("A", at(11, 15), "200")
    order("G", at(9, 20), "60")
    order("B", at(11, 15, 11), "300", "mobile_app")
    order("C", at(11, 10, 12), "150")
    order("C", at(11, 20, 10), "250", "phone")
    order("D", at(11, 16, 9), "400", "pos")
    cancelled = order("D", at(11, 17, 9), "999")
    order_set_status(actor=Actor.system(), order=cancelled, status="cancelled")
    refunded = order("E", at(11, 12, 9), "120")
    refund_create(actor=Actor.system(), order=refunded, amount="20")
    order("F", at(11, 20, 9), "80")
    return c


def _client(role: str, language: str = "en") -> Client:
    user = User.objects.create_user(
        username=f"{role}-{language}", password="kervan-test-pw", role=role, language=language
    )
    client = login_client(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language  # what logging in sets
    return client


def test_period_figures_by_hand(shop):
    view = selectors.overview(Actor.system(), selectors.period_from("7d"))
    assert (view.period.first, view.period.last) == (dt.date(2026, 11, 14), dt.date(2026, 11, 20))
    assert (view.previous.first, view.previous.last) == (dt.date(2026, 11, 7), dt.date(2026, 11, 13))
    now, before = view.now, view.before
    # This week: A 200, B 300, C 250 (today), D 400, F 80 (today); D's 999 was cancelled.
    assert (now.orders, now.revenue, now.new_orders, now.returning_orders) == (5, Decimal("1230.00"), 3, 2)
    assert now.aov == Decimal("246.00")
    assert now.by_channel == {
        "web": Decimal("280.00"), "mobile_app": Decimal("300.00"), "marketplace": Decimal("0.00"),
        "pos": Decimal("400.00"), "phone": Decimal("250.00"),
    }  # fmt: skip
    # The week before: C 150 and E 120 − 20 refunded, both first orders.
    assert (before.orders, before.revenue, before.new_orders, before.returning_orders) == (2, Decimal("250.00"), 2, 0)
    assert before.aov == Decimal("125.00")
    assert view.delta("revenue").pct == 392 and view.delta("revenue").up
    assert view.delta("orders").pct == 150
    assert view.delta("aov").pct == 97  # 246 / 125 − 1 = 96.8%
    assert view.delta("new_orders").pct == 50
    assert view.delta("returning_orders").pct is None and view.delta("returning_orders").up  # from nothing
    days = {d.day: d for d in view.days}
    assert (days[dt.date(2026, 11, 15)].orders, days[dt.date(2026, 11, 15)].revenue) == (2, Decimal("500.00"))
    assert days[dt.date(2026, 11, 15)].new_orders == 1  # B; A's was a returning order
    assert days[dt.date(2026, 11, 17)].orders == 0  # only the cancelled order
    assert days[dt.date(2026, 11, 20)].orders == 2 and days[dt.date(2026, 11, 20)].revenue == Decimal("330.00")


def test_last_month_against_the_month_before(shop):
    view = selectors.overview(Actor.system(), selectors.period_from("last_month"))
    assert (view.period.first, view.period.last) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert (view.previous.first, view.previous.last) == (dt.date(2026, 8, 31), dt.date(2026, 9, 30))
    assert (view.now.orders, view.now.revenue, view.now.new_orders) == (1, Decimal("50.00"), 0)
    assert (view.before.orders, view.before.revenue, view.before.new_orders) == (2, Decimal("160.00"), 2)
    assert view.delta("revenue").pct == -69 and view.delta("revenue").down


def test_repeat_rate_and_cohorts_by_hand(shop):
    rate = selectors.repeat_rate(Actor.system())
    assert (rate.buyers, rate.repeat, rate.pct) == (7, 2, 28.6)  # A and C ordered twice or more
    cohorts = selectors.cohorts(Actor.system())
    rows = {r.cohort: r for r in cohorts.rows}
    assert set(rows) == {dt.date(2026, 9, 1), dt.date(2026, 11, 1)}
    assert cohorts.offsets == [1, 2]
    september = rows[dt.date(2026, 9, 1)]
    assert september.size == 2  # A and G
    assert [c.pct for c in september.cells] == [50.0, 50.0]  # A ordered in October and in November, G never again
    november = rows[dt.date(2026, 11, 1)]
    assert november.size == 5 and november.cells == [None, None]  # those months have not come yet


def test_clv_histogram_and_rfm_grid_come_from_the_predictions(shop):
    predictions_refresh()
    histogram = selectors.clv_distribution(Actor.system())
    edges = rollup.CLV_EDGES
    by_hand = [0] * len(edges)
    for clv in CustomerPrediction.objects.values_list("clv_12m", flat=True):
        by_hand[max(i for i, low in enumerate(edges) if clv >= low)] += 1
    assert histogram.counts == by_hand and sum(by_hand) == 7
    page = _client(Role.ANALYST).get("/analytics/?period=7d").content.decode()
    table = page.split('id="analytics-clv"')[1].split("</table>")[0]
    assert re.findall(r'<td class="num">(\d+)</td>', table) == [str(n) for n in by_hand]
    grid = page.split('id="analytics-rfm-grid"')[1].split("</table>")[0]
    assert sum(int(n) for n in re.findall(r'<td class="num">(\d+)</td>', grid)) == 7


def test_page_shows_the_figures_and_comparison(shop):
    response = _client(Role.ANALYST).get("/analytics/?period=7d")
    assert response.status_code == 200
    body = response.content.decode()
    revenue = body.split('id="analytics-revenue"')[1].split("</div>\n</div>")[0]
    assert "₺1,230.00" in revenue and "▲ +392%" in revenue and "₺250.00" in revenue
    assert "▲ +150%" in body.split('id="analytics-orders"')[1].split("</div>\n</div>")[0]
    assert "₺246.00" in body.split('id="analytics-aov"')[1].split("</div>\n</div>")[0]
    assert "28.6%" in body.split('id="analytics-repeat"')[1]
    channels = body.split('id="analytics-channels"')[1].split("</table>")[0]
    assert '<td>Store POS</td><td class="num">1</td><td class="num">₺400.00</td>' in channels
    assert "Today is counted live (at most a minute ago)." in body
    assert re.search(r"Earlier days were summed 0.minutes ago", body)  # summed on demand by this view
    for chart in ("sales", "customers", "channels", "clv", "segments"):
        assert f'data-chart="analytics-{chart}-data"' in body or chart in ("clv", "segments")
    assert 'id="analytics-cohorts"' in body and "50.0%" in body
    assert 'href="/analytics/rfm/"' in body and 'href="/analytics/calibration/"' in body
    assert "<script>" not in body.replace('<script type="application/json"', "")  # no inline script (CSP)


def test_custom_period_and_bad_input(shop):
    client = _client(Role.ANALYST)
    ok = client.get("/analytics/?period=custom&start=2026-11-10&end=2026-11-12")
    assert ok.status_code == 200
    view = selectors.overview(Actor.system(), selectors.period_from("custom", "2026-11-10", "2026-11-12"))
    assert (view.now.orders, view.now.revenue) == (2, Decimal("250.00"))
    assert (view.previous.first, view.previous.last) == (dt.date(2026, 11, 7), dt.date(2026, 11, 9))
    cases = [
        ("period=custom&start=2026-13-01&end=2026-11-12", "'2026-13-01' is not a date; use YYYY-MM-DD."),
        ("period=custom&start=2026-11-12&end=2026-11-01", "To must not be before From."),
        ("period=custom&start=2026-11-12", "Choose both a start and an end date."),
        ("period=custom&start=2020-01-01&end=2026-11-12", "Choose at most 1098 days."),
        ("period=fortnight", "Unknown period: fortnight."),
    ]
    for query, message in cases:
        response = client.get(f"/analytics/?{query}")
        assert response.status_code == 400, query
        body = response.content.decode()
        assert message.replace("'", "&#x27;") in body, query
        assert 'id="analytics-error"' in body and 'id="analytics-figures"' in body  # the default period still shows


def test_rollup_equals_a_live_recompute_after_new_orders_and_refunds(shop, at_now):
    first, last = dt.date(2026, 10, 16), dt.date(2026, 11, 19)  # the 35 closed days the refresh re-sums

    def stored():
        return {(r.day, r.channel): (r.orders, r.rated, r.revenue, r.new_orders) for r in ChannelDay.objects.all()}

    def live():
        return {
            (r.day, r.channel): (r.orders, r.rated, r.revenue, r.new_orders)
            for r in rollup.channel_days_live(first, last)
        }

    rollup.rollup_refresh()
    assert stored() == live()
    # Later: a refund on a closed day's order, a late order on a closed day, a cancellation.
    at_now.advance(dt.timedelta(hours=2))
    order_b = shop["B"].orders.get()
    refund_create(actor=Actor.system(), order=order_b, amount="100")
    make_order(shop["G"], total_lines=((1, "70"),), placed_at=at(11, 18), sales_channel="pos")
    order_set_status(actor=Actor.system(), order=shop["D"].orders.get(total=Decimal("400")), status="cancelled")
    assert stored() != live()
    rollup.rollup_refresh()
    assert stored() == live()
    view = selectors.overview(Actor.system(), selectors.period_from("7d"))
    # 1230 − 100 refunded + 70 − 400 cancelled; D has no order left, G's is a returning one.
    assert (view.now.orders, view.now.revenue, view.now.new_orders) == (5, Decimal("800.00"), 2)


def test_missing_days_are_summed_on_demand_and_stored(shop):
    assert not ChannelDay.objects.exists()
    selectors.overview(Actor.system(), selectors.period_from("30d"))
    # Closed days of both periods: 60 days before today, one row per channel each; today is never stored.
    assert ChannelDay.objects.values("day").distinct().count() == 59
    assert not ChannelDay.objects.filter(day=dt.date(2026, 11, 20)).exists()


def test_an_import_of_old_orders_reaches_the_stored_days(shop, at_now, django_capture_on_commit_callbacks):
    """The stored days are re-summed in the background when a change any day may show is announced."""
    from kervan.customers.cache import everything_changed

    selectors.overview(Actor.system(), selectors.period_from("90d"))  # stores the days back to mid-June
    assert ChannelDay.objects.get(day=dt.date(2026, 7, 1), channel="web").orders == 0
    old = make_order(shop["G"], total_lines=((1, "45"),), placed_at=at(7, 1))  # as an import writes it
    assert ChannelDay.objects.get(day=dt.date(2026, 7, 1), channel="web").orders == 0  # the hourly refresh: 35 days
    with django_capture_on_commit_callbacks(execute=True):
        everything_changed()
    day = ChannelDay.objects.get(day=dt.date(2026, 7, 1), channel="web")
    assert (day.orders, day.revenue) == (1, old.reporting_total - old.reporting_refunded)
    view = selectors.overview(Actor.system(), selectors.period_from("custom", "2026-07-01", "2026-07-01"))
    assert view.now.orders == 1


def test_segment_sizes_and_today_card(shop, at_now):
    vip = Segment.objects.create(name="VIP", member_count=3)
    other = Segment.objects.create(name="Sessiz", member_count=0)
    changes = [("A", "entered", at(11, 18)), ("B", "entered", at(11, 18)), ("A", "exited", at(11, 19)),
               ("C", "entered", at(11, 20, 12))]  # fmt: skip
    SegmentChange.objects.bulk_create(
        [SegmentChange(segment=vip, customer=shop[name], kind=kind, at=when) for name, kind, when in changes]
    )
    SegmentChange.objects.create(segment=other, customer=shop["D"], kind="exited", at=at(11, 20, 11))
    days, series = selectors.segment_sizes(Actor.system(), selectors.period_from("7d"))
    sizes = {s.name: s.sizes for s in series}
    # From 3 members now, back through the history: 20 Nov 3, 19 Nov 2, 18 Nov 3, before 1.
    assert sizes["VIP"] == [1, 1, 1, 1, 3, 2, 3]
    assert sizes["Sessiz"] == [1, 1, 1, 1, 1, 1, 0]
    # A change recorded later for a closed day (a late worker) reaches the stored days with the hourly refresh.
    SegmentChange.objects.create(segment=vip, customer=shop["E"], kind="exited", at=at(11, 16))
    rollup.analytics_refresh()
    _days, series = selectors.segment_sizes(Actor.system(), selectors.period_from("7d"))
    assert {s.name: s.sizes for s in series}["VIP"] == [2, 2, 1, 1, 3, 2, 3]
    today = _client(Role.MARKETING).get("/").content.decode()
    card = today.split('id="today-segment_changes"')[1]
    assert re.search(r'id="today-segments-entered">\s*<span class="value">1</span>', card)
    assert re.search(r'id="today-segments-exited">\s*<span class="value">1</span>', card)
    assert "VIP" in card and "Sessiz" in card
    assert 'id="today-segment_changes"' not in _client(Role.SUPPORT).get("/").content.decode()


@pytest.mark.parametrize(
    "role, status",
    [(Role.ADMIN, 200), (Role.MARKETING, 200), (Role.SALES, 200), (Role.ANALYST, 200), (Role.SUPPORT, 403),
     (Role.READ_ONLY, 403)],
)  # fmt: skip
def test_who_sees_the_page(shop, role, status):
    client = _client(role)
    assert client.get("/analytics/").status_code == status
    assert client.get("/analytics/calibration/").status_code == status
    nav = client.get("/customers/").content.decode()
    assert ('href="/analytics/"' in nav) == (status == 200)


def test_turkish(shop):
    body = _client(Role.ANALYST, "tr").get("/analytics/?period=7d").content.decode()
    assert "Analitik" in body
    assert "Son 7 gün" in body and "Tekrar satın alma oranı" in body and "Kohort" in body
    assert "₺1.230,00" in body


def test_a_long_period_is_shown_per_week(shop):
    view = selectors.overview(Actor.system(), selectors.period_from("365d"))
    assert view.weekly and len(view.days) == 53  # 365 days from 21 Nov 2025: 52 weeks and one day
    assert view.days[0].day == dt.date(2025, 11, 21) and view.days[1].day == dt.date(2025, 11, 28)
    assert sum(d.orders for d in view.days) == view.now.orders == 10  # every order but the cancelled one
    assert (
        sum(d.revenue for d in view.days) == view.now.revenue == Decimal("1690.00")
    )  # 100+50+200+60+300+150+250+400+100+80
    assert view.before.orders == 0
