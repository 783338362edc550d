"""The names of the metrics hscl reports, apart from their computation (`hscl.metrics`), so configs can name
them without importing numpy."""

from __future__ import annotations

METRIC_KEYS: tuple[str, ...] = ("mae", "corr", "acc7", "acc5", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0")
PERCENT_KEYS = frozenset({"acc7", "acc5", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0"})  # shown as %
LOWER_IS_BETTER = frozenset({"mae"})  # every other metric is better higher
