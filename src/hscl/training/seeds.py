"""Several seeds of one config, and the mean ± std summary across them."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from hscl.config import RunConfig
from hscl.data.types import MSADataset
from hscl.metrics import METRIC_KEYS, PERCENT_KEYS
from hscl.training import run_dir as layout
from hscl.training.trainer import RunResult, load_data, train



def summarise(results: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation (0 for a single run) of every metric."""
    summary = {}
    for key in results[0]:
        values = np.array([r[key] for r in results], dtype=np.float64)
        summary[key] = {"mean": float(values.mean()),
                        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                        "n": len(values)}
    return summary


def summary_markdown(name: str, seeds: list[int], test: dict[str, dict[str, float]]) -> str:
    """A Markdown table of test mean ± std (accuracies and F1 in percent)."""
    keys = [k for k in METRIC_KEYS if k in test]
    header = "| run | seeds | " + " | ".join(keys) + " |"
    rule = "|---|---|" + "---|" * len(keys)
    cells = []
    for key in keys:
        scale = 100.0 if key in PERCENT_KEYS else 1.0
        mean, std = test[key]["mean"] * scale, test[key]["std"] * scale
        digits = 4 if scale == 1 else 1
        spread = f" ± {std:.{digits}f}" if test[key]["n"] > 1 else ""
        cells.append("nan" if math.isnan(mean) else f"{mean:.{digits}f}{spread}")
    row = f"| {name} | {' '.join(map(str, seeds))} | " + " | ".join(cells) + " |"
    return "\n".join([header, rule, row]) + "\n"


def train_seeds(config: RunConfig, seeds: list[int], out_dir: str | Path,
                dataset: MSADataset | None = None) -> list[RunResult]:
    """Train `config` once per seed into `out_dir/seed_<seed>` and write summary.json / summary.md."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dataset = dataset if dataset is not None else load_data(config)
    results = []
    for seed in seeds:
        seeded = config.replace(train=config.train.replace(seed=seed))
        results.append(train(seeded, out_dir / f"seed_{seed}", dataset))
    test = summarise([r.test_metrics for r in results])
    valid = summarise([r.valid_metrics for r in results])
    layout.write_json(out_dir / layout.SUMMARY_JSON, {
        "name": config.name, "seeds": seeds, "test": test, "valid": valid,
        "selected_epochs": [r.best_epoch for r in results],
        "wall_seconds": [round(r.wall_seconds, 1) for r in results]})
    (out_dir / layout.SUMMARY_MD).write_text(summary_markdown(config.name, seeds, test), encoding="utf-8")
    return results
