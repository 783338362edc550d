"""Train a suite's runs: every unfinished (row, seed), one at a time or several in parallel processes.

A suite run directory counts as finished once the runner has written its completion mark, after training
returned, so an interrupted suite carries on where it stopped.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import re
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

import torch

from hscl.benchmark.suites import Row, Suite
from hscl.config import RunConfig, load_config
from hscl.data.loading import load_data
from hscl.data.types import MSADataset
from hscl.errors import ConfigError, HSCLError
from hscl.provenance import code_version, machine_description
from hscl.training.run_records import CompletionMark, RunDir
from hscl.training.runtime import quiet_worker
from hscl.training.trainer import train


@dataclasses.dataclass
class RowResult:
    """Finished runs of one row: per-seed test metrics, wall times and machines."""

    row: Row
    seeds: list[int]
    metrics: list[dict[str, float]]
    wall_seconds: list[float]
    selected_epochs: list[int]
    selection_values: list[float] = dataclasses.field(default_factory=list)  # valid selection metric, selected epoch
    machines: list[str] = dataclasses.field(default_factory=list)
    concurrent_runs: list[int] = dataclasses.field(default_factory=list)
    code_versions: list[str] = dataclasses.field(default_factory=list)
    threads: list[int | None] = dataclasses.field(default_factory=list)  # torch CPU threads (None: not recorded)


def run_key_dir(out_dir: Path, row: Row, seed: int) -> Path:
    """Where a (row, seed) run lives."""
    return out_dir / row.key / f"seed_{seed}"


_DATASETS: dict[str, MSADataset] = {}  # per process: the last data config's dataset, reused by the runs sharing it


def train_and_mark(
    config: RunConfig, run_dir: Path, concurrent_runs: int = 1, threads: int | None = None
) -> CompletionMark:
    """Train one suite run from scratch, then write its completion mark (wall time and machine); return the mark.

    An unfinished run already in `run_dir` (one the suite was stopped in) is deliberately replaced.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    key = repr(config.data)
    if key not in _DATASETS:
        _DATASETS.clear()
        _DATASETS[key] = load_data(config.data)
    started = time.perf_counter()
    train(config, run_dir, _DATASETS[key], overwrite=True)
    mark = CompletionMark(
        round(time.perf_counter() - started, 1), machine_description(), concurrent_runs, code_version()
    )
    run = RunDir(run_dir)
    run.write_completion(mark)
    run.drop_checkpoint()  # a finished run is never resumed
    return mark


def run_suite(
    suite: Suite, out_dir: str | Path, quick: bool = False, extra: list[str] | None = None, jobs: int = 1, log=print
) -> list[RowResult]:
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
            if RunDir(run_key_dir(out_dir, row, seed)).is_complete():
                log(f"[{row.key} seed {seed}] finished earlier, kept")
                continue
            config = configs[row.key]
            pending.append((row, seed, config.replace(train=config.train.replace(seed=seed, progress_bar=False))))
    if jobs == 1 or len(pending) <= 1:
        for row, seed, config in pending:
            log(f"[{row.key} seed {seed}] training")
            train_and_mark(config, run_key_dir(out_dir, row, seed))
        _DATASETS.clear()
    else:
        _run_parallel(pending, out_dir, jobs, log)
    return [collect_row(out_dir, row, list(seeds)) for row in suite.rows]


def _run_parallel(pending: list[tuple[Row, int, RunConfig]], out_dir: Path, jobs: int, log) -> None:
    """Train `pending` runs in `jobs` spawned processes, sharing the CPU threads; start none after a failure."""
    jobs = min(jobs, len(pending))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    log(f"training {len(pending)} runs, {jobs} at a time ({threads} CPU threads each)")
    queue = list(reversed(pending))
    failure: tuple[str, BaseException] | None = None
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn"), initializer=quiet_worker
    ) as pool:
        running: dict[Future, tuple[str, Path]] = {}
        while running or (queue and failure is None):
            while queue and failure is None and len(running) < jobs:
                row, seed, config = queue.pop()
                run_dir = run_key_dir(out_dir, row, seed)
                running[pool.submit(train_and_mark, config, run_dir, jobs, threads)] = (
                    f"[{row.key} seed {seed}]",
                    run_dir,
                )
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                (name, run_dir), error = running.pop(future), future.exception()
                if error is None:
                    selection = RunDir(run_dir).read_selection()
                    log(
                        f"{name} finished in {future.result().seconds:.0f} s (selected epoch {selection.epoch}, "
                        f"valid {selection.metric} {selection.value:.4f})"
                    )
                else:
                    log(f"{name} failed: {error}")
                    failure = failure or (name, error)
    if failure is not None:
        name, error = failure
        raise HSCLError(
            f"suite run {name} failed: {error}; the runs that finished are kept, run the suite again to carry on"
        ) from error


def collect_row(out_dir: Path, row: Row, seeds: list[int]) -> RowResult:
    """Read the finished runs of `row` back from disk, with their test metrics."""
    result = RowResult(row, seeds, [], [], [])
    for seed in seeds:
        run = RunDir(run_key_dir(out_dir, row, seed))
        mark = run.read_completion()
        selection = run.read_selection()
        result.metrics.append(run.read_test_metrics())
        result.wall_seconds.append(mark.seconds)
        result.selected_epochs.append(selection.epoch)
        result.selection_values.append(selection.value)
        result.machines.append(mark.machine)
        result.concurrent_runs.append(mark.concurrent_runs)
        result.code_versions.append(mark.code_version)
        result.threads.append(run_threads(run, mark))
    return result


def run_threads(run: RunDir, mark: CompletionMark) -> int | None:
    """The torch CPU threads a suite run trained with: from its sessions, or (older runs) the machine line."""
    sessions = run.read_sessions()
    if sessions:
        return sessions[0].threads
    found = re.search(r"\((\d+) threads\)", mark.machine)
    return int(found.group(1)) if found else None
