"""Fit BG/NBD and Gamma-Gamma on a CDNOW summary with Kervan's own code and print the parameters as one JSON object.

    python bench/cdnow_fit.py ../shared/data/cdnow/cdnow_customers_summary_with_transactions.csv

The file is read in place. Columns: ID, x, t_x, T, zbar (the summary with transactions: Gamma-Gamma is fitted too)
or ID, frequency, recency, T (BG/NBD only; p, q, gamma are then null). Published values (Fader, Hardie & Lee 2005):
r=0.243, alpha=4.414, a=0.793, b=2.426, ll=-9582.4; p=6.25, q=3.74, gamma=15.44.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kervan.predictions.models_bgnbd import bgnbd_fit, gamma_gamma_fit  # noqa: E402


def fit_summary(path: str) -> dict[str, float | None]:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    x_key = "x" if "x" in rows[0] else "frequency"
    t_key = "t_x" if "t_x" in rows[0] else "recency"
    x = [float(row[x_key]) for row in rows]
    t_x = [float(row[t_key]) for row in rows]
    age = [float(row["T"]) for row in rows]
    model = bgnbd_fit(x, t_x, age)
    out: dict[str, float | None] = {
        "r": model.r, "alpha": model.alpha, "a": model.a, "b": model.b, "ll": model.ll,
        "p": None, "q": None, "gamma": None,
    }  # fmt: skip
    money_key = next((key for key in ("zbar", "monetary_value") if key in rows[0]), None)
    if money_key is not None:
        gg = gamma_gamma_fit(x, [float(row[money_key]) for row in rows])
        out.update(p=gg.p, q=gg.q, gamma=gg.gamma)
    return out


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python bench/cdnow_fit.py PATH_TO_SUMMARY_CSV")
    print(json.dumps(fit_summary(sys.argv[1])))


if __name__ == "__main__":
    main()
