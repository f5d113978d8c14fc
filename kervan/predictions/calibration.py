"""The calibration/holdout report: does the BG/NBD model predict this shop's own customers?

The shop's history is cut at T = now − N days. The model is fitted on the orders before T only (the calibration
period), then asked how many orders each customer of that period would place in the next N days (the holdout), and
that is compared with the orders they really placed: per number of repeat orders in the calibration period
(0 … 6+) the mean predicted and the mean actual, and the totals. The classic check of Fader, Hardie & Lee (2005).

N: a third of the shop's history, at least HOLDOUT_MIN_DAYS and at most HOLDOUT_MAX_DAYS. The report needs
MIN_HISTORY_DAYS of history (90 days to fit on, 90 to compare with) and MIN_CUSTOMERS customers with an order before
T; otherwise it says how much more is needed and compares nothing (a fit on less is noise).

One GROUP BY over the orders (cancelled ones left out) gives, per customer, the calibration period's order count,
first and last order, and the holdout's order count; everything after it is NumPy. At 10M orders that pass takes
seconds, so the report is computed by `manage.py predictions_calibrate` / the nightly schedule and stored
(CalibrationReport), never per request.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.db import connection

from kervan.core import clock
from kervan.orders.models import Order, OrderStatus
from kervan.predictions import models_bgnbd as bg
from kervan.predictions.actions import DAY, FIT_SAMPLE, FIT_SEED, MIN_CUSTOMERS
from kervan.predictions.models import CalibrationReport

HOLDOUT_MIN_DAYS = 90
HOLDOUT_MAX_DAYS = 365
MIN_HISTORY_DAYS = 2 * HOLDOUT_MIN_DAYS
BUCKETS = 7  # repeat orders 0 … 5, and 6 or more
CHUNK = 50_000


@dataclass(frozen=True)
class Split:
    calibration_end: dt.datetime
    holdout_days: int


def holdout_days_for(history_days: int) -> int | None:
    """N for a history of this many days (None: too short for a report)."""
    if history_days < MIN_HISTORY_DAYS:
        return None
    return min(HOLDOUT_MAX_DAYS, max(HOLDOUT_MIN_DAYS, history_days // 3))


def _epoch(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column})) AS BIGINT)"
    return f"CAST(strftime('%%s', {column}) AS INTEGER)"


def first_order_at() -> dt.datetime | None:
    found = Order.objects.exclude(status=OrderStatus.CANCELLED).order_by("placed_at").values_list("placed_at").first()
    return None if found is None else found[0]


def split_extract(
    split: Split, now: dt.datetime
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per customer with an order before T: (calibration orders, first and last calibration order in epoch seconds,
    holdout orders), from one GROUP BY over the orders placed before `now`."""
    table = connection.ops.quote_name(Order._meta.db_table)
    calibration = "o.placed_at < %s"
    sql = (
        f"SELECT SUM(CASE WHEN {calibration} THEN 1 ELSE 0 END), "
        f"MIN({_epoch('o.placed_at')}), "
        f"MAX(CASE WHEN {calibration} THEN {_epoch('o.placed_at')} END), "
        f"SUM(CASE WHEN {calibration} THEN 0 ELSE 1 END) "
        f"FROM {table} o WHERE o.placed_at < %s AND o.status <> %s "
        f"GROUP BY o.customer_id HAVING MIN(o.placed_at) < %s"
    )
    end = split.calibration_end
    holdout_end = end + dt.timedelta(days=split.holdout_days)
    end_v, until_v = (connection.ops.adapt_datetimefield_value(v) for v in (end, min(now, holdout_end)))
    params = [end_v, end_v, end_v, until_v, OrderStatus.CANCELLED.value, end_v]
    chunks: list[np.ndarray] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(CHUNK):
            chunks.append(np.array(rows, dtype=np.float64))
    data = np.concatenate(chunks) if chunks else np.zeros((0, 4))
    return data[:, 0], data[:, 1], data[:, 2], data[:, 3]


def _buckets(x: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> list[dict[str, float | int]]:
    bucket = np.minimum(x, BUCKETS - 1).astype(np.intp)
    customers = np.bincount(bucket, minlength=BUCKETS)
    pred = np.bincount(bucket, weights=predicted, minlength=BUCKETS)
    act = np.bincount(bucket, weights=actual, minlength=BUCKETS)
    return [
        {
            "repeat": k,
            "customers": int(customers[k]),
            "predicted": round(float(pred[k] / customers[k]), 4) if customers[k] else 0.0,
            "actual": round(float(act[k] / customers[k]), 4) if customers[k] else 0.0,
        }
        for k in range(BUCKETS)
    ]


def calibration_report() -> CalibrationReport:
    """Compute the report on the shop's orders now and store it (the latest row is the one shown)."""
    started = time.perf_counter()
    now = clock.now()
    first = first_order_at()
    history_days = 0 if first is None else int((now - first).total_seconds() // DAY)
    holdout = holdout_days_for(history_days)
    thin = CalibrationReport(
        computed_at=now, basis="thin", history_days=history_days, days_needed=max(MIN_HISTORY_DAYS - history_days, 0)
    )
    if holdout is None:
        n = Order.objects.exclude(status=OrderStatus.CANCELLED).values("customer_id").distinct().count()
        thin.customers = n
        thin.customers_needed = max(MIN_CUSTOMERS - n, 0)
        thin.seconds = time.perf_counter() - started
        thin.save()
        return thin
    split = Split((now - dt.timedelta(days=holdout)).replace(microsecond=0), holdout)
    orders, first_s, last_s, actual = split_extract(split, now)
    thin.calibration_end, thin.holdout_days, thin.customers = split.calibration_end, holdout, int(orders.size)
    if orders.size < MIN_CUSTOMERS:
        thin.customers_needed = MIN_CUSTOMERS - int(orders.size)
        thin.seconds = time.perf_counter() - started
        thin.save()
        return thin
    end_s = float(int(split.calibration_end.timestamp()))
    x = orders - 1.0
    t_x = np.floor(np.maximum(last_s - first_s, 0.0) / DAY)
    age = np.maximum(np.floor((end_s - first_s) / DAY), t_x)
    fx, ft, fa = x, t_x, age
    if x.size > FIT_SAMPLE:
        chosen = np.sort(np.random.default_rng(FIT_SEED).choice(x.size, FIT_SAMPLE, replace=False))
        fx, ft, fa = x[chosen], t_x[chosen], age[chosen]
    (ux, ut, ua), weights = bg.collapse(fx, ft, fa)
    try:
        model = bg.bgnbd_fit(ux, ut, ua, weights)
    except bg.FitError:
        thin.seconds = time.perf_counter() - started
        thin.save()  # no repeat buyers at all: nothing to fit (the page says so)
        return thin
    (predicted,) = bg.expected_orders_many(model, (float(holdout),), x, t_x, age)
    report = CalibrationReport(
        computed_at=now,
        basis="fit",
        calibration_end=split.calibration_end,
        holdout_days=holdout,
        history_days=history_days,
        customers=int(x.size),
        r=model.r,
        alpha=model.alpha,
        a=model.a,
        b=model.b,
        rows=_buckets(x, predicted, actual),
        predicted_total=round(float(predicted.sum()), 2),
        actual_total=int(actual.sum()),
        seconds=time.perf_counter() - started,
    )
    report.save()
    return report


def latest_report() -> CalibrationReport | None:
    return CalibrationReport.objects.order_by("-computed_at", "-id").first()
