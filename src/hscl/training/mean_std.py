"""Mean ± sample standard deviation over seeds: the numbers, and the one way a table shows them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MeanStd:
    """Mean and sample standard deviation (0 for a single value) of `n` values."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> MeanStd:
        """The mean and sample std of `values` (at least one)."""
        array = np.asarray(values, dtype=np.float64)
        return cls(float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0, len(array))

    def to_dict(self) -> dict[str, Any]:
        """`{"mean", "std", "n"}`, as stored in summary files."""
        return {"mean": self.mean, "std": self.std, "n": self.n}


def summarise(results: list[dict[str, float]]) -> dict[str, MeanStd]:
    """Mean and sample std of every metric of `results` (one dict per seed, the same keys in each)."""
    return {key: MeanStd.of([r[key] for r in results]) for key in results[0]}


def mean_std_cell(value: MeanStd, percent: bool) -> str:
    """A table cell: `mean ± std` (in percent with 1 decimal, or with 3 decimals), only the mean for a
    single seed, `nan` when undefined."""
    scale, digits = (100.0, 1) if percent else (1.0, 3)
    if math.isnan(value.mean) or math.isnan(value.std):
        return "nan"
    if value.n == 1:
        return f"{value.mean * scale:.{digits}f}"
    return f"{value.mean * scale:.{digits}f} ± {value.std * scale:.{digits}f}"
