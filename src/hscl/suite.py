"""Benchmark suites: a table of configurations x seeds, run resumably, written up as a results page.

A suite is data: a preset, rows of `--set` overrides, seeds. `run_suite` trains every (row, seed) that
has no finished run directory yet, so an interrupted suite continues where it stopped.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hscl.config import load_config
from hscl.errors import ConfigError
from hscl.training import run_dir as layout
from hscl.training.seeds import METRIC_ORDER, summarise
from hscl.training.trainer import load_data, train

NO_CONTRASTIVE = ("loss.unimodal=false", "loss.fusion=false")
WALL_FILE = "wall_seconds.json"  # written by the suite when a run has returned: its completion mark


@dataclass(frozen=True)
class Row:
    """One configuration of a suite."""

    key: str  # directory name
    label: str  # table label
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suite:
    """A preset, its rows and seeds, and the pair of rows to test for a significant difference."""

    name: str
    preset: str
    rows: tuple[Row, ...]
    seeds: tuple[int, ...] = (1111, 1112, 1113, 1114, 1115)
    quick_overrides: tuple[str, ...] = ("train.epochs=3",)
    reference: str = "hscl"  # the row compared ...
    baseline: str = "text_only"  # ... against this one, seed by seed
    report_row: str = "hscl"  # whose first seed gets the pictures
    notes: tuple[str, ...] = ()


SUITES: dict[str, Suite] = {
    "mosi-utterance": Suite(
        name="mosi-utterance",
        preset="mosi-utterance",
        rows=(
            Row("text_only", "Text-only fine-tuning (same encoder, same budget)", ("model.modalities=text",)),
            Row("late_fusion", "Late fusion: MLP on [text CLS; audio features]", ("model.fusion=late", *NO_CONTRASTIVE)),
            Row("hscl", "HSCL (text + audio, SupCR at both levels)"),
            Row("no_contrastive", "Hierarchy ablation: no contrastive loss", NO_CONTRASTIVE),
            Row("unimodal_only", "Hierarchy ablation: unimodal level only", ("loss.fusion=false",)),
            Row("fusion_only", "Hierarchy ablation: fusion level only", ("loss.unimodal=false",)),
            Row("ntxent", "Label ablation: label-free NT-Xent (unimodal level)", ("loss.contrastive=ntxent", "loss.fusion=false")),
            Row("supcon", "Label ablation: 7-class SupCon", ("loss.contrastive=supcon",)),
            Row("supcr_released", "SupCR with the released code's denominator", ("loss.contrastive=supcr_released",)),
        ),
        notes=(
            "With text + audio only, the fusion level has a single view (z_at); NT-Xent has no positive "
            "there, so the NT-Xent row applies it at the unimodal level alone.",
        ),
    ),
    "demo": Suite(
        name="demo",
        preset="demo",
        rows=(
            Row("text_only", "Text only", ("model.modalities=text",)),
            Row("text_audio", "HSCL, text + audio", ("model.modalities=audio",)),
            Row("text_visual", "HSCL, text + visual", ("model.modalities=visual",)),
            Row("hscl", "HSCL, text + audio + visual"),
        ),
        seeds=(1111, 1112, 1113),
        quick_overrides=(),  # quick = the first seed only, same budget
    ),
}


@dataclass
class RowResult:
    """Finished runs of one row: per-seed test metrics and wall times."""

    row: Row
    seeds: list[int]
    test: list[dict[str, float]]
    wall_seconds: list[float]
    selected_epochs: list[int]


def run_key_dir(out_dir: Path, row: Row, seed: int) -> Path:
    """Where a (row, seed) run lives."""
    return out_dir / row.key / f"seed_{seed}"


def is_finished(run_dir: Path) -> bool:
    """A run counts as finished once the suite has recorded its wall time, after training returned."""
    return (run_dir / layout.TEST_FILE).is_file() and (run_dir / WALL_FILE).is_file()


def run_suite(suite: Suite, out_dir: str | Path, quick: bool = False, extra: list[str] | None = None,
              log=print) -> list[RowResult]:
    """Train every unfinished (row, seed) of `suite` into `out_dir`; return all rows' results."""
    out_dir = Path(out_dir)
    seeds = suite.seeds[:1] if quick else suite.seeds
    common = list(suite.quick_overrides if quick else ()) + list(extra or [])
    configs = {row.key: load_config(preset=suite.preset, overrides=[*common, *row.overrides]) for row in suite.rows}
    dataset = None
    results = []
    for row in suite.rows:
        for seed in seeds:
            run_dir = run_key_dir(out_dir, row, seed)
            if is_finished(run_dir):
                log(f"[{row.key} seed {seed}] finished earlier, kept")
                continue
            if run_dir.exists():
                shutil.rmtree(run_dir)
            dataset = dataset if dataset is not None else load_data(configs[row.key])
            config = configs[row.key]
            config = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed, progress=False))
            log(f"[{row.key} seed {seed}] training")
            started = time.perf_counter()
            train(config, run_dir, dataset)
            layout.write_json(run_dir / WALL_FILE, {"seconds": round(time.perf_counter() - started, 1)})
        results.append(collect_row(out_dir, row, list(seeds)))
    return results


def collect_row(out_dir: Path, row: Row, seeds: list[int]) -> RowResult:
    """Read the finished runs of `row` back from disk."""
    test, walls, epochs = [], [], []
    for seed in seeds:
        run_dir = run_key_dir(out_dir, row, seed)
        test.append(layout.read_json(run_dir / layout.TEST_FILE))
        walls.append(float(layout.read_json(run_dir / WALL_FILE)["seconds"]))
        epochs.append(int(layout.read_json(run_dir / layout.SELECTION_FILE)["epoch"]))
    return RowResult(row, seeds, test, walls, epochs)


def paired_comparison(reference: RowResult, baseline: RowResult) -> dict[str, dict[str, float]]:
    """Per-metric mean of the per-seed differences (reference - baseline) and a paired t-test p-value."""
    from scipy import stats

    comparison = {}
    for key in METRIC_ORDER:
        diffs = np.array([r[key] - b[key] for r, b in zip(reference.test, baseline.test)], dtype=np.float64)
        p_value = float("nan")
        if len(diffs) > 1 and np.std(diffs) > 0:
            p_value = float(stats.ttest_rel([r[key] for r in reference.test], [b[key] for b in baseline.test]).pvalue)
        comparison[key] = {"mean_diff": float(diffs.mean()), "p_value": p_value, "n": len(diffs)}
    return comparison


def machine_description() -> str:
    """CPU model, core count, Python and torch versions."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {os.cpu_count()} cores, {device}; Python {platform.python_version()}, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads)")


def _cell(values: list[float], percent: bool) -> str:
    scale = 100.0 if percent else 1.0
    array = np.array(values, dtype=np.float64) * scale
    if np.isnan(array).any():
        return "nan"
    digits = 1 if percent else 3
    if len(array) == 1:
        return f"{array[0]:.{digits}f}"
    return f"{array.mean():.{digits}f} ± {array.std(ddof=1):.{digits}f}"


def results_table(results: list[RowResult]) -> str:
    """Markdown table: one row per configuration, test mean ± std over seeds."""
    keys = METRIC_ORDER
    header = "| configuration | seeds | " + " | ".join(k.replace("_", " ") for k in keys) + " | epochs | wall (min) |"
    lines = [header, "|---|---|" + "---|" * (len(keys) + 2)]
    for result in results:
        cells = [_cell([t[k] for t in result.test], k not in ("mae", "corr")) for k in keys]
        wall = sum(result.wall_seconds) / 60
        epochs = ",".join(map(str, result.selected_epochs))
        lines.append(f"| {result.row.label} | {len(result.seeds)} | " + " | ".join(cells) + f" | {epochs} | {wall:.1f} |")
    return "\n".join(lines) + "\n"


def comparison_table(comparison: dict[str, dict[str, float]], reference: str, baseline: str) -> str:
    """Markdown table of the paired per-seed differences."""
    lines = [f"Paired per-seed differences, `{reference}` minus `{baseline}` (paired t-test; n = seeds):", "",
             "| metric | mean difference | p-value | n |", "|---|---|---|---|"]
    for key, values in comparison.items():
        scale = 1.0 if key in ("mae", "corr") else 100.0
        p = "n/a (needs 2+ seeds)" if values["n"] < 2 else f"{values['p_value']:.3f}"
        lines.append(f"| {key} | {values['mean_diff'] * scale:+.3f}{'' if scale == 1 else ' pts'} | {p} | {values['n']} |")
    return "\n".join(lines) + "\n"


def suite_by_name(name: str) -> Suite:
    """A shipped suite."""
    if name not in SUITES:
        raise ConfigError(f"unknown suite {name!r}; available: {', '.join(SUITES)}")
    return SUITES[name]


def write_results_page(suite: Suite, results: list[RowResult], path: str | Path, command: str,
                       images_markdown: str = "") -> Path:
    """The Markdown results page of a suite."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    by_key = {r.row.key: r for r in results}
    total = sum(sum(r.wall_seconds) for r in results)
    parts = [
        f"# Results: `{suite.name}` suite",
        "",
        f"Generated by `{command}` on {time.strftime('%Y-%m-%d')}.",
        "",
        f"- Machine: {machine_description()}.",
        f"- Preset: `{suite.preset}`; model selected on the validation split (MAE), test scored once per run.",
        f"- Total training wall time of the runs below: {total / 60:.1f} min.",
        "- Test metrics: mean ± sample std over seeds (a single value when one seed ran); accuracies and F1 in %.",
        *[f"- {note}" for note in suite.notes],
        "",
        results_table(results),
    ]
    if suite.reference in by_key and suite.baseline in by_key:
        comparison = paired_comparison(by_key[suite.reference], by_key[suite.baseline])
        parts += [comparison_table(comparison, suite.reference, suite.baseline)]
    if images_markdown:
        parts += ["## Pictures", "", images_markdown]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def summary_json(results: list[RowResult]) -> dict:
    """Machine-readable summary of every row."""
    return {r.row.key: {"seeds": r.seeds, "test": summarise(r.test), "wall_seconds": r.wall_seconds,
                        "selected_epochs": r.selected_epochs} for r in results}


def dump_summary(results: list[RowResult], path: Path) -> None:
    """Write `summary_json` to `path`."""
    path.write_text(json.dumps(summary_json(results), indent=2) + "\n", encoding="utf-8")


def run_benchmark_command(args) -> int:
    """`hscl benchmark`: run a suite (resumably) and write its results page with pictures."""
    from hscl.report import make_report, report_markdown

    suite = suite_by_name(args.suite)
    out_dir = Path(args.out or f"runs/benchmark-{suite.name}{'-quick' if args.quick else ''}")
    results = run_suite(suite, out_dir, quick=args.quick, extra=args.set)
    dump_summary(results, out_dir / "summary.json")
    page = Path(args.results or f"docs/results/{suite.name}.md")
    command = " ".join(["hscl benchmark --suite", suite.name, *(["--quick"] if args.quick else []),
                        *[f"--set {item}" for item in args.set or []]])
    images = ""
    if not args.no_report:
        run_dir = run_key_dir(out_dir, next(r for r in suite.rows if r.key == suite.report_row), results[0].seeds[0])
        pictures = make_report(run_dir, page.parent / "img" / suite.name)
        images = report_markdown(run_dir, pictures, relative_to=page.parent)
    write_results_page(suite, results, page, command, images)
    print(results_table(results), end="")
    print(f"results page: {page}; runs in {out_dir}")
    return 0


def add_benchmark_command(subparsers) -> None:
    """Register `hscl benchmark` on the CLI's subparsers."""
    parser = subparsers.add_parser("benchmark", help="run a results suite (resumable) and write its page")
    parser.add_argument("--suite", required=True, choices=sorted(SUITES))
    parser.add_argument("--quick", action="store_true", help="one seed and fewer epochs")
    parser.add_argument("--out", help="runs directory (default runs/benchmark-<suite>[-quick])")
    parser.add_argument("--results", help="results page to write (default docs/results/<suite>.md)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override for every row")
    parser.add_argument("--no-report", action="store_true", help="skip the pictures")
    parser.set_defaults(func=run_benchmark_command)
