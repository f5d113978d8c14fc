"""BG/NBD and Gamma-Gamma on NumPy/SciPy: pure functions, no Django.

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while alive a customer buys at a Poisson
rate λ ~ Gamma(r, α); after each purchase they drop out with probability p ~ Beta(a, b). Inputs per customer:
`x` repeat purchases, `t_x` time of the last purchase and `age` (the paper's T), both measured from the first purchase
(any time unit; Kervan uses days, the CDNOW summary weeks). Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV"): a
customer's mean order value over x orders, given p, q, γ.

Parameters are fitted by maximum likelihood on log-parameters (scipy.optimize.minimize, L-BFGS-B, analytic
gradient). Every term that depends on x alone (the gamma functions) is computed once per distinct x and summed
with its count, so a fit over a million customers costs a few logarithms per customer per iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize  # type: ignore[import-untyped]
from scipy.special import digamma, gammaln, hyp2f1  # type: ignore[import-untyped]

Array = npt.NDArray[np.float64]

# Every parameter is searched within e^±16 (1e-7 … 9e6): a direction the data does not pin down (no dropout at all
# sends a → 0) stops at the edge instead of being chased for many more evaluations.
LOG_BOUNDS = (-16.0, 16.0)


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    ll: float = float("nan")  # log-likelihood at the fit (nan for priors that were not fitted)


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float
    ll: float = float("nan")


class FitError(ValueError):
    """The data cannot be fitted (no customers, no repeat buyers, the optimiser did not converge)."""


def _dot(a: Array, b: Array) -> float:
    """Σ a·b without BLAS: for 1-D arrays NumPy's dot goes to OpenBLAS, whose threads spin against each other on a
    busy machine (a 150,000-row dot took 5–20 ms instead of 0.1)."""
    return float(np.multiply(a, b).sum())


def _arrays(*columns: npt.ArrayLike) -> list[Array]:
    return [np.asarray(column, dtype=np.float64) for column in columns]


def _grouped(x: Array, weights: Array) -> tuple[Array, Array]:
    """Distinct values of x and the total weight of each."""
    values, inverse = np.unique(x, return_inverse=True)
    return values.astype(np.float64), np.bincount(inverse, weights=weights, minlength=values.size).astype(np.float64)


def bgnbd_negative_ll(
    log_params: Array,
    x: Array,
    t_x: Array,
    age: Array,
    weights: Array | None = None,
    grouped: tuple[Array, Array] | None = None,
) -> tuple[float, Array]:
    """Minus the BG/NBD log-likelihood summed over customers (each counted `weights` times), and its gradient in
    log-parameters. `grouped`: the distinct values of x and their total weights, when the caller has them."""
    r, alpha, a, b = np.exp(log_params)
    w = np.ones_like(x) if weights is None else weights
    xs, counts = grouped if grouped is not None else _grouped(x, w)
    # Terms of x alone, per distinct x.
    a1 = gammaln(r + xs) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + xs) - gammaln(b) - gammaln(a + b + xs)
    total = float(_dot(counts, a1 + a2))
    g_r = float(_dot(counts, digamma(r + xs) - digamma(r) + np.log(alpha)))
    g_alpha = float(counts.sum() * r / alpha)
    g_a = float(_dot(counts, digamma(a + b) - digamma(a + b + xs)))
    g_b = float(_dot(counts, digamma(a + b) + digamma(b + xs) - digamma(b) - digamma(a + b + xs)))
    # Customers without a repeat purchase: A3 = −r·log(α + T) only.
    once = x == 0
    w0, age0 = w[once], age[once]
    log_at0 = np.log(alpha + age0)
    total += float(-r * _dot(w0, log_at0))
    g_r += float(-_dot(w0, log_at0))
    g_alpha += float(-r * _dot(w0, 1.0 / (alpha + age0)))
    # Repeat buyers: log(exp(A3) + exp(A4)).
    more = ~once
    xb, tb, ab, wb = x[more], t_x[more], age[more], w[more]
    log_at = np.log(alpha + ab)
    log_atx = np.log(alpha + tb)
    a3 = -(r + xb) * log_at
    a4 = np.log(a) - np.log(b + xb - 1) - (r + xb) * log_atx
    top = np.maximum(a3, a4)
    # Floored at e^-50 (below a double's precision beside the other term, which is 1): the exact value changes
    # nothing, and subnormal numbers in the products below made an evaluation twenty times slower.
    e3 = np.exp(np.maximum(a3 - top, -50.0))
    e4 = np.exp(np.maximum(a4 - top, -50.0))
    total += float(_dot(wb, top + np.log(e3 + e4)))
    w3 = wb * e3 / (e3 + e4)
    w4 = wb - w3
    g_r += float(-_dot(w3, log_at) - _dot(w4, log_atx))
    g_alpha += float(-_dot(w3, (r + xb) / (alpha + ab)) - _dot(w4, (r + xb) / (alpha + tb)))
    g_a += float(w4.sum() / a)
    g_b += float(-_dot(w4, 1.0 / (b + xb - 1)))
    gradient = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
    return -total, -gradient


def bgnbd_fit(
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    age: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    start: BgNbd | None = None,
) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters for these customers (each counted `weights` times, default once).
    `start`: where the search begins (the previous fit, for a nightly refit), else a neutral guess."""
    xa, ta, age_a = _arrays(x, t_x, age)
    wa = np.ones_like(xa) if weights is None else np.asarray(weights, dtype=np.float64)
    if xa.size == 0 or not np.any(xa > 0):
        raise FitError("BG/NBD needs customers with repeat purchases")
    if start is None:
        start = BgNbd(1.0, max(float(np.average(age_a, weights=wa)), 1e-3), 1.0, 1.0)
    at = np.log(np.clip([start.r, start.alpha, start.a, start.b], *np.exp(LOG_BOUNDS)))
    total = float(wa.sum())
    grouped = _grouped(xa, wa)

    def mean_negative_ll(log_params: Array) -> tuple[float, Array]:
        # Per customer, so the tolerances mean the same for 1,000 customers as for a million.
        value, gradient = bgnbd_negative_ll(log_params, xa, ta, age_a, wa, grouped)
        return value / total, gradient / total

    result = minimize(
        mean_negative_ll, at, jac=True, method="L-BFGS-B", bounds=[LOG_BOUNDS] * 4,
        options={"maxiter": 500, "gtol": 1e-9, "ftol": 1e-12},
    )  # fmt: skip
    if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
        raise FitError(f"BG/NBD fit did not converge: {result.message}")
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    return BgNbd(r, alpha, a, b, -float(result.fun) * total)


def p_alive(m: BgNbd, x: npt.ArrayLike, t_x: npt.ArrayLike, age: npt.ArrayLike) -> Array:
    """P(still a customer) given the history: 1 for a customer with no repeat purchase (the model's convention)."""
    xa, ta, age_a = _arrays(x, t_x, age)
    buyer = xa > 0
    ratio = np.log((m.alpha + age_a) / (m.alpha + ta)) * (m.r + xa)
    odds = np.where(buyer, m.a / np.where(buyer, m.b + xa - 1, 1.0) * np.exp(np.minimum(ratio, 700.0)), 0.0)
    return np.asarray(1.0 / (1.0 + odds), dtype=np.float64)


def expected_orders(m: BgNbd, t: float, x: npt.ArrayLike, t_x: npt.ArrayLike, age: npt.ArrayLike) -> Array:
    """Expected number of purchases in the next `t` time units, given the history (FHL 2005, eq. 10)."""
    xa, ta, age_a = _arrays(x, t_x, age)
    if t <= 0:
        return np.zeros_like(xa)
    z = t / (m.alpha + age_a + t)
    hyp = hyp2f1(m.r + xa, m.b + xa, m.a + m.b + xa - 1, z)
    head = (m.a + m.b + xa - 1) / (m.a - 1)
    body = 1.0 - np.power((m.alpha + age_a) / (m.alpha + age_a + t), m.r + xa) * hyp
    buyer = xa > 0
    ratio = np.exp(np.minimum(np.log((m.alpha + age_a) / (m.alpha + ta)) * (m.r + xa), 700.0))
    odds = np.where(buyer, m.a / np.where(buyer, m.b + xa - 1, 1.0) * ratio, 0.0)
    return np.asarray(np.maximum(head * body / (1.0 + odds), 0.0), dtype=np.float64)


def expected_orders_new(m: BgNbd, t: float) -> float:
    """Expected purchases in `t` time units of a customer just acquired (FHL 2005, eq. 7)."""
    z = t / (m.alpha + t)
    return float(
        (m.a + m.b - 1) / (m.a - 1) * (1 - (m.alpha / (m.alpha + t)) ** m.r * hyp2f1(m.r, m.b, m.a + m.b - 1, z))
    )


def gamma_gamma_negative_ll(
    log_params: Array, x: Array, m: Array, grouped: tuple[Array, Array] | None = None
) -> tuple[float, Array]:
    """Minus the Gamma-Gamma log-likelihood of the mean order values `m` over `x` orders (x > 0), and its gradient
    in log-parameters."""
    p, q, g = np.exp(log_params)
    xs, counts = grouped if grouped is not None else _grouped(x, np.ones_like(x))
    px_s = p * xs
    total = float(_dot(counts, gammaln(px_s + q) - gammaln(px_s) - gammaln(q) + q * np.log(g)))
    g_p = float(_dot(counts, xs * (digamma(px_s + q) - digamma(px_s))))
    g_q = float(_dot(counts, digamma(px_s + q) - digamma(q) + np.log(g)))
    g_g = float(counts.sum() * q / g)
    px = p * x
    log_m = np.log(m)
    log_gxm = np.log(g + x * m)
    total += float(np.sum((px - 1) * log_m + px * np.log(x) - (px + q) * log_gxm))
    g_p += float(np.sum(x * (log_m + np.log(x) - log_gxm)))
    g_q += float(-np.sum(log_gxm))
    g_g += float(-np.sum((px + q) / (g + x * m)))
    return -total, -np.array([g_p * p, g_q * q, g_g * g])


def gamma_gamma_fit(x: npt.ArrayLike, m: npt.ArrayLike) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma parameters from customers with x > 0 orders of mean value m > 0 (others are
    left out, as the model requires)."""
    xa, ma = _arrays(x, m)
    keep = (xa > 0) & (ma > 0)
    xa, ma = xa[keep], ma[keep]
    if xa.size < 2:
        raise FitError("Gamma-Gamma needs at least two customers with repeat purchases")
    at = np.log(np.array([1.0, 1.0, max(float(ma.mean()), 1e-3)]))
    total = float(xa.size)
    grouped = _grouped(xa, np.ones_like(xa))

    def mean_negative_ll(log_params: Array) -> tuple[float, Array]:
        value, gradient = gamma_gamma_negative_ll(log_params, xa, ma, grouped)
        return value / total, gradient / total

    result = minimize(
        mean_negative_ll, at, jac=True, method="L-BFGS-B", bounds=[LOG_BOUNDS] * 3,
        options={"maxiter": 500, "gtol": 1e-9, "ftol": 1e-12},
    )  # fmt: skip
    if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
        raise FitError(f"Gamma-Gamma fit did not converge: {result.message}")
    p, q, g = (float(v) for v in np.exp(result.x))
    return GammaGamma(p, q, g, -float(result.fun) * total)


def expected_order_value(gg: GammaGamma, x: npt.ArrayLike, m: npt.ArrayLike) -> Array:
    """E[order value | x orders of mean m]: the population mean p·γ/(q−1) for x = 0, moving towards m with x."""
    xa, ma = _arrays(x, m)
    ma = np.where(xa > 0, ma, 0.0)
    return np.asarray(gg.p * (gg.gamma + xa * ma) / (gg.p * xa + gg.q - 1), dtype=np.float64)


def p_no_order(m: BgNbd, t: float, x: npt.ArrayLike, t_x: npt.ArrayLike, age: npt.ArrayLike) -> Array:
    """P(no purchase in the next `t` time units | history): dropped out, or active and the Poisson clock (rate
    posterior Gamma(r + x, α + age)) does not tick within t. Exact under BG/NBD, as dropout follows a purchase."""
    xa, ta, age_a = _arrays(x, t_x, age)
    alive = p_alive(m, xa, ta, age_a)
    quiet = np.power((m.alpha + age_a) / (m.alpha + age_a + t), m.r + xa)
    return np.asarray(1.0 - alive + alive * quiet, dtype=np.float64)


def median_wait_if_alive(m: BgNbd, x: npt.ArrayLike, age: npt.ArrayLike) -> Array:
    """The median time from now to the next purchase of an active customer: (α + age)(2^(1/(r + x)) − 1)."""
    xa, age_a = _arrays(x, age)
    exponent = np.minimum(1.0 / (m.r + xa), 60.0)
    return np.asarray((m.alpha + age_a) * (np.exp2(exponent) - 1.0), dtype=np.float64)


def expected_orders_many(
    m: BgNbd, horizons: tuple[float, ...], x: npt.ArrayLike, t_x: npt.ArrayLike, age: npt.ArrayLike
) -> list[Array]:
    """expected_orders for several horizons at once, the costly part (the hypergeometric function, which depends on
    x and age alone) computed once per distinct (x, age) pair: many customers share one when ages are whole days."""
    xa, ta, age_a = _arrays(x, t_x, age)
    if xa.size == 0:
        return [np.zeros(0) for _ in horizons]
    span = float(age_a.max()) + 1.0
    pairs, inverse = np.unique(xa * span + age_a, return_inverse=True)
    px = np.floor(pairs / span)
    page = pairs - px * span
    buyer = xa > 0
    ratio = np.exp(np.minimum(np.log((m.alpha + age_a) / (m.alpha + ta)) * (m.r + xa), 700.0))
    odds = np.where(buyer, m.a / np.where(buyer, m.b + xa - 1, 1.0) * ratio, 0.0)
    out = []
    for t in horizons:
        z = t / (m.alpha + page + t)
        hyp = hyp2f1(m.r + px, m.b + px, m.a + m.b + px - 1, z)
        body = (
            (m.a + m.b + px - 1) / (m.a - 1) * (1.0 - np.power((m.alpha + page) / (m.alpha + page + t), m.r + px) * hyp)
        )
        out.append(np.asarray(np.maximum(body[inverse] / (1.0 + odds), 0.0), dtype=np.float64))
    return out


def collapse(*columns: Array) -> tuple[list[Array], Array]:
    """The distinct rows of these columns (whole numbers below 2^20, as days and order counts are) and how many
    times each occurs: a fit on them with these weights is the fit on the rows."""
    key = np.zeros(columns[0].size, dtype=np.int64)
    for column in columns:
        key = (key << 21) | column.astype(np.int64)
    distinct, first, counts = np.unique(key, return_index=True, return_counts=True)
    return [column[first] for column in columns], counts.astype(np.float64)
