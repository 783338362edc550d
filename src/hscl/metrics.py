"""Standard multimodal sentiment regression metrics (MAE, Pearson r, Acc-7/5/2, weighted F1).

Class metrics round with numpy's round-half-to-even, so 0.5 -> 0, -0.5 -> 0, 2.5 -> 2, 1.5 -> 2.
"has0" binarises every sample as (value >= 0); "non0" drops samples whose label is exactly 0 and
binarises as (value > 0).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from hscl.metric_names import LOWER_IS_BETTER, METRIC_KEYS, PERCENT_KEYS

__all__ = [
    "LOWER_IS_BETTER",
    "METRIC_KEYS",
    "PERCENT_KEYS",
    "SENTIMENT_CLASSES",
    "format_metrics",
    "regression_metrics",
    "sentiment_class_index",
]
SENTIMENT_CLASSES = np.arange(-3, 4)  # the seven classes of Acc-7


def _as_vector(values: Any, name: str) -> np.ndarray:
    """A 1-D, non-empty, finite float64 copy of `values` (an array or a torch tensor); ValueError otherwise."""
    if hasattr(values, "detach"):  # a torch tensor, without importing torch here
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains {int((~np.isfinite(array)).sum())} NaN or infinite values")
    return array


def _pearson(preds: np.ndarray, labels: np.ndarray) -> float:
    """Pearson correlation; NaN with a warning when either side is constant."""
    p = preds - preds.mean()
    y = labels - labels.mean()
    denominator = math.sqrt(float(p @ p) * float(y @ y))
    if denominator == 0.0:
        side = "predictions" if float(p @ p) == 0.0 else "labels"
        warnings.warn(f"Pearson correlation is undefined because the {side} are constant; reporting NaN", stacklevel=3)
        return float("nan")
    return float(p @ y) / denominator


def sentiment_classes(values: Any) -> Any:
    """The seven sentiment classes -3..3 of `values`, round(clip(v, -3, 3)) with halves to even: the classes of
    Acc-7, the confusion matrix and the 7-class SupCon loss. A torch tensor stays a tensor (on its device, with
    its gradient graph; torch and numpy both round halves to even); anything else comes back as a float64 array."""
    low, high = float(SENTIMENT_CLASSES[0]), float(SENTIMENT_CLASSES[-1])
    if hasattr(values, "detach"):  # a torch tensor, without importing torch here
        return values.clamp(low, high).round()
    return np.round(np.clip(np.asarray(values, dtype=np.float64), low, high))


def sentiment_class_index(values: np.ndarray) -> np.ndarray:
    """Index into SENTIMENT_CLASSES of each value's sentiment class (`sentiment_classes`)."""
    return (sentiment_classes(values) - SENTIMENT_CLASSES[0]).astype(np.int64)


def _class_accuracy(preds: np.ndarray, labels: np.ndarray, bound: float) -> float:
    """Accuracy of round(clip(., -bound, bound)) classes."""
    return float(np.mean(np.round(np.clip(preds, -bound, bound)) == np.round(np.clip(labels, -bound, bound))))


def regression_metrics(preds: Any, labels: Any) -> dict[str, float]:
    """MAE, Pearson corr, Acc-7, Acc-5, and binary accuracy / weighted F1 in the has0 and non0 protocols.

    Accuracies and F1 are fractions in [0, 1]. Constant predictions or labels give corr NaN, and a
    label set that is all zeros gives NaN non0 metrics, each with a warning.
    """
    from sklearn.metrics import f1_score  # here, not at import: config validation reads METRIC_KEYS

    p = _as_vector(preds, "predictions")
    y = _as_vector(labels, "labels")
    if p.shape != y.shape:
        raise ValueError(f"predictions ({p.size}) and labels ({y.size}) differ in length")
    result = {
        "mae": float(np.mean(np.abs(p - y))),
        "corr": _pearson(p, y),
        "acc7": _class_accuracy(p, y, 3.0),
        "acc5": _class_accuracy(p, y, 2.0),
    }
    y_has0, p_has0 = y >= 0, p >= 0
    result["acc2_has0"] = float(np.mean(y_has0 == p_has0))
    result["f1_has0"] = float(f1_score(y_has0, p_has0, average="weighted"))
    nonzero = y != 0
    if nonzero.any():
        y_non0, p_non0 = y[nonzero] > 0, p[nonzero] > 0
        result["acc2_non0"] = float(np.mean(y_non0 == p_non0))
        result["f1_non0"] = float(f1_score(y_non0, p_non0, average="weighted"))
    else:
        warnings.warn("every label is 0, so the non0 metrics are undefined; reporting NaN", stacklevel=2)
        result["acc2_non0"] = result["f1_non0"] = float("nan")
    return result


def format_metrics(metrics: dict[str, float]) -> str:
    """One line of the known metrics: mae and corr to 4 decimals, accuracies and F1 as percentages."""
    parts = []
    for key in METRIC_KEYS:
        if key in metrics:
            value = metrics[key]
            if math.isnan(value):
                parts.append(f"{key} nan")
            else:
                parts.append(f"{key} {100 * value:.2f}%" if key in PERCENT_KEYS else f"{key} {value:.4f}")
    return " | ".join(parts)
