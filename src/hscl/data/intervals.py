"""Which timed rows overlap which reference intervals, and their means: the CMU-MultimodalSDK's alignment rule.

A row with interval `[s, e]` belongs to a reference `[r0, r1]` when their intersection is longer than
`tolerance`: `min(e, r1) - max(s, r0) > tolerance`, computed in float64 exactly as the SDK's `align`
computes it for intervals that run forwards (`s <= e`). The SDK's tolerance (its `epsilon`) is 1e-3 s
in the PyPI copy and 1e-5 s in the current source tree.

Since `min(a, b) - max(c, d)` is the least of the four differences and rounding is monotone, the rule
splits into `e - s > t`, `r1 - r0 > t`, `e - r0 > t` and `r1 - s > t`. Rows too short for the first
never count and are set aside; the rest are sorted by start (stably, as the SDK sorts them). When
their ends are then sorted too (frames and words of a real release), the rows of each reference form
one run of that order, found by binary search and corrected to the exact rule, so a video costs
O((rows + references) log rows); otherwise each reference is tested against every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class Overlaps:
    """For each of m references, the rows overlapping it, in start order.

    `order` lists the rows long enough to overlap anything, sorted by start. Reference j's rows are
    `order[lo[j]:hi[j]]` when `members` is None, else `members[j]`.
    """

    order: np.ndarray  # (k,) int64 row indices
    lo: np.ndarray  # (m,) int64
    hi: np.ndarray  # (m,) int64
    members: list[np.ndarray] | None = None

    def rows(self, j: int) -> np.ndarray:
        """The row indices overlapping reference `j`, in start order."""
        if self.members is not None:
            return self.members[j]
        return self.order[self.lo[j] : self.hi[j]]

    def counts(self) -> np.ndarray:
        """(m,) int64: how many rows overlap each reference."""
        if self.members is not None:
            return np.array([len(rows) for rows in self.members], dtype=np.int64)
        return self.hi - self.lo


def overlapping(intervals: np.ndarray, references: np.ndarray, tolerance: float) -> Overlaps:
    """The rows of `intervals` (n, 2) that overlap each row of `references` (m, 2) by more than `tolerance`.

    Both are float64 `[start, end]` pairs with `start <= end` (the callers check this).
    """
    starts, ends = intervals[:, 0], intervals[:, 1]
    candidates = np.flatnonzero((ends - starts) > tolerance)
    order = candidates[np.argsort(starts[candidates], kind="stable")]
    s, e = starts[order], ends[order]
    r0, r1 = references[:, 0], references[:, 1]
    long_enough = (r1 - r0) > tolerance
    if np.all(e[1:] >= e[:-1]):
        hi = _count_leading(s, r1, lambda value, key: (key - value) > tolerance, np.searchsorted(s, r1 - tolerance))
        lo = _count_leading(
            e, r0, lambda value, key: ~((value - key) > tolerance), np.searchsorted(e, r0 + tolerance, side="right")
        )
        hi = np.where(long_enough, np.maximum(hi, lo), lo)
        return Overlaps(order, lo, hi)
    members = [
        order[((e - r0[j]) > tolerance) & ((r1[j] - s) > tolerance)] if long_enough[j] else order[:0]
        for j in range(len(references))
    ]
    zeros = np.zeros(len(references), dtype=np.int64)
    return Overlaps(order, zeros, zeros, members)


def _count_leading(
    values: np.ndarray, keys: np.ndarray, holds: Callable[[np.ndarray, np.ndarray], np.ndarray], guess: np.ndarray
) -> np.ndarray:
    """For each key, how many leading `values` (sorted) satisfy `holds(value, key)`, a test that holds for a prefix.

    `guess` is close (a binary search on a rounded threshold); it is moved, over whole runs of equal
    values, until the last counted value holds and the next one does not.
    """
    count = guess.astype(np.int64)
    n = len(values)
    while True:
        back = count > 0
        back[back] = ~holds(values[count[back] - 1], keys[back])
        ahead = count < n
        ahead[ahead] = holds(values[count[ahead]], keys[ahead])
        if not (back.any() or ahead.any()):
            return count
        count[back] = np.searchsorted(values, values[count[back] - 1], side="left")
        count[ahead] = np.searchsorted(values, values[count[ahead]], side="right")


def interval_means(features: np.ndarray, found: Overlaps) -> np.ndarray:
    """(m, d) float64: each reference's mean of the overlapping rows of `features` (n, d); zeros where none overlap.

    NaN and infinite values propagate as in `numpy.average`, the SDK's usual collapse function.
    """
    counts = found.counts()
    means = np.zeros((len(counts), features.shape[1]), dtype=np.float64)
    some = np.flatnonzero(counts > 0)
    if not some.size:
        return means
    if found.members is not None:
        for j in some:
            means[j] = features[found.members[j]].astype(np.float64).sum(axis=0) / counts[j]
        return means
    n = len(features)
    in_order = len(found.order) == n and (n == 0 or (found.order[0] == 0 and np.all(np.diff(found.order) == 1)))
    if in_order:  # the usual case (sorted frames, none too short): sum in place, without a copy
        ordered = features
    else:
        ordered = features[found.order]
    # reduceat sums ordered[lo:hi] at the even positions of [lo0, hi0, lo1, ...]; an index must be < len, so
    # the runs that end at the last row are summed apart
    to_end = some[found.hi[some] == len(ordered)]
    inside = some[found.hi[some] < len(ordered)]
    if inside.size:
        bounds = np.stack([found.lo[inside], found.hi[inside]], axis=1).ravel()
        sums = np.add.reduceat(ordered, bounds, axis=0, dtype=np.float64)[::2]
        means[inside] = sums / counts[inside, None]
    for j in to_end:
        means[j] = ordered[found.lo[j] :].sum(axis=0, dtype=np.float64) / counts[j]
    return means
