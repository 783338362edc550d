"""What the tuning machinery adds to each trial, as a share of the trial's time.

A small study (`hscl.tune.study.run_study`, one worker, SQLite storage in a temporary folder, TPE and
the median pruner) on the demo preset shrunk to a small synthetic set, with the real
all-MiniLM-L6-v2 text encoder. Each trial is timed end to end (from before Optuna's `ask` to after
its `tell`), and inside it:

* training: the `Trainer` (model, data encoding, epochs, validation, selection), what any run pays;
* ask: creating the trial in the storage and the sampler's set-up;
* suggest: drawing each parameter (TPE) and writing it to the storage;
* prune checks: `trial.report` (a storage write) and `trial.should_prune` after each epoch;
* tell: finishing the trial in the storage;
* the rest of the trial (failing stale trials, config building, user attributes, tidying the run
  directory);
* between trials: `gc.collect` and the trial-count callback.

A trial's time is the worker's `optimize` time divided by the trials; the share of the machinery is
(that - training) / that. Opening the study (storage, definition check) happens once per worker and
is printed apart.

    nice .venv/bin/python benchmarks/tune.py [--trials 4] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import optuna

from _timing import configure_threads, format_table, load_line, machine_header, summarize
from hscl.training import trainer as trainer_module
from hscl.training.runtime import quiet_transformers
from hscl.training.trainer import load_data
from hscl.tune.space import read_space
from hscl.tune.study import TuneSettings, run_study

SMALL_SET = (
    "data.options.n_train=96",
    "data.options.n_valid=32",
    "data.options.n_test=32",
    "train.batch_size=32",
    "train.device=cpu",
)
SPACE = """
params:
  train.lr_main: {type: float, low: 3.0e-4, high: 3.0e-3, log: true}
  train.lr_bert: {type: float, low: 1.0e-5, high: 1.0e-4, log: true}
  loss.w1: {type: float, low: 1.0e-3, high: 0.3, log: true}
  loss.w2: {type: float, low: 1.0e-2, high: 1.0, log: true}
  loss.temperature: {type: float, low: 0.1, high: 1.0, log: true}
  model.d_prjh: {type: categorical, choices: [32, 64, 128]}
  train.epochs: {type: int, low: 1, high: 2}
"""

seconds: dict[str, list[float]] = defaultdict(list)  # stage -> one entry per call


@contextmanager
def replaced(owner: object, name: str, value: object):
    """`owner.name` is `value` while the block runs."""
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


def timed(function, stage: str):
    """`function`, adding the seconds of every call to `seconds[stage]`."""

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[stage].append(time.perf_counter() - started)

    return wrapper


class TimedTrainer(trainer_module.Trainer):
    """The trainer, its construction and run timed as one 'training' entry per trial."""

    def __init__(self, *args, **kwargs) -> None:
        self._started = time.perf_counter()
        super().__init__(*args, **kwargs)

    def run(self):
        try:
            return super().run()
        finally:
            seconds["training"].append(time.perf_counter() - self._started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    threads = configure_threads(args.threads)
    quiet_transformers()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(machine_header("hscl tune: tuning machinery per trial against training"))
    print(
        f"study: demo preset on {', '.join(SMALL_SET[:3])}; {args.trials} trials; SQLite storage; TPE; "
        f"median pruner; {threads} torch threads\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        space = Path(folder) / "space.yaml"
        space.write_text(SPACE)
        settings = TuneSettings(
            space=read_space(space), out=Path(folder) / "study", trials=args.trials, preset="demo", overrides=SMALL_SET
        )
        dataset = load_data(settings.base_config())  # loaded once, outside the trials, as a worker does
        stages = [
            (optuna.study.Study, "ask", "ask"),
            (optuna.trial.Trial, "_suggest", "suggest"),
            (optuna.trial.Trial, "report", "prune checks"),
            (optuna.trial.Trial, "should_prune", "prune checks"),
            (optuna.study._optimize, "_tell_with_warning", "tell"),
            (optuna.study._optimize, "_run_trial", "trial"),
            (optuna.study.Study, "optimize", "optimize"),
        ]
        with ExitStack() as stack:
            for owner, name, stage in stages:
                stack.enter_context(replaced(owner, name, timed(getattr(owner, name), stage)))
            stack.enter_context(replaced(trainer_module, "Trainer", TimedTrainer))
            started = time.perf_counter()
            run_study(settings, dataset=dataset, log=lambda _: None)
            whole = time.perf_counter() - started
    n = len(seconds["trial"])
    total = sum(seconds["optimize"])  # every trial of the worker, and what runs between them
    measured = {name: sum(seconds[name]) for name in ("training", "ask", "suggest", "prune checks", "tell")}
    measured["training"] -= measured["prune checks"]  # the checks run inside the trainer's epoch callback
    measured["rest of the trial"] = sum(seconds["trial"]) - sum(measured.values())
    measured["between trials"] = total - sum(seconds["trial"])  # gc.collect, the trial-count callback
    rows = [[name, f"{value / n * 1000:.1f}", f"{100 * value / total:.2f}"] for name, value in measured.items()]
    rows.append(["per trial, all of it", f"{total / n * 1000:.1f}", "100.00"])
    print(format_table(["part", "ms per trial", "% of trial time"], rows))
    overhead = total - measured["training"]
    print(
        f"\n{n} trials. Tuning machinery: {overhead / n * 1000:.1f} ms per trial = {100 * overhead / total:.2f} % of "
        f"trial time (target < 2 %); training per trial: median {summarize(seconds['training']).median:.1f} s, "
        f"min {summarize(seconds['training']).best:.1f} s. Opening the study (storage, checks): "
        f"{whole - total:.1f} s per worker, once."
    )
    print(load_line())


if __name__ == "__main__":
    main()
