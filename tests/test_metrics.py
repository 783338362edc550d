"""regression_metrics against plain hand-written references, hand-crafted boundary cases and bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from hscl.metrics import (
    METRIC_KEYS,
    SENTIMENT_CLASSES,
    format_metrics,
    regression_metrics,
    sentiment_class_index,
    sentiment_classes,
)


def ref_f1_weighted(y_true: list[bool], y_pred: list[bool]) -> float:
    """Weighted F1: per-class F1 = 2TP / (2TP + FP + FN), weighted by true support."""
    total, support_sum = 0.0, 0
    for c in sorted(set(y_true) | set(y_pred)):
        tp = sum(t == c and p == c for t, p in zip(y_true, y_pred))
        fp = sum(t != c and p == c for t, p in zip(y_true, y_pred))
        fn = sum(t == c and p != c for t, p in zip(y_true, y_pred))
        f1 = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 0.0
        support = sum(t == c for t in y_true)
        total += support * f1
        support_sum += support
    return total / support_sum


def ref_metrics(preds: list[float], labels: list[float]) -> dict[str, float]:
    n = len(preds)
    mp, ml = sum(preds) / n, sum(labels) / n
    cov = sum((p - mp) * (y - ml) for p, y in zip(preds, labels))
    var_p = sum((p - mp) ** 2 for p in preds)
    var_l = sum((y - ml) ** 2 for y in labels)

    def cls(v: float, bound: float) -> float:
        return round(min(max(v, -bound), bound))  # Python rounds halves to even, like numpy

    non0 = [(p, y) for p, y in zip(preds, labels) if y != 0]
    return {
        "mae": sum(abs(p - y) for p, y in zip(preds, labels)) / n,
        "corr": cov / math.sqrt(var_p * var_l),
        "acc7": sum(cls(p, 3) == cls(y, 3) for p, y in zip(preds, labels)) / n,
        "acc5": sum(cls(p, 2) == cls(y, 2) for p, y in zip(preds, labels)) / n,
        "acc2_has0": sum((p >= 0) == (y >= 0) for p, y in zip(preds, labels)) / n,
        "f1_has0": ref_f1_weighted([y >= 0 for y in labels], [p >= 0 for p in preds]),
        "acc2_non0": sum((p > 0) == (y > 0) for p, y in non0) / len(non0),
        "f1_non0": ref_f1_weighted([y > 0 for _, y in non0], [p > 0 for p, _ in non0]),
    }


@pytest.mark.parametrize("seed", range(25))
def test_matches_reference_on_random_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 200))
    labels = rng.integers(-7, 8, n) / 2.0  # a 0.5 grid: exact zeros, rounding ties, values past the clip
    continuous = rng.random(n) < 0.3
    labels[continuous] = rng.uniform(-3.5, 3.5, int(continuous.sum()))
    preds = np.where(rng.random(n) < 0.3, rng.integers(-8, 9, n) / 2.0, rng.normal(0, 2, n))
    labels[0], labels[1] = 1.0, -1.0  # both signs present in every protocol
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's zero-division warnings for one-class predictions
        got = regression_metrics(preds, labels)
    want = ref_metrics(preds.tolist(), labels.tolist())
    assert list(got) == list(METRIC_KEYS)
    for key in METRIC_KEYS:
        assert got[key] == pytest.approx(want[key], abs=1e-12), key


def test_hand_crafted_rounding_and_clip_edges() -> None:
    preds = [0.5, -0.5, 2.5, 3.7, -2.6, 0.0, 1.4]
    labels = [0.0, 0.0, 2.0, 3.0, -2.4, 0.2, 1.6]
    m = regression_metrics(np.array(preds), np.array(labels))
    assert m["mae"] == pytest.approx(0.4)
    # acc7 classes: preds 0, 0, 2, 3, -3, 0, 1 vs labels 0, 0, 2, 3, -2, 0, 2
    assert m["acc7"] == pytest.approx(5 / 7)
    # acc5 classes: preds 0, 0, 2, 2, -2, 0, 1 vs labels 0, 0, 2, 2, -2, 0, 2
    assert m["acc5"] == pytest.approx(6 / 7)
    assert m["acc2_has0"] == pytest.approx(6 / 7)  # only -0.5 vs 0.0 disagrees
    assert m["f1_has0"] == pytest.approx((6 * 10 / 11 + 1 * 2 / 3) / 7)
    assert m["acc2_non0"] == pytest.approx(4 / 5)  # the two zero labels dropped; 0.0 vs 0.2 disagrees
    assert m["f1_non0"] == pytest.approx((4 * 6 / 7 + 1 * 2 / 3) / 5)
    assert m["corr"] == pytest.approx(ref_metrics(preds, labels)["corr"])


def test_perfect_predictions_and_tensor_input() -> None:
    labels = torch.tensor([-3.0, -1.2, 0.0, 0.4, 2.5, 3.0])
    m = regression_metrics(labels.clone().requires_grad_(), labels)
    assert m["mae"] == 0.0
    assert m["corr"] == pytest.approx(1.0)
    assert all(m[k] == 1.0 for k in ("acc7", "acc5", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0"))


def test_constant_predictions_give_nan_corr_with_warning() -> None:
    labels = np.array([-1.0, 0.5, 2.0, -2.0])
    with pytest.warns(UserWarning, match="predictions are constant"):
        m = regression_metrics(np.full(4, 0.3), labels)
    assert math.isnan(m["corr"])
    assert m["mae"] == pytest.approx(np.mean(np.abs(0.3 - labels)))
    assert m["acc2_has0"] == pytest.approx(0.5)


def test_constant_labels_give_nan_corr_with_warning() -> None:
    with pytest.warns(UserWarning, match="labels are constant"):
        m = regression_metrics(np.array([0.1, 0.2, 0.3]), np.full(3, 1.0))
    assert math.isnan(m["corr"])


def test_all_zero_labels_give_nan_non0_with_warning() -> None:
    with pytest.warns(UserWarning) as record:
        m = regression_metrics(np.array([0.3, -0.2, 0.1]), np.zeros(3))
    messages = [str(w.message) for w in record]
    assert any("every label is 0" in s for s in messages) and any("labels are constant" in s for s in messages)
    assert math.isnan(m["corr"])
    assert math.isnan(m["acc2_non0"]) and math.isnan(m["f1_non0"])
    assert m["acc2_has0"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("preds", "labels", "match"),
    [
        (np.zeros(3), np.zeros(4), "differ in length"),
        (np.zeros(0), np.zeros(0), "empty"),
        (np.array([0.0, np.nan]), np.zeros(2), "predictions contains 1 NaN"),
        (np.zeros(2), np.array([np.inf, 0.0]), "labels contains 1 NaN or infinite"),
        (np.zeros((2, 1)), np.zeros((2, 1)), "must be 1-D"),
    ],
)
def test_bad_input_raises(preds: np.ndarray, labels: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        regression_metrics(preds, labels)


def test_format_metrics() -> None:
    line = format_metrics({"mae": 0.71234, "corr": 0.8, "acc7": 0.45678, "acc2_non0": float("nan")})
    assert line == "mae 0.7123 | corr 0.8000 | acc7 45.68% | acc2_non0 nan"


def test_sentiment_class_index_rounds_halves_to_even_and_clips() -> None:
    values = [-4.2, -3.5, -2.5, -0.5, -0.2, 0.0, 0.5, 1.5, 2.5, 2.51, 3.5, 9.0]
    classes = SENTIMENT_CLASSES.tolist()
    expected = [classes.index(round(min(max(v, -3.0), 3.0))) for v in values]  # Python rounds half to even
    assert sentiment_class_index(np.array(values)).tolist() == expected
    assert expected == [0, 0, 1, 3, 3, 3, 3, 5, 5, 6, 6, 6]


def test_sentiment_classes_are_the_same_for_numpy_and_torch() -> None:
    """One definition serves the metrics (numpy) and the 7-class SupCon loss (torch)."""
    import torch

    values = np.array([-3.5, -2.5, -0.5, 0.5, 1.5, 2.5, 2.49, 3.7])
    as_array = sentiment_classes(values)
    as_tensor = sentiment_classes(torch.tensor(values, dtype=torch.float32))
    assert isinstance(as_array, np.ndarray) and isinstance(as_tensor, torch.Tensor)
    assert as_array.tolist() == as_tensor.tolist() == [-3.0, -2.0, -0.0, 0.0, 2.0, 2.0, 2.0, 3.0]
