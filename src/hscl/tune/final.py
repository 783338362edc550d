"""Test once: train the study's best config and the base config over the same seeds, score test once per
run, and write the results page (the study, its pictures, the best config, the paired comparison)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hscl.benchmark.page import comparison_table, paired_comparison, results_table, summary_json
from hscl.benchmark.runner import RowResult, collect_row, run_key_dir, train_and_mark
from hscl.benchmark.suites import Row
from hscl.config import load_config
from hscl.files import open_atomic, write_text
from hscl.metrics import PERCENT_KEYS
from hscl.provenance import code_version
from hscl.training.run_records import RunDir
from hscl.tune.outputs import BEST_YAML, IMAGES_DIR, completed
from hscl.tune.pictures import PICTURES, picture_notes
from hscl.tune.study import TuneSettings

if TYPE_CHECKING:
    import optuna

    from hscl.config import RunConfig

FINAL_DIR = "final"
PRUNING = {
    "median": "median pruner on each epoch's validation {metric}",
    "hyperband": "Hyperband pruner on each epoch's validation {metric}",
    "none": "no pruning",
}
TUNED = Row("tuned", "Tuned on validation (best.yaml)")
BASE = Row("base", "Base config (no tuning)")


def check_page(settings: TuneSettings, page: Path) -> None:
    """The results page of `--final-seeds`, its .json and its pictures folder checked before the study runs: writable,
    and none of them what the study reads or keeps (its inputs, its storage, its trial and final runs)."""
    from hscl.errors import ConfigError
    from hscl.files import check_output_file, check_output_folder
    from hscl.tune.study import TRIALS_DIR, storage_file, study_inputs

    if page.suffix != ".md":
        raise ConfigError(f"--results {page}: a results page is Markdown; give a file name ending in .md")
    reads = [*study_inputs(settings), storage_file(settings), settings.out / TRIALS_DIR, settings.out / FINAL_DIR]
    check_output_file(page, reads)
    check_output_file(page.with_suffix(".json"), reads)
    check_output_folder(page.parent / IMAGES_DIR / page.stem, reads)


def run_final(
    study: optuna.Study,
    settings: TuneSettings,
    seeds: list[int],
    page: Path,
    command: str,
    log: Callable[[str], None] = print,
) -> Path:
    """Train best.yaml and the base config once per seed (skipping finished runs), then write `page` and its .json."""
    out = settings.out / FINAL_DIR
    configs = {
        TUNED.key: lambda seed: load_config(
            path=settings.out / BEST_YAML, overrides=[f"train.seed={seed}", "train.progress_bar=false"]
        ),
        BASE.key: lambda seed: load_config(
            preset=settings.preset,
            path=settings.config_path,
            overrides=[*settings.overrides, f"train.seed={seed}", "train.progress_bar=false"],
        ),
    }
    searched = [param.path for param in settings.space.params]
    for row in (TUNED, BASE):
        for seed in seeds:
            run_dir = run_key_dir(out, row, seed)
            config = configs[row.key](seed)
            finished = RunDir(run_dir).is_complete()
            if finished and same_values(RunDir(run_dir).read_config(), config, searched):
                log(f"[final {row.key} seed {seed}] finished earlier, kept")
                continue
            log(f"[final {row.key} seed {seed}] training, then test once")
            train_and_mark(config, run_dir)
    results = [collect_row(out, row, list(seeds)) for row in (TUNED, BASE)]
    return write_page(study, settings, results, page, command)


def same_values(trained: RunConfig, wanted: RunConfig, paths: list[str]) -> bool:
    """Whether a finished run was trained with `wanted`'s values at `paths` (a study carried on may pick a new best)."""
    trained_values, wanted_values = trained.to_dict(), wanted.to_dict()
    return all(_lookup(trained_values, path) == _lookup(wanted_values, path) for path in paths)


def _lookup(values: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        values = values[part]
    return values


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _format(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else json.dumps(value)


def describe(spec: dict[str, Any]) -> str:
    """A space entry in a few characters: `float [0.1, 1] log`, `int [3, 10]`, `one of 64, 128`."""
    if spec["type"] == "categorical":
        return "one of " + ", ".join(json.dumps(c) for c in spec["choices"])
    scale = " log" if spec.get("log") else ""
    step = f" step {spec['step']}" if spec.get("step") is not None else ""
    return f"{spec['type']} [{_format(spec['low'])}, {_format(spec['high'])}]{scale}{step}"


def study_facts(study: optuna.Study, settings: TuneSettings) -> dict[str, Any]:
    """What the page says about the study: trials by state, wall time, the best trial against the base."""
    states: dict[str, int] = {}
    for trial in study.trials:
        states[trial.state.name.lower()] = states.get(trial.state.name.lower(), 0) + 1
    finished = [t for t in study.trials if t.datetime_start and t.datetime_complete]
    elapsed = (
        (max(t.datetime_complete for t in finished) - min(t.datetime_start for t in finished)).total_seconds()
        if finished
        else 0.0
    )
    base = settings.base_config().to_dict()
    best = study.best_trial
    return {
        "name": settings.name,
        "trials": len(study.trials),
        "states": states,
        "trial_seconds": [round(t.duration.total_seconds(), 1) for t in finished],
        "elapsed_seconds": round(elapsed, 1),
        "best_trial": best.number,
        "best_value": best.value,
        "best_selected_epoch": best.user_attrs.get("selected_epoch"),
        "best_params": best.params,
        "base_params": {p.path: _lookup(base, p.path) for p in settings.space.params},
        "space": settings.space.to_dict(),
        "pinned": list(settings.pinned),
        "pruner": settings.pruner,
        "sampler_seed": settings.sampler_seed,
        "metric": study.user_attrs["hscl"]["metric"],
        "trial_seed": settings.base_config().train.seed,
    }


def verdict(comparison: dict[str, dict[str, float]], metric: str, seeds: int) -> str:
    """One sentence: the tuned-minus-base test difference of `metric` and whether it is significant at 5 %."""
    values = comparison[metric]
    scale, unit = (100.0, " points") if metric in PERCENT_KEYS else (1.0, "")
    better = values["mean_diff"] < 0 if metric == "mae" else values["mean_diff"] > 0
    p = values["p_value"]
    significance = "n/a" if math.isnan(p) else ("significant at 5 %" if p < 0.05 else "not significant at 5 %")
    return (
        f"On test, over {seeds} seeds, tuned minus base {metric} is {values['mean_diff'] * scale:+.3f}{unit} "
        f"({'better' if better else 'not better'}; paired t-test p = {p:.3f}, {significance})."
    )


def write_page(study: optuna.Study, settings: TuneSettings, results: list[RowResult], page: Path, command: str) -> Path:
    """The results page of a study and its test-once comparison, with a .json of the same numbers beside it."""
    facts = study_facts(study, settings)
    images = page.parent / IMAGES_DIR / page.stem
    pictures = []
    for name in PICTURES:  # the study's pictures as they are now; one it no longer draws goes from the page too
        source, target = settings.out / IMAGES_DIR / f"{name}.png", images / f"{name}.png"
        if not source.is_file():
            target.unlink(missing_ok=True)
            continue
        with open_atomic(target, binary=True) as handle:
            handle.write(source.read_bytes())
        pictures.append(f"![{name}]({target.relative_to(page.parent).as_posix()})")
    tuned, base = results
    comparison = paired_comparison(tuned, base)
    metric = facts["metric"]
    base_name = f"preset `{settings.preset}`" if settings.preset else f"config `{settings.config_path}`"
    setting = base_name + "".join(f", `--set {item}`" for item in settings.overrides)
    states = ", ".join(f"{n} {s}" for s, n in facts["states"].items())
    trial_minutes = sum(facts["trial_seconds"]) / 60
    rows = [
        f"| `{path}` | {_format(facts['base_params'][path])} | **{_format(value)}** | "
        f"{describe(facts['space'][path])} |"
        for path, value in facts["best_params"].items()
    ]
    parts = [
        f"# Results: hyper-parameter study `{facts['name']}`, then test once",
        "",
        f"Generated by `{command}` on {time.strftime('%Y-%m-%d')} with code version {code_version()}; the final "
        f"runs were trained with {', '.join(sorted(set(base.code_versions + tuned.code_versions)))}.",
        "",
        f"- Base: {setting}. Machine: {'; '.join(sorted(set(base.machines + tuned.machines)))}.",
        f"- Study: {facts['trials']} trials ({states}), TPE sampler (seed {facts['sampler_seed']}), "
        f"{PRUNING[facts['pruner']].format(metric=metric)}; objective: the selected epoch's "
        f"validation {metric}, every trial with training seed {facts['trial_seed']}. The test split was "
        "dropped from the data before each trial: never encoded, projected or scored during the study.",
        f"- Study wall time: {facts['elapsed_seconds'] / 60:.1f} min elapsed, "
        f"{trial_minutes:.1f} min summed over trials.",
        *(
            [f"- Fixed by `--set`, not searched: {', '.join(f'`{p}`' for p in facts['pinned'])}."]
            if facts["pinned"]
            else []
        ),
        "",
        f"## Best trial: {facts['best_trial']} (validation {metric} {facts['best_value']:.4f}, "
        f"selected epoch {facts['best_selected_epoch']})",
        "",
        "| field | base | best | searched over |",
        "|---|---|---|---|",
        *rows,
        "",
        "## Test once: best config against the base, same seeds",
        "",
        f"Each run selected its epoch on validation and scored test once; both rows use the same seeds and the "
        f"same budget except where the best config differs. {verdict(comparison, metric, len(tuned.seeds))} "
        f"The best trial's validation {metric} ({facts['best_value']:.4f}) was measured with one training seed; "
        f"over the seeds below the same config's is {_mean(tuned.selection_values):.4f} (base "
        f"{_mean(base.selection_values):.4f}).",
        "",
        results_table(results, selection_column=True),
        comparison_table(comparison, TUNED.key, BASE.key),
        "## The study",
        "",
        *pictures,
        "",
        *(f"*{note}*\n" for note in picture_notes(study, settings.space).values()),
    ]
    write_text(page, "\n".join(parts))
    payload = {
        "study": facts,
        "final": summary_json(results),
        "comparison": comparison,
        "completed_trials": len(completed(study)),
    }
    write_text(page.with_suffix(".json"), json.dumps(payload, indent=2, default=str) + "\n")
    return page
