"""Several seeds of one config, and the mean ± std summary across them."""

from __future__ import annotations

from pathlib import Path

from hscl.config import RunConfig
from hscl.config.train import check_seeds
from hscl.data.loading import load_data
from hscl.data.types import MSADataset
from hscl.files import FolderLock, clear_dir
from hscl.metrics import METRIC_KEYS, PERCENT_KEYS
from hscl.training.mean_std import MeanStd, mean_std_cell, summarise
from hscl.training.run_records import RunDir, SeedsSummary
from hscl.training.runtime import show_progress_logs
from hscl.training.trainer import RunResult, Trainer


def summary_markdown(name: str, seeds: list[int], test: dict[str, MeanStd]) -> str:
    """A Markdown table of test mean ± std (accuracies and F1 in percent)."""
    keys = [k for k in METRIC_KEYS if k in test]
    header = "| run | seeds | " + " | ".join(keys) + " |"
    rule = "|---|---|" + "---|" * len(keys)
    cells = [mean_std_cell(test[key], key in PERCENT_KEYS) for key in keys]
    row = f"| {name} | {' '.join(map(str, seeds))} | " + " | ".join(cells) + " |"
    return "\n".join([header, rule, row]) + "\n"


def seed_dir(out_dir: str | Path, seed: int) -> Path:
    """Where the run of `seed` lives in a multi-seed run."""
    return Path(out_dir) / f"seed_{seed}"


def train_seeds(
    config: RunConfig,
    seeds: list[int],
    out_dir: str | Path,
    dataset: MSADataset | None = None,
    *,
    overwrite: bool = False,
    command: str | None = None,
) -> list[RunResult]:
    """Train `config` once per seed into `out_dir/seed_<seed>` and write summary.json / summary.md.

    `out_dir` must be new or empty, or hold runs to replace with `overwrite`: it is cleared only once the
    first seed's trainer is built (config, data and text model checked).
    """
    check_seeds(seeds)
    show_progress_logs()
    out = RunDir(out_dir)
    inputs = [config.data.path, config.check_text_model().path]
    out.check_new(overwrite, inputs)
    with FolderLock(out.path):  # one writer: a second `--seeds` run into the same folder is refused
        out.check_new(overwrite, inputs)
        dataset = dataset if dataset is not None else load_data(config.data)
        results = []
        for number, seed in enumerate(seeds):
            seeded = config.replace(train=config.train.replace(seed=seed))
            trainer = Trainer(seeded, seed_dir(out_dir, seed), dataset, overwrite=overwrite, command=command)
            if number == 0:  # the first seed's own folder is cleared by its trainer
                clear_dir(out.path, keep=[seed_dir(out_dir, seed).name])
            results.append(trainer.run())
        _write_summary(out, config, seeds, results)
    return results


def _write_summary(out: RunDir, config: RunConfig, seeds: list[int], results: list[RunResult]) -> None:
    test = summarise([r.test_metrics for r in results])
    out.write_summary(
        SeedsSummary(
            config.name,
            list(seeds),
            test,
            summarise([r.valid_metrics for r in results]),
            [r.best_epoch for r in results],
            [round(r.wall_seconds, 1) for r in results],
        ),
        summary_markdown(config.name, seeds, test),
    )
