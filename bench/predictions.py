"""RFM and predictions on 1M customers: the BG/NBD + Gamma-Gamma fit, scoring every customer, and RFM, each with
its floor, on `kervan_bench` (made by bench/generate_demo.py and migrated).

    .venv/bin/python bench/predictions.py --database-url postgres://postgres@127.0.0.1:5432/kervan_bench

Figures (issue 18): fit ≤ 3 s, scoring all ≤ 1 s, RFM ≤ 5 s on PostgreSQL and ≤ 3 s on SQLite (the same script
with a sqlite:/// URL). Floors:
- RFM: one hand-written SQL statement giving the same answer (the 5×5 R×F grid, scores by RANK() with the rule of
  kervan.predictions.rfm); the script checks the two grids are equal. Kervan's figure is the columnar extract (one
  statement) plus the NumPy scoring.
- scoring: one SQL statement computing the closed-form P(alive) of every customer with the fitted parameters
  (summed, so no rows travel): the least a database does to score; Kervan scores P(alive), expected orders at
  30/90/365 days, order value, CLV, churn risk and next-order date.
- fit: the likelihood evaluations alone (the number the optimiser made × the time of one evaluation on the same
  arrays): what is left is the optimiser's own work.
The full `predictions_refresh()` (extract, fit, score, RFM, and rewriting the million rows) is timed too and
leaves its rows in the database. The clock is set to --now (the generated data ends on 2026-11-20).

Writes bench/results/predictions.json.
"""

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

from customer360 import setup_django  # bench/ is the script's folder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def best_of(runs: int, fn):
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--now", default="2026-11-20T18:00:00+03:00")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-refresh", action="store_true", help="skip the full refresh (which rewrites the rows)")
    args = parser.parse_args()
    setup_django(args.database_url)

    import numpy as np
    from django.db import connection

    from kervan.core import clock
    from kervan.predictions import actions, rfm
    from kervan.predictions import models_bgnbd as bg

    now = dt.datetime.fromisoformat(args.now)
    results: dict[str, dict] = {}
    with clock.frozen(now):
        t_extract, _, data = best_of(args.runs, actions.extract)
        n = len(data)
        sizes = f"{n:,} customers with an order"

        t_fit, t_fit_median, models = best_of(args.runs, lambda: actions.fit_models(data, now))
        x, t_x, age = actions.model_inputs(data, now)
        # The floor of the fit: the likelihood evaluations alone, on the very inputs the fit reads (the sample,
        # collapsed), as many as the optimiser made.
        chosen = actions.fit_sample(n)
        sx, st, sa = (x, t_x, age) if chosen is None else (x[chosen], t_x[chosen], age[chosen])
        (ux, ut, ua), weights = bg.collapse(sx, st, sa)
        grouped = bg._grouped(ux, weights)
        log_params = np.log([models.bgnbd.r, models.bgnbd.alpha, models.bgnbd.a, models.bgnbd.b])
        t_eval, _, _ = best_of(5, lambda: bg.bgnbd_negative_ll(log_params, ux, ut, ua, weights, grouped))
        counted = {"n": 0}
        original = bg.bgnbd_negative_ll

        def counting(*a, **k):
            counted["n"] += 1
            return original(*a, **k)

        bg.bgnbd_negative_ll = counting
        try:
            bg.bgnbd_fit(ux, ut, ua, weights)
        finally:
            bg.bgnbd_negative_ll = original
        fit_floor = t_eval * counted["n"]
        m = models.bgnbd

        t_score, t_score_median, _ = best_of(args.runs, lambda: actions.score(models, data, now))

        def alive_sql():
            if connection.vendor == "postgresql":
                age = "EXTRACT(EPOCH FROM %s::timestamptz - first_order_at) / 86400.0"
                span = "EXTRACT(EPOCH FROM last_order_at - first_order_at) / 86400.0"
                stamp = now
            else:  # SQLite: days from julianday() of the stored ISO text
                age = "(julianday(%s) - julianday(first_order_at))"
                span = "(julianday(last_order_at) - julianday(first_order_at))"
                stamp = now.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
            sql = (
                "SELECT SUM(CASE WHEN order_count <= 1 THEN 1.0 ELSE 1.0 / (1.0 + %s / (%s + order_count - 2) * "
                f"POWER((%s + {age}) / (%s + {span}), %s + order_count - 1)) END) "
                "FROM customers_customerstats WHERE order_count > 0"
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, [m.a, m.b, m.alpha, stamp, m.alpha, m.r])
                return float(cursor.fetchone()[0])

        t_score_floor, _, alive_sum_sql = best_of(args.runs, alive_sql)
        alive_sum = float(bg.p_alive(m, x, t_x, age).sum())

        def kervan_rfm():
            fresh = actions.extract()
            r, f, mm = rfm.rfm_scores(fresh.last, fresh.orders, fresh.spent)
            seg = rfm.segments(r, f)
            grid = np.zeros((5, 5), dtype=np.int64)
            np.add.at(grid, (5 - r.astype(np.intp), f.astype(np.intp) - 1), 1)
            return grid, np.bincount(seg, minlength=len(rfm.SEGMENT_CODES))

        def rfm_sql():
            recency = (
                "FLOOR(EXTRACT(EPOCH FROM s.last_order_at))"
                if connection.vendor == "postgresql"
                else "CAST(strftime('%s', s.last_order_at) AS INTEGER)"  # executed without parameters
            )
            sql = (
                f"WITH s AS (SELECT s.customer_id, {recency} AS rec, s.order_count, "
                "s.total_spent FROM customers_customerstats s JOIN customers_customer c ON c.id = s.customer_id "
                "WHERE s.order_count > 0 AND s.first_order_at IS NOT NULL AND s.last_order_at IS NOT NULL "
                "AND c.merged_into_id IS NULL), "
                "scored AS (SELECT 1 + (5 * (RANK() OVER (ORDER BY rec) - 1)) / COUNT(*) OVER () AS r, "
                "1 + (5 * (RANK() OVER (ORDER BY order_count) - 1)) / COUNT(*) OVER () AS f, "
                "1 + (5 * (RANK() OVER (ORDER BY total_spent) - 1)) / COUNT(*) OVER () AS m FROM s) "
                "SELECT r, f, COUNT(*) FROM scored GROUP BY r, f"
            )
            grid = np.zeros((5, 5), dtype=np.int64)
            with connection.cursor() as cursor:
                cursor.execute(sql)
                for r, f, count in cursor.fetchall():
                    grid[5 - int(r), int(f) - 1] = count
            return grid

        t_rfm, t_rfm_median, (grid, _) = best_of(args.runs, kervan_rfm)
        t_rfm_floor, _, grid_sql = best_of(args.runs, rfm_sql)
        same_grid = bool((grid == grid_sql).all())

        refresh = None
        if not args.no_refresh:
            started = time.perf_counter()
            report = actions.predictions_refresh()
            refresh = {
                "total_s": round(time.perf_counter() - started, 2),
                "extract_s": round(report.seconds_extract, 2),
                "fit_s": round(report.seconds_fit, 2),
                "score_s": round(report.seconds_score, 2),
                "rfm_s": round(report.seconds_rfm, 3),
                "write_s": round(report.seconds_write, 2),
            }

    db = connection.vendor
    command = f"python bench/predictions.py --database-url {args.database_url}"
    params = {k: round(getattr(models.bgnbd, k), 4) for k in ("r", "alpha", "a", "b")}
    params.update({k: round(getattr(models.gg, k), 4) for k in ("p", "q", "gamma")})
    results[f"BG/NBD + Gamma-Gamma fit, {db}"] = {
        "value": round(t_fit, 3), "unit": "s", "target": "<= 3 s",
        "floor": round(fit_floor, 3), "ratio": round(t_fit / fit_floor, 2) if fit_floor else None,
        "floor_is": f"the BG/NBD likelihood alone: {counted['n']} evaluations x {t_eval * 1000:.1f} ms on the "
        f"{ux.size:,} distinct rows of the {sx.size:,} customers fitted",
        "median_s": round(t_fit_median, 3), "basis": models.basis, "params_days": params,
        "data": sizes, "db": db, "command": command,
    }  # fmt: skip
    results[f"Scoring all customers, {db}"] = {
        "value": round(t_score, 3), "unit": "s", "target": "<= 1 s",
        "floor": round(t_score_floor, 3), "ratio": round(t_score / t_score_floor, 2),
        "floor_is": "one SQL statement: closed-form P(alive) of every customer, summed",
        "p_alive_sum_kervan": round(alive_sum, 2), "p_alive_sum_sql": round(alive_sum_sql, 2),
        "median_s": round(t_score_median, 3), "data": sizes, "db": db, "command": command,
    }  # fmt: skip
    results[f"RFM for all customers, {db}"] = {
        "value": round(t_rfm, 3), "unit": "s", "target": "<= 5 s" if db == "postgresql" else "<= 3 s",
        "floor": round(t_rfm_floor, 3), "ratio": round(t_rfm / t_rfm_floor, 2),
        "floor_is": "one SQL statement: RANK() quintiles, the R x F grid", "same_grid_as_floor": same_grid,
        "includes": f"the columnar extract ({t_extract:.2f} s best of {args.runs})",
        "median_s": round(t_rfm_median, 3), "data": sizes, "db": db, "command": command,
    }  # fmt: skip
    if refresh:
        results[f"predictions_refresh (everything, rows rewritten), {db}"] = {
            "value": refresh["total_s"], "unit": "s", "target": "nightly", **refresh, "data": sizes, "db": db,
            "command": command,
        }  # fmt: skip
    out = ROOT / "bench" / "results" / "predictions.json"
    kept = json.loads(out.read_text()) if out.exists() else {}  # the other database's figures stay
    out.write_text(json.dumps({**kept, **results}, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
