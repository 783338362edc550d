"""Benchmark suites: a table of configurations x seeds, run resumably, written up as a results page.

A suite is data: a preset, rows of `--set` overrides, seeds. `run_suite` trains every (row, seed) that
has no finished run directory yet, so an interrupted suite continues where it stopped; with `jobs > 1`
it trains that many runs at once in separate processes (small runs leave a GPU mostly idle).
"""
from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import platform
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hscl.config import RunConfig, load_config
from hscl.data.types import MSADataset
from hscl.errors import ConfigError, HSCLError
from hscl.metrics import METRIC_KEYS, PERCENT_KEYS
from hscl.training import run_dir as layout
from hscl.training.runtime import quiet_transformers
from hscl.training.seeds import summarise
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
    """A preset, its rows and seeds, which split the page reports, and the row pairs to compare seed by seed.

    `split="test"` is a results table (each run selected on valid, scored once on test). `split="valid"`
    is a hyper-parameter study: its page shows validation metrics only, so choices made from it never
    look at test.
    """

    name: str
    preset: str
    rows: tuple[Row, ...]
    seeds: tuple[int, ...] = (1111, 1112, 1113, 1114, 1115)
    quick_overrides: tuple[str, ...] = ("train.epochs=2",)
    split: str = "test"
    comparisons: tuple[tuple[str, str], ...] = (("hscl", "text_only"),)  # (row, minus row), paired over seeds
    report_row: str = "hscl"  # whose first seed gets the pictures
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        keys = [row.key for row in self.rows]
        named = {self.report_row, *(key for pair in self.comparisons for key in pair)}
        if len(set(keys)) != len(keys) or not named <= set(keys) or self.split not in ("test", "valid"):
            raise ConfigError(f"suite {self.name!r}: row keys must be unique and include {sorted(named)}, "
                              f"and split must be test or valid (got {self.split!r})")


LONGER = ("train.epochs=20", "train.scheduler_step=12")  # the preset's budget doubled, its schedule stretched

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
        comparisons=(("hscl", "text_only"), ("hscl", "no_contrastive")),
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
    "mosi-utterance-study": Suite(
        name="mosi-utterance-study",
        preset="mosi-utterance",
        split="valid",
        seeds=(1111, 1112, 1113),
        quick_overrides=(),  # quick = the first seed only: fewer epochs would defeat the 20-epoch rows
        comparisons=(("hscl", "text_only"), ("hscl", "no_contrastive"), ("hscl_20", "text_only_20"),
                     ("hscl_20", "no_contrastive_20")),
        rows=(
            Row("text_only", "Text only", ("model.modalities=text",)),
            Row("no_contrastive", "Text + audio, no contrastive loss", NO_CONTRASTIVE),
            Row("hscl", "HSCL as in the preset (tau 0.5, w1 0.01, w2 0.1, alpha 0.1, 10 epochs)"),
            Row("text_only_20", "Text only, 20 epochs", ("model.modalities=text", *LONGER)),
            Row("no_contrastive_20", "Text + audio, no contrastive loss, 20 epochs", (*NO_CONTRASTIVE, *LONGER)),
            Row("hscl_20", "HSCL, 20 epochs", LONGER),
            Row("tau_0.1", "HSCL, temperature 0.1", ("loss.temperature=0.1",)),
            Row("tau_1", "HSCL, temperature 1.0", ("loss.temperature=1.0",)),
            Row("w1_0.1", "HSCL, unimodal weight w1 0.1", ("loss.w1=0.1",)),
            Row("w2_0.5", "HSCL, fusion weight w2 0.5", ("loss.w2=0.5",)),
            Row("w1_0.1_w2_0.5", "HSCL, w1 0.1 and w2 0.5", ("loss.w1=0.1", "loss.w2=0.5")),
            Row("alpha_1", "HSCL, similarity weight alpha 1.0", ("loss.alpha=1.0",)),
            Row("lr_bert_2e-5", "HSCL, text-encoder learning rate 2e-5", ("train.lr_bert=2e-5",)),
            Row("lr_bert_1e-4", "HSCL, text-encoder learning rate 1e-4", ("train.lr_bert=1e-4",)),
            Row("lr_main_3e-4", "HSCL, learning rate of the rest 3e-4", ("train.lr_main=3e-4",)),
        ),
        notes=(
            "A hyper-parameter study on the validation split: the table shows the validation metrics of each "
            "run's selected epoch. The runs also scored test once (trainer), but those numbers were not read "
            "for this study.",
        ),
    ),
}


@dataclass
class RowResult:
    """Finished runs of one row: per-seed metrics (of the suite's split), wall times and machines."""

    row: Row
    seeds: list[int]
    metrics: list[dict[str, float]]
    wall_seconds: list[float]
    selected_epochs: list[int]
    selection_values: list[float] = dataclasses.field(default_factory=list)  # valid selection metric, selected epoch
    machines: list[str] = dataclasses.field(default_factory=list)
    concurrent_runs: list[int] = dataclasses.field(default_factory=list)


def run_key_dir(out_dir: Path, row: Row, seed: int) -> Path:
    """Where a (row, seed) run lives."""
    return out_dir / row.key / f"seed_{seed}"


def is_finished(run_dir: Path) -> bool:
    """A run counts as finished once the suite has recorded its wall time, after training returned."""
    return (run_dir / layout.TEST_FILE).is_file() and (run_dir / WALL_FILE).is_file()


_DATASETS: dict[str, MSADataset] = {}  # per process: the last data config's dataset, reused by the runs sharing it


def train_and_mark(config: RunConfig, run_dir: Path, concurrent_runs: int = 1, threads: int | None = None) -> dict:
    """Train one suite run from scratch, then write its completion mark (wall time and machine); return the mark."""
    if threads is not None:
        torch.set_num_threads(threads)
    key = repr(config.data)
    if key not in _DATASETS:
        _DATASETS.clear()
        _DATASETS[key] = load_data(config)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    started = time.perf_counter()
    train(config, run_dir, _DATASETS[key])
    mark = {"seconds": round(time.perf_counter() - started, 1), "machine": machine_description(),
            "concurrent_runs": concurrent_runs}
    layout.write_json(run_dir / WALL_FILE, mark)
    (run_dir / layout.CHECKPOINT_FILE).unlink(missing_ok=True)  # a finished run is never resumed
    return mark


def run_suite(suite: Suite, out_dir: str | Path, quick: bool = False, extra: list[str] | None = None,
              jobs: int = 1, log=print) -> list[RowResult]:
    """Train every unfinished (row, seed) of `suite` into `out_dir`, `jobs` at a time; return all rows' results.

    A failed run stops the suite: no new run starts, those in flight finish, and an `HSCLError` names the
    failure. Finished runs are kept either way, so running the suite again carries on.
    """
    if jobs < 1:
        raise ConfigError(f"jobs must be at least 1; got {jobs}")
    out_dir = Path(out_dir)
    seeds = suite.seeds[:1] if quick else suite.seeds
    common = list(suite.quick_overrides if quick else ()) + list(extra or [])
    configs = {row.key: load_config(preset=suite.preset, overrides=[*common, *row.overrides]) for row in suite.rows}
    pending = []
    for row in suite.rows:
        for seed in seeds:
            if is_finished(run_key_dir(out_dir, row, seed)):
                log(f"[{row.key} seed {seed}] finished earlier, kept")
                continue
            config = configs[row.key]
            pending.append((row, seed, dataclasses.replace(
                config, train=dataclasses.replace(config.train, seed=seed, progress=False))))
    if jobs == 1 or len(pending) <= 1:
        for row, seed, config in pending:
            log(f"[{row.key} seed {seed}] training")
            train_and_mark(config, run_key_dir(out_dir, row, seed))
        _DATASETS.clear()
    else:
        _run_parallel(pending, out_dir, jobs, log)
    return [collect_row(out_dir, row, list(seeds), suite.split) for row in suite.rows]


def _run_parallel(pending: list[tuple[Row, int, RunConfig]], out_dir: Path, jobs: int, log) -> None:
    """Train `pending` runs in `jobs` spawned processes, sharing the CPU threads; start none after a failure."""
    jobs = min(jobs, len(pending))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    log(f"training {len(pending)} runs, {jobs} at a time ({threads} CPU threads each)")
    queue = list(reversed(pending))
    failure: tuple[str, BaseException] | None = None
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=quiet_transformers) as pool:
        running: dict[Future, tuple[str, Path]] = {}
        while running or (queue and failure is None):
            while queue and failure is None and len(running) < jobs:
                row, seed, config = queue.pop()
                run_dir = run_key_dir(out_dir, row, seed)
                running[pool.submit(train_and_mark, config, run_dir, jobs, threads)] = (f"[{row.key} seed {seed}]", run_dir)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                (name, run_dir), error = running.pop(future), future.exception()
                if error is None:
                    selection = layout.read_json(run_dir / layout.SELECTION_FILE)
                    log(f"{name} finished in {future.result()['seconds']:.0f} s (selected epoch {selection['epoch']}, "
                        f"valid {selection['metric']} {selection['valid'][selection['metric']]:.4f})")
                else:
                    log(f"{name} failed: {error}")
                    failure = failure or (name, error)
    if failure is not None:
        name, error = failure
        raise HSCLError(f"suite run {name} failed: {error}; the runs that finished are kept, "
                        "run the suite again to carry on") from error


def collect_row(out_dir: Path, row: Row, seeds: list[int], split: str = "test") -> RowResult:
    """Read the finished runs of `row` back from disk, with the metrics of `split` (test, or valid: the selected epoch's)."""
    result = RowResult(row, seeds, [], [], [])
    for seed in seeds:
        run_dir = run_key_dir(out_dir, row, seed)
        mark = layout.read_json(run_dir / WALL_FILE)
        selection = layout.read_json(run_dir / layout.SELECTION_FILE)
        result.metrics.append(selection["valid"] if split == "valid" else layout.read_json(run_dir / layout.TEST_FILE))
        result.wall_seconds.append(float(mark["seconds"]))
        result.selected_epochs.append(int(selection["epoch"]))
        result.selection_values.append(float(selection["valid"][selection["metric"]]))
        result.machines.append(str(mark.get("machine", "not recorded")))
        result.concurrent_runs.append(int(mark.get("concurrent_runs", 1)))
    return result


def paired_comparison(reference: RowResult, baseline: RowResult) -> dict[str, dict[str, float]]:
    """Per-metric mean of the per-seed differences (reference - baseline) and a paired t-test p-value."""
    from scipy import stats

    comparison = {}
    for key in METRIC_KEYS:
        diffs = np.array([r[key] - b[key] for r, b in zip(reference.metrics, baseline.metrics)], dtype=np.float64)
        p_value = float("nan")
        if len(diffs) > 1 and np.std(diffs) > 0:
            p_value = float(stats.ttest_rel([r[key] for r in reference.metrics], [b[key] for b in baseline.metrics]).pvalue)
        comparison[key] = {"mean_diff": float(diffs.mean()), "p_value": p_value, "n": len(diffs)}
    return comparison


def machine_description() -> str:
    """CPU model, core count, GPU, Python and torch versions."""
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


def results_table(results: list[RowResult], selection_column: bool = False) -> str:
    """Markdown table: one row per configuration, mean ± std over seeds (and the validation selection value)."""
    keys = METRIC_KEYS
    extra = ["valid (selection)"] if selection_column else []
    header = "| configuration | seeds | " + " | ".join([k.replace("_", " ") for k in keys] + extra) + " | epochs | wall (min) |"
    lines = [header, "|---|---|" + "---|" * (len(keys) + len(extra) + 2)]
    for result in results:
        cells = [_cell([m[k] for m in result.metrics], k in PERCENT_KEYS) for k in keys]
        if selection_column:
            cells.append(_cell(result.selection_values, False))
        wall = sum(result.wall_seconds) / 60
        epochs = ",".join(map(str, result.selected_epochs))
        lines.append(f"| {result.row.label} | {len(result.seeds)} | " + " | ".join(cells) + f" | {epochs} | {wall:.1f} |")
    return "\n".join(lines) + "\n"


def comparison_table(comparison: dict[str, dict[str, float]], reference: str, baseline: str,
                     split: str = "test") -> str:
    """Markdown table of the paired per-seed differences."""
    lines = [f"Paired per-seed differences of {split} metrics, `{reference}` minus `{baseline}` "
             "(paired t-test; n = seeds):", "",
             "| metric | mean difference | p-value | n |", "|---|---|---|---|"]
    for key, values in comparison.items():
        scale = 100.0 if key in PERCENT_KEYS else 1.0
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
    machines = sorted({machine for r in results for machine in r.machines})
    at_once = max((n for r in results for n in r.concurrent_runs), default=1)
    overlap = f" (summed over runs, which ran up to {at_once} at a time)" if at_once > 1 else ""
    parts = [
        f"# Results: `{suite.name}` suite",
        "",
        f"Generated by `{command}` on {time.strftime('%Y-%m-%d')}.",
        "",
        f"- Runs trained on: {'; '.join(machines)}.",
        f"- Preset: `{suite.preset}`; model selected on the validation split (MAE), test scored once per run.",
        f"- Total training wall time of the runs below: {total / 60:.1f} min{overlap}.",
        f"- {'Test' if suite.split == 'test' else 'Validation'} metrics{'' if suite.split == 'test' else ' (of the selected epoch)'}: "
        "mean ± sample std over seeds (a single value when one seed ran); accuracies and F1 in %.",
        *(["- `valid (selection)`: the validation MAE of each run's selected epoch, what the runs were "
           "selected on and the only column to compare rows by without looking at test."]
          if suite.split == "test" else []),
        *[f"- {note}" for note in suite.notes],
        "",
        results_table(results, selection_column=suite.split == "test"),
    ]
    for reference, baseline in suite.comparisons:
        if reference in by_key and baseline in by_key:
            comparison = paired_comparison(by_key[reference], by_key[baseline])
            parts += [comparison_table(comparison, reference, baseline, suite.split)]
    if images_markdown:
        parts += ["## Pictures", "", images_markdown]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def summary_json(results: list[RowResult], split: str = "test") -> dict:
    """Machine-readable summary of every row: mean and std, and every seed's metrics (of the suite's split)."""
    return {"split": split, "rows": {r.row.key: {"label": r.row.label, "seeds": r.seeds, "mean_std": summarise(r.metrics),
                        "per_seed": r.metrics, "wall_seconds": r.wall_seconds,
                        "selected_epochs": r.selected_epochs, "selection_values": r.selection_values,
                                 "machines": r.machines} for r in results}}


def dump_summary(results: list[RowResult], path: Path, split: str = "test") -> None:
    """Write `summary_json` to `path`."""
    path.write_text(json.dumps(summary_json(results, split), indent=2) + "\n", encoding="utf-8")


def run_benchmark_command(args) -> int:
    """`hscl benchmark`: run a suite (resumably) and write its results page with pictures."""
    from hscl.report import make_report, report_markdown

    suite = suite_by_name(args.suite)
    name = f"{suite.name}{'-quick' if args.quick else ''}"
    out_dir = Path(args.out or f"runs/benchmark-{name}")
    results = run_suite(suite, out_dir, quick=args.quick, extra=args.set, jobs=args.jobs)
    page = Path(args.results or f"docs/results/{name}.md")
    page.parent.mkdir(parents=True, exist_ok=True)
    dump_summary(results, out_dir / "summary.json", suite.split)
    dump_summary(results, page.with_suffix(".json"), suite.split)
    command = " ".join(["hscl benchmark --suite", suite.name, *(["--quick"] if args.quick else []),
                        *([f"--jobs {args.jobs}"] if args.jobs > 1 else []),
                        *[f"--set {item}" for item in args.set or []]])
    images = ""
    if not args.no_report:
        run_dir = run_key_dir(out_dir, next(r for r in suite.rows if r.key == suite.report_row), results[0].seeds[0])
        pictures = make_report(run_dir, page.parent / "img" / name)
        images = report_markdown(run_dir, pictures, relative_to=page.parent)
    write_results_page(suite, results, page, command, images)
    print(results_table(results), end="")
    print(f"results page: {page}; runs in {out_dir}")
    return 0


def add_benchmark_command(subparsers) -> None:
    """Register `hscl benchmark` on the CLI's subparsers."""
    parser = subparsers.add_parser("benchmark", help="run a results suite (resumable) and write its page")
    parser.add_argument("--suite", required=True, choices=sorted(SUITES))
    parser.add_argument("--quick", action="store_true",
                        help="the first seed only, with fewer epochs where the suite sets them (mosi-utterance: 2)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs trained at once, each in its own process (e.g. several on one GPU)")
    parser.add_argument("--out", help="runs directory (default runs/benchmark-<suite>[-quick])")
    parser.add_argument("--results", help="results page to write, with its .json summary beside it "
                                          "(default docs/results/<suite>[-quick].md)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override for every row")
    parser.add_argument("--no-report", action="store_true", help="skip the pictures")
    parser.set_defaults(func=run_benchmark_command)
