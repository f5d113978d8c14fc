"""Small, fast random draws for the generator (all from the one seeded Random)."""

import bisect
import math
import random
from itertools import accumulate


class Weighted:
    """Pick from values with relative weights: `table.pick(rng.random)`."""

    __slots__ = ("values", "cumulative", "total")

    def __init__(self, pairs):
        pairs = list(pairs)
        self.values = [value for value, _ in pairs]
        self.cumulative = list(accumulate(weight for _, weight in pairs))
        self.total = self.cumulative[-1]

    def pick(self, rand):
        return self.values[bisect.bisect_right(self.cumulative, rand() * self.total)]


def poisson(rng: random.Random, lam: float) -> int:
    if lam < 30:
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))
