"""`hscl.scores.Scores`: the clipped score, its 7-class label and polarity, against a plain reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hscl.errors import HSCLError
from hscl.scores import CLASS_NAMES, COLUMNS, Scores


def reference(raw: float) -> tuple[float, int, str]:
    score = min(3.0, max(-3.0, raw))
    lower = math.floor(score)
    fraction = score - lower
    if fraction == 0.5:  # halves to even, as numpy and torch round (and as Acc-7 counts)
        cls = lower if lower % 2 == 0 else lower + 1
    else:
        cls = lower + (fraction > 0.5)
    return score, int(cls), "positive" if score >= 0 else "negative"


def test_scores_equal_the_reference_on_random_values_ties_and_the_range_edges():
    rng = np.random.default_rng(0)
    edges = [-4.94, -3.5, -3.0, -2.5, -1.5, -0.5, -0.0, 0.0, 0.5, 1.5, 2.5, 2.5000001, 3.0, 3.2, 1e6, -1e6]
    raw = np.concatenate([rng.uniform(-5, 5, 200), edges])
    scores = Scores.from_raw(raw.astype(np.float32))
    assert len(scores) == raw.size
    for i, value in enumerate(raw.astype(np.float32).astype(np.float64)):
        score, cls, polarity = reference(float(value))
        assert scores.raw[i] == value and scores.score[i] == score
        assert scores.class7[i] == cls and scores.polarity[i] == polarity, value
        assert scores.item(i)["class_name"] == CLASS_NAMES[cls]


def test_a_row_has_the_columns_in_order_and_the_raw_output_kept():
    row = Scores.from_raw(np.array([-4.94])).row(0)
    assert dict(zip(COLUMNS, row)) == {"score": "-3.000000", "class7": "-3", "polarity": "negative", "raw": "-4.940000"}


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_output_is_refused_not_given_a_class(bad):
    with pytest.raises(HSCLError, match="sample 1 is"):
        Scores.from_raw(np.array([0.1, bad]))
