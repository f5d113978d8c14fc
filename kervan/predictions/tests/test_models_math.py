"""BG/NBD and Gamma-Gamma against the published CDNOW fits and hand-computed values."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kervan.core.testing import SHARED_DATA
from kervan.predictions import models_bgnbd as bg

ROOT = Path(__file__).resolve().parents[3]
CDNOW = SHARED_DATA / "cdnow" / "cdnow_customers_summary_with_transactions.csv"
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "ll": -9582.4, "p": 6.25, "q": 3.74, "gamma": 15.44}
FHL = bg.BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)

needs_cdnow = pytest.mark.skipif(not CDNOW.exists(), reason=f"the CDNOW summary is not at {CDNOW} (../shared/data)")


@needs_cdnow
def test_cdnow_fit_agrees_with_the_published_values_within_half_a_percent():
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "cdnow_fit.py"), str(CDNOW)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    fitted = json.loads(out.stdout)
    assert set(fitted) == set(PUBLISHED)
    for key, published in PUBLISHED.items():
        assert fitted[key] == pytest.approx(published, rel=0.005), key


def _hand_p_alive(m, x, t_x, age):
    if x == 0:
        return 1.0
    return 1.0 / (1.0 + m.a / (m.b + x - 1) * ((m.alpha + age) / (m.alpha + t_x)) ** (m.r + x))


def test_p_alive_matches_the_closed_form_by_hand():
    cases = [(2, 30.43, 38.86), (0, 0.0, 38.86), (7, 10.0, 38.0), (1, 37.0, 38.0)]
    got = bg.p_alive(FHL, *zip(*cases, strict=True))
    for value, case in zip(got, cases, strict=True):
        assert value == pytest.approx(_hand_p_alive(FHL, *case), rel=1e-12)
    # Hand arithmetic for the first: 0.793/3.426 · (43.274/34.844)^2.243 = 0.2315 · 1.6264 → 1/(1 + 0.3765)
    assert got[0] == pytest.approx(0.7265, abs=5e-4)
    assert got[1] == 1.0


def test_expected_orders_matches_fader_hardie_lee_example():
    # FHL 2005 §5: a customer with x=2, t_x=30.43, age=38.86 (weeks) is expected to make 1.226 purchases in 39 weeks.
    assert bg.expected_orders(FHL, 39.0, [2], [30.43], [38.86])[0] == pytest.approx(1.226, abs=1e-3)
    # A customer is a mixture: more history of frequent buying means more expected orders, dropping with recency.
    e = bg.expected_orders(FHL, 39.0, [5, 5, 0], [38.0, 10.0, 0.0], [38.86, 38.86, 38.86])
    assert e[0] > e[1] > 0 and e[2] > 0


def test_expected_orders_of_a_customer_with_no_history_is_that_of_a_new_one():
    # E[Y(t) | x=0, t_x=0, T=0] = E[X(t)] (FHL 2005, eq. 7).
    assert bg.expected_orders(FHL, 52.0, [0], [0.0], [0.0])[0] == pytest.approx(bg.expected_orders_new(FHL, 52.0))


def test_gamma_gamma_expected_value_by_hand():
    gg = bg.GammaGamma(p=6.25, q=3.74, gamma=15.44)
    # p(γ + x·m)/(p·x + q − 1) for x=2, m=20: 6.25 · 55.44 / 15.24 = 22.736…
    assert bg.expected_order_value(gg, [2], [20.0])[0] == pytest.approx(6.25 * 55.44 / 15.24)
    # No repeat orders: the population mean p·γ/(q − 1) = 6.25 · 15.44 / 2.74 = 35.2189…
    assert bg.expected_order_value(gg, [0], [99.0])[0] == pytest.approx(35.21898, rel=1e-5)


def test_p_no_order_and_median_wait():
    m = FHL
    x, t_x, age = 3, 20.0, 30.0
    alive = _hand_p_alive(m, x, t_x, age)
    quiet = ((m.alpha + age) / (m.alpha + age + 52)) ** (m.r + x)
    assert bg.p_no_order(m, 52.0, [x], [t_x], [age])[0] == pytest.approx(1 - alive + alive * quiet)
    wait = bg.median_wait_if_alive(m, [x], [age])[0]
    assert ((m.alpha + age) / (m.alpha + age + wait)) ** (m.r + x) == pytest.approx(0.5)


def test_fit_recovers_parameters_of_simulated_customers():
    rng = np.random.default_rng(7)
    n, true = 20_000, bg.BgNbd(r=0.8, alpha=20.0, a=0.6, b=3.0)
    lam = rng.gamma(true.r, 1 / true.alpha, n)
    p = rng.beta(true.a, true.b, n)
    age = rng.uniform(100, 365, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > age[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    fit = bg.bgnbd_fit(x, t_x, age)
    assert fit.r == pytest.approx(true.r, rel=0.15)
    assert fit.alpha == pytest.approx(true.alpha, rel=0.2)
    assert fit.a == pytest.approx(true.a, rel=0.3)
    assert fit.b == pytest.approx(true.b, rel=0.35)
    assert math.isfinite(fit.ll)


def test_fit_refuses_data_without_repeat_buyers():
    with pytest.raises(bg.FitError):
        bg.bgnbd_fit([0, 0], [0, 0], [10, 20])
    with pytest.raises(bg.FitError):
        bg.gamma_gamma_fit([0, 1], [10, 20])


def test_grouped_scoring_and_collapsed_fit_equal_the_plain_ones():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 6, 5000).astype(float)
    age = rng.integers(30, 400, 5000).astype(float)
    t_x = np.where(x > 0, np.floor(age * rng.uniform(0, 1, 5000)), 0.0)
    many = bg.expected_orders_many(FHL, (30.0, 365.0), x, t_x, age)
    assert np.allclose(many[0], bg.expected_orders(FHL, 30.0, x, t_x, age), rtol=1e-12)
    assert np.allclose(many[1], bg.expected_orders(FHL, 365.0, x, t_x, age), rtol=1e-12)
    (ux, ut, ua), weights = bg.collapse(x, t_x, age)
    assert ux.size < x.size and weights.sum() == x.size
    at = np.log([0.5, 20.0, 0.8, 2.0])
    plain_ll, plain_gradient = bg.bgnbd_negative_ll(at, x, t_x, age)
    collapsed_ll, collapsed_gradient = bg.bgnbd_negative_ll(at, ux, ut, ua, weights)
    assert collapsed_ll == pytest.approx(plain_ll, rel=1e-12)
    assert np.allclose(collapsed_gradient, plain_gradient, rtol=1e-9)
    # This random data has no dropout to speak of (a and b run off together): the likelihood still agrees.
    assert bg.bgnbd_fit(ux, ut, ua, weights).ll == pytest.approx(bg.bgnbd_fit(x, t_x, age).ll, rel=1e-6)


def test_analytic_gradient_matches_finite_differences():
    rng = np.random.default_rng(9)
    x = rng.integers(0, 5, 300).astype(float)
    age = rng.uniform(10, 100, 300)
    t_x = np.where(x > 0, age * rng.uniform(0, 1, 300), 0.0)
    at = np.log([0.4, 12.0, 0.9, 2.5])
    _, gradient = bg.bgnbd_negative_ll(at, x, t_x, age)
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-6
        numeric = (
            bg.bgnbd_negative_ll(at + step, x, t_x, age)[0] - bg.bgnbd_negative_ll(at - step, x, t_x, age)[0]
        ) / 2e-6
        assert gradient[i] == pytest.approx(numeric, rel=1e-5, abs=1e-5)
    m = rng.gamma(5, 10, 300)
    gg_at = np.log([5.0, 3.0, 12.0])
    _, gg_gradient = bg.gamma_gamma_negative_ll(gg_at, x[x > 0], m[x > 0])
    for i in range(3):
        step = np.zeros(3)
        step[i] = 1e-6
        plus = bg.gamma_gamma_negative_ll(gg_at + step, x[x > 0], m[x > 0])[0]
        minus = bg.gamma_gamma_negative_ll(gg_at - step, x[x > 0], m[x > 0])[0]
        assert gg_gradient[i] == pytest.approx((plus - minus) / 2e-6, rel=1e-5, abs=1e-5)
