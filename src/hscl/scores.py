"""What a prediction reports: the model's raw output, the score clipped to the label range [-3, 3], its
7-class label and its polarity.

The labels of CMU-MOSI / MOSEI live in [-3, 3], but a regression head can answer outside it (a small model
once predicted -4.94 for a clip). `hscl predict`, `Predictor` and `hscl serve` report the clipped score and
keep the raw output beside it. The metrics are not computed from these: they take the raw outputs as the
paper's evaluation code does (`hscl.metrics.regression_metrics`, which clips where each metric clips).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hscl.errors import HSCLError
from hscl.metrics import SENTIMENT_CLASSES, sentiment_classes

SCORE_RANGE = (float(SENTIMENT_CLASSES[0]), float(SENTIMENT_CLASSES[-1]))
CLASS_NAMES = {
    -3: "strongly negative",
    -2: "negative",
    -1: "weakly negative",
    0: "neutral",
    1: "weakly positive",
    2: "positive",
    3: "strongly positive",
}
COLUMNS = ("score", "class7", "polarity", "raw")  # the CSV columns of `hscl predict`, after the ids


@dataclass(frozen=True)
class Scores:
    """Per sample: `raw` model output, `score` = clip(raw, -3, 3), `class7` = round(score) in -3..3 (halves to
    even, as Acc-7 rounds), `polarity` "positive" (score >= 0, the has0 convention) or "negative"."""

    raw: np.ndarray  # (N,) float64
    score: np.ndarray  # (N,) float64 in [-3, 3]
    class7: np.ndarray  # (N,) int64 in -3..3
    polarity: tuple[str, ...]

    @classmethod
    def from_raw(cls, raw: np.ndarray) -> Scores:
        """The scores of raw model outputs; an `HSCLError` if one is not finite (never reported as a class)."""
        raw = np.asarray(raw, dtype=np.float64).reshape(-1)
        if not np.isfinite(raw).all():
            bad = int(np.flatnonzero(~np.isfinite(raw))[0])
            raise HSCLError(f"the model's output for sample {bad} is {raw[bad]}: its weights or inputs are broken")
        score = np.clip(raw, *SCORE_RANGE)
        class7 = sentiment_classes(score).astype(np.int64)
        polarity = tuple("positive" if value >= 0 else "negative" for value in score)
        return cls(raw=raw, score=score, class7=class7, polarity=polarity)

    def __len__(self) -> int:
        return int(self.raw.shape[0])

    def row(self, index: int) -> list[str]:
        """Sample `index` as the CSV cells of `COLUMNS`."""
        return [
            f"{self.score[index]:.6f}",
            str(int(self.class7[index])),
            self.polarity[index],
            f"{self.raw[index]:.6f}",
        ]

    def item(self, index: int) -> dict[str, float | int | str]:
        """Sample `index` as a JSON-ready mapping (score, class7, class name, polarity, raw)."""
        return {
            "score": float(self.score[index]),
            "class7": int(self.class7[index]),
            "class_name": CLASS_NAMES[int(self.class7[index])],
            "polarity": self.polarity[index],
            "raw": float(self.raw[index]),
        }
