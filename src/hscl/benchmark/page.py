"""A suite's results page: the table of mean ± std over seeds, paired comparisons, and its JSON summary."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

import numpy as np

from hscl.benchmark.runner import RowResult
from hscl.benchmark.suites import Suite
from hscl.files import write_text
from hscl.metrics import METRIC_KEYS, PERCENT_KEYS
from hscl.training.mean_std import MeanStd, mean_std_cell, summarise


def paired_comparison(reference: RowResult, baseline: RowResult) -> dict[str, dict[str, float]]:
    """Per-metric mean of the per-seed differences (reference - baseline) and a paired t-test p-value."""
    from scipy import stats

    comparison = {}
    for key in METRIC_KEYS:
        diffs = np.array([r[key] - b[key] for r, b in zip(reference.metrics, baseline.metrics)], dtype=np.float64)
        p_value = float("nan")
        if len(diffs) > 1 and np.std(diffs) > 0:
            p_value = float(
                stats.ttest_rel([r[key] for r in reference.metrics], [b[key] for b in baseline.metrics]).pvalue
            )
        comparison[key] = {"mean_diff": float(diffs.mean()), "p_value": p_value, "n": len(diffs)}
    return comparison


def results_table(results: list[RowResult], selection_column: bool = False) -> str:
    """Markdown table: one row per configuration, mean ± std over seeds (and the validation selection value)."""
    keys = METRIC_KEYS
    extra = ["valid (selection)"] if selection_column else []
    header = (
        "| configuration | seeds | "
        + " | ".join([k.replace("_", " ") for k in keys] + extra)
        + " | epochs | wall (min) |"
    )
    lines = [header, "|---|---|" + "---|" * (len(keys) + len(extra) + 2)]
    for result in results:
        cells = [mean_std_cell(MeanStd.of([m[k] for m in result.metrics]), k in PERCENT_KEYS) for k in keys]
        if selection_column:
            cells.append(mean_std_cell(MeanStd.of(result.selection_values), False))
        wall = sum(result.wall_seconds) / 60
        epochs = ",".join(map(str, result.selected_epochs))
        lines.append(
            f"| {result.row.label} | {len(result.seeds)} | " + " | ".join(cells) + f" | {epochs} | {wall:.1f} |"
        )
    return "\n".join(lines) + "\n"


def comparison_table(comparison: dict[str, dict[str, float]], reference: str, baseline: str) -> str:
    """Markdown table of the paired per-seed differences of test metrics."""
    lines = [
        f"Paired per-seed differences of test metrics, `{reference}` minus `{baseline}` (paired t-test; n = seeds):",
        "",
        "| metric | mean difference | p-value | n |",
        "|---|---|---|---|",
    ]
    for key, values in comparison.items():
        scale = 100.0 if key in PERCENT_KEYS else 1.0
        p = "n/a (needs 2+ seeds)" if values["n"] < 2 else f"{values['p_value']:.3f}"
        lines.append(
            f"| {key} | {values['mean_diff'] * scale:+.3f}{'' if scale == 1 else ' pts'} | {p} | {values['n']} |"
        )
    return "\n".join(lines) + "\n"


def retrain_commands(suite: Suite, results: list[RowResult], common: tuple[str, ...] = ()) -> str:
    """How to retrain one (row, seed) run of the page alone, exactly: the preset, the suite's overrides
    `common` (--quick, --set) and the row's, the seed, and the torch thread count the runs used."""
    lines = [
        "## Retrain one run exactly",
        "",
        "With the code version above, each run below is retrained alone, bit for bit on the same machine, by "
        "this command with its seed. The thread count matters: torch splits its sums over threads, so "
        "another count changes the rounding and, after a few epochs, the selected model (README.md, "
        "'Reproducing a run').",
        "",
        "| configuration | command |",
        "|---|---|",
    ]
    for result in results:
        threads = sorted({t for t in result.threads if t is not None})
        flag = f" --threads {threads[0]}" if len(threads) == 1 else ""
        sets = "".join(f" --set {shlex.quote(item)}" for item in (*common, *result.row.overrides))
        lines.append(f"| {result.row.label} | `hscl train --preset {suite.preset}{sets} --set train.seed=SEED{flag}` |")
    return "\n".join(lines) + "\n"


def write_results_page(
    suite: Suite,
    results: list[RowResult],
    path: str | Path,
    command: str,
    images_markdown: str = "",
    common: tuple[str, ...] = (),
) -> Path:
    """The Markdown results page of a suite; `common`: the overrides every run got (--quick's, --set)."""
    path = Path(path)
    by_key = {r.row.key: r for r in results}
    total = sum(sum(r.wall_seconds) for r in results)
    machines = sorted({machine for r in results for machine in r.machines})
    at_once = max((n for r in results for n in r.concurrent_runs), default=1)
    threads = sorted({t for r in results for t in r.threads if t is not None})
    thread_note = (
        f"{' or '.join(map(str, threads))} torch CPU thread{'' if threads == [1] else 's'} per run"
        if threads
        else "not recorded"
    )
    overlap = f" (summed over runs, which ran up to {at_once} at a time)" if at_once > 1 else ""
    parts = [
        f"# Results: `{suite.name}` suite",
        "",
        f"Generated by `{command}` on {time.strftime('%Y-%m-%d')}.",
        "",
        f"- Runs trained on: {'; '.join(machines)}.",
        f"- Code version that trained the runs: {', '.join(sorted({v for r in results for v in r.code_versions}))}.",
        f"- Threads: {thread_note} (a run's thread count changes its result; see 'Retrain one run exactly').",
        f"- Preset: `{suite.preset}`; model selected on the validation split (MAE), test scored once per run.",
        f"- Total training wall time of the runs below: {total / 60:.1f} min{overlap}.",
        "- Test metrics: mean ± sample std over seeds (a single value when one seed ran); accuracies and F1 in %.",
        "- `valid (selection)`: the validation MAE of each run's selected epoch, what the runs were "
        "selected on and the only column to compare rows by without looking at test.",
        *[f"- {note}" for note in suite.notes],
        "",
        results_table(results, selection_column=True),
    ]
    for reference, baseline in suite.comparisons:
        if reference in by_key and baseline in by_key:
            comparison = paired_comparison(by_key[reference], by_key[baseline])
            parts += [comparison_table(comparison, reference, baseline)]
    parts += [retrain_commands(suite, results, common)]
    if images_markdown:
        parts += ["## Pictures", "", images_markdown]
    write_text(path, "\n".join(parts))
    return path


def summary_json(results: list[RowResult]) -> dict:
    """Machine-readable summary of every row: mean and std, and every seed's test metrics."""
    return {
        "split": "test",
        "rows": {
            r.row.key: {
                "label": r.row.label,
                "seeds": r.seeds,
                "mean_std": {k: v.to_dict() for k, v in summarise(r.metrics).items()},
                "per_seed": r.metrics,
                "wall_seconds": r.wall_seconds,
                "selected_epochs": r.selected_epochs,
                "selection_values": r.selection_values,
                "machines": r.machines,
            }
            for r in results
        },
    }


def dump_summary(results: list[RowResult], path: Path) -> None:
    """Write `summary_json` to `path`."""
    write_text(path, json.dumps(summary_json(results), indent=2) + "\n")
