"""RFM quintile scores and the named segments: pure NumPy, no Django.

Scores (1..5, 5 best) are quintiles by rank: a customer's score is 1 + ⌊5 · k / n⌋, where n is the number of
customers scored and k the number of customers strictly worse on that measure. Ties therefore share a score (two
customers with the same order count always get the same F), and the answer does not depend on the order rows
come in nor on the database that produced them.
- R: the time of the last order (later is better);
- F: the number of orders;
- M: the total spent (net of refunds, reporting currency).

Segments come from the R and F scores alone, with the widely used R×F map (rows R, columns F):

    R\\F    1                2                  3                  4                5
    5    New              Potential Loyalist Potential Loyalist Champions        Champions
    4    Promising        Potential Loyalist Potential Loyalist Loyal            Loyal
    3    About to Sleep   About to Sleep     Need Attention     Loyal            Loyal
    2    Hibernating      Hibernating        At Risk            At Risk          Can't Lose Them
    1    Lost             Lost               At Risk            At Risk          Can't Lose Them

The map's usual "Hibernating" corner (R 1–2, F 1–2) is split so that R = 1 (the oldest fifth) is "Lost".
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SEGMENT_CODES = (
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
)

# GRID[r - 1][f - 1]
GRID: tuple[tuple[str, ...], ...] = (
    ("lost", "lost", "at_risk", "at_risk", "cant_lose"),
    ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"),
    ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),
    ("promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"),
    ("new", "potential_loyalist", "potential_loyalist", "champions", "champions"),
)


def quintile_scores(values: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """1..5 per value, higher values scoring higher; ties share a score (1 + ⌊5 · #strictly lower / n⌋)."""
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    lower = np.searchsorted(np.sort(v), v, side="left")
    return (1 + (5 * lower) // n).astype(np.int8)


def rfm_scores(
    last_order: npt.ArrayLike, orders: npt.ArrayLike, spent: npt.ArrayLike
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """(R, F, M) scores from each customer's last order time (any increasing number: epoch seconds), order count
    and total spent."""
    return quintile_scores(last_order), quintile_scores(orders), quintile_scores(spent)


def segments(r: npt.ArrayLike, f: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """Each customer's segment as an index into SEGMENT_CODES."""
    codes = np.array([[SEGMENT_CODES.index(name) for name in row] for row in GRID], dtype=np.int8)
    return codes[np.asarray(r, dtype=np.intp) - 1, np.asarray(f, dtype=np.intp) - 1]
