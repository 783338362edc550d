"""An Optuna study over a search space: storage, sampler, pruner, the objective, and its worker processes.

The objective trains one configuration without the test split (`Trainer(score_test=False)`, the split
dropped from the data before the trainer sees it) and returns the selected epoch's validation value of
`train.select_metric`; each epoch's validation value goes to the pruner. Study state lives in an Optuna
storage (by default `STUDY_DIR/study.db`, SQLite), so re-running carries a study on and workers in
several processes or on several machines share it. `--trials N` is the study's total: a worker stops
once the study holds N trials in any state.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import multiprocessing
import os
import platform
import shutil
import signal
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hscl.config import load_config
from hscl.errors import ConfigError, HSCLError
from hscl.files import check_output_folder
from hscl.metric_names import LOWER_IS_BETTER
from hscl.tune.space import SearchSpace, check_space, trial_config

if TYPE_CHECKING:
    import optuna

    from hscl.config import RunConfig
    from hscl.data.types import MSADataset

logger = logging.getLogger("hscl.tune")
PRUNERS = ("median", "hyperband", "none")
KEEP = ("metrics", "run")  # what a finished trial keeps: its records only, or the whole run directory (model)
STORAGE_FILE = "study.db"
INTERRUPT_GRACE = 10.0  # seconds a worker gets to stop on its own after Ctrl-C before it is sent SIGINT
MAX_RETRIES = 2  # a trial whose worker was killed or lost is run again (same values) at most this many times
TRIALS_DIR = "trials"
# train.* fields that may differ between workers of one study: how a trial runs, not what it trains
RUNTIME_FIELDS = ("device", "progress_bar", "keep_checkpoint")


@dataclass(frozen=True)
class TuneSettings:
    """Everything a study worker needs: what is searched (the same for every worker) and how it runs."""

    space: SearchSpace
    out: Path
    trials: int
    preset: str | None = None
    config_path: str | None = None
    overrides: tuple[str, ...] = ()
    storage: str | None = None  # an Optuna storage URL, or journal:FILE; None: sqlite in `out`
    study_name: str | None = None  # None: the name of `out`
    jobs: int = 1
    timeout: float | None = None  # seconds per worker after which it starts no new trial
    sampler_seed: int = 0
    pruner: str = "median"
    keep: str = "metrics"
    heartbeat: int = 60  # seconds between a running trial's signs of life (RDB storages)
    pinned: tuple[str, ...] = ()  # space paths fixed by --set, not searched

    @property
    def name(self) -> str:
        """The study's name in its storage."""
        return self.study_name or self.out.resolve().name

    @property
    def storage_url(self) -> str:
        """The storage this study uses."""
        return self.storage or f"sqlite:///{(self.out / STORAGE_FILE).resolve()}"

    def base_config(self) -> RunConfig:
        """The config every trial starts from (preset or file, then --set)."""
        return load_config(preset=self.preset, path=self.config_path, overrides=list(self.overrides))

    def config_for(self, params: dict[str, Any], *extra: str) -> RunConfig:
        """The config of a trial with searched values `params`; `extra` overrides go before them."""
        return trial_config(self.preset, self.config_path, [*self.overrides, *extra], params)


def validated(settings: TuneSettings) -> TuneSettings:
    """`settings` checked in full before anything runs or is written; paths pinned by --set leave the space."""
    for name, value, least in (
        ("--trials", settings.trials, 1),
        ("--jobs", settings.jobs, 1),
        ("--heartbeat", settings.heartbeat, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{name} must be an integer of at least {least}; got {value!r}")
    if settings.timeout is not None and not (math.isfinite(settings.timeout) and settings.timeout > 0):
        raise ConfigError(f"--timeout must be a positive number of seconds; got {settings.timeout!r}")
    if settings.pruner not in PRUNERS:
        raise ConfigError(f"--pruner {settings.pruner!r}: expected one of {', '.join(PRUNERS)}")
    if settings.keep not in KEEP:
        raise ConfigError(f"--keep {settings.keep!r}: expected one of {', '.join(KEEP)}")
    base = settings.base_config()  # the base config is valid (select_metric among them)
    check_output_folder(settings.out, study_inputs(settings, base))
    pinned = pinned_paths(settings)
    space = settings.space.without(set(pinned))
    if not space.params:
        raise ConfigError(f"{settings.space.source}: every searched path is fixed by --set; nothing to search")
    check_space(space, settings.preset, settings.config_path, list(settings.overrides))
    check_storage_url(settings.storage)
    return dataclasses.replace(settings, space=space, pinned=pinned)


def study_inputs(settings: TuneSettings, base: RunConfig | None = None) -> list[str | Path | None]:
    """What a study reads: its config and space files, its data and its text model (never inside its outputs)."""
    base = base or settings.base_config()
    space = Path(settings.space.source)
    return [settings.config_path, space if space.exists() else None, base.data.path, base.check_text_model().path]


def storage_file(settings: TuneSettings) -> Path | None:
    """The file holding the study's storage (SQLite or journal), or None for a database server."""
    url = settings.storage_url
    if url.startswith("journal:"):
        return Path(url[len("journal:") :])
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///") :].split("?", 1)[0])
    return None


def pinned_paths(settings: TuneSettings) -> tuple[str, ...]:
    """The space's paths that --set fixes: they are not searched."""
    set_paths = {item.split("=", 1)[0].strip() for item in settings.overrides}
    return tuple(p.path for p in settings.space.params if p.path in set_paths)


def check_storage_url(url: str | None) -> None:
    """A `ConfigError` unless `url` is None, journal:FILE in an existing folder, or a usable SQLAlchemy URL."""
    if url is None:
        return
    allowed = "expected sqlite:///FILE, postgresql://USER:PASSWORD@HOST/DB, mysql+pymysql://..., or journal:FILE"
    if url.startswith("journal:"):
        file = url[len("journal:") :]
        if not file or not Path(file).parent.is_dir():
            raise ConfigError(
                f"--storage {url!r}: the journal file's folder {str(Path(file).parent)!r} does not exist "
                f"(or no file is named); {allowed}"
            )
        return
    import sqlalchemy

    try:
        parsed = sqlalchemy.engine.make_url(url)
        sqlalchemy.create_engine(parsed).dispose()  # loads the dialect and its driver, connects to nothing
    except Exception as err:
        raise ConfigError(f"--storage {url!r}: {_one_line(err)}; {allowed}") from err
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).parent.is_dir():
        raise ConfigError(f"--storage {url!r}: the folder {str(Path(parsed.database).parent)!r} does not exist")


def _one_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {' '.join(str(err).split())}"[:300]


def open_storage(settings: TuneSettings) -> optuna.storages.BaseStorage:
    """The study's storage, connected; killed trials are failed after two missed heartbeats (RDB storages)."""
    import optuna

    url = settings.storage_url
    try:
        if url.startswith("journal:"):
            from optuna.storages.journal import JournalFileBackend

            return optuna.storages.JournalStorage(JournalFileBackend(url[len("journal:") :]))
        engine = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {"pool_pre_ping": True}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine,
                heartbeat_interval=settings.heartbeat,
                grace_period=2 * settings.heartbeat,
                heartbeat_stale_trial_callback=retry_callback(),
            )
    except Exception as err:
        raise ConfigError(f"--storage {url!r}: cannot open it: {_one_line(err)}") from err


def retry_callback() -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    """What becomes of a trial whose worker was killed or lost: it is queued again with the same values (up to
    `MAX_RETRIES` times), and the lost one no longer counts toward `--trials` (`counted_trials`)."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)


def counting_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The trials that count toward `--trials`: all of them, in any state, except those lost with their worker that
    have been queued again (their retry counts instead)."""
    trials = study.get_trials(deepcopy=False)
    retried = {number for trial in trials for number in trial.system_attrs.get("retry_history", [])}
    return [trial for trial in trials if trial.number not in retried]


def counted_trials(study: optuna.Study) -> int:
    """How many trials count toward `--trials` (`counting_trials`)."""
    return len(counting_trials(study))


def worker_tag() -> str:
    """This process as a trial records it (`host:pid`), so that a trial whose process died is recognised at once."""
    return f"{platform.node()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process has that number now
        return True
    return True


def fail_dead_local_trials(study: optuna.Study) -> list[int]:
    """Fail, and queue again, the running trials of processes on this machine that no longer exist (a worker
    killed with SIGKILL or by the out-of-memory killer), without waiting two heartbeats; their numbers."""
    import optuna

    storage = study._storage
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
        if host != platform.node() or not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        try:
            storage.set_trial_user_attr(trial._trial_id, "fail_reason", f"its worker (pid {pid}) was killed")
            if storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL):
                retry_callback()(study, storage.get_trial(trial._trial_id))
                failed.append(trial.number)
        except optuna.exceptions.UpdateFinishedTrialError:  # another process got there first
            continue
    return failed


def definition(settings: TuneSettings) -> dict[str, Any]:
    """What the study searches, as stored with it: workers and re-runs must agree on it."""
    config = settings.base_config()
    base = config.to_dict()
    for key in RUNTIME_FIELDS:
        base["train"].pop(key, None)
    return json.loads(
        json.dumps({"base": base, "space": settings.space.to_dict(), "metric": config.train.select_metric})
    )


def open_study(settings: TuneSettings, worker: int = 0) -> optuna.Study:
    """Create or load the study, check it searches what `settings` say, fail stale trials, seed the sampler.

    The sampler's seed mixes `sampler_seed`, the worker index and the trials already in the study, so
    workers and re-runs never replay each other's random draws, and one command on one state is repeatable.
    """
    import numpy as np
    import optuna

    storage = open_storage(settings)
    wanted = definition(settings)
    metric = wanted["metric"]
    direction = "minimize" if metric in LOWER_IS_BETTER else "maximize"
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "new study created" / "using an existing study" lines
    try:
        study = optuna.create_study(storage=storage, study_name=settings.name, direction=direction, load_if_exists=True)
    finally:
        optuna.logging.set_verbosity(verbosity)
    stored = study.user_attrs.get("hscl")
    if stored is None:
        study.set_user_attr("hscl", wanted)
    elif stored != wanted:
        differ = sorted(key for key in wanted if wanted[key] != stored.get(key))
        raise ConfigError(
            f"study {settings.name!r} in {settings.storage_url} was created with a different "
            f"{' and '.join(differ)}; give a new --out or --study-name, or the same preset, "
            "--set and space"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    fail_dead_local_trials(study)
    seed = int(np.random.SeedSequence([settings.sampler_seed, worker, len(study.trials)]).generate_state(1)[0])
    pruner = {
        "median": optuna.pruners.MedianPruner(),
        "hyperband": optuna.pruners.HyperbandPruner(min_resource=1),
        "none": optuna.pruners.NopPruner(),
    }[settings.pruner]
    return optuna.load_study(
        study_name=settings.name, storage=storage, sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner
    )


def validation_only(dataset: MSADataset) -> MSADataset:
    """`dataset` without its test split (everything else about it kept)."""
    return dataclasses.replace(
        dataset, splits={name: split for name, split in dataset.splits.items() if name != "test"}
    )


class Objective:
    """Train one trial's configuration on train, select on valid, and return the selected validation value."""

    def __init__(self, settings: TuneSettings, dataset: MSADataset | None = None) -> None:
        self.settings = settings
        self.metric = settings.base_config().train.select_metric
        self._data: tuple[str, MSADataset] | None = None if dataset is None else ("given", validation_only(dataset))

    def data_for(self, config: RunConfig) -> MSADataset:
        """The data `config` names, test split dropped; loaded once per worker while the data config stays."""
        from hscl.data.loading import load_data

        key = json.dumps([config.data.path, config.data.format, config.data.options], sort_keys=True, default=str)
        if self._data is None or self._data[0] not in (key, "given"):
            self._data = (key, validation_only(load_data(config.data)))
        return self._data[1]

    def __call__(self, trial: optuna.Trial) -> float:
        import optuna
        import torch

        from hscl.training.trainer import Trainer

        params = {param.path: param.suggest(trial) for param in self.settings.space.params}
        started = len(trial.study.get_trials(deepcopy=False))
        values = " ".join(f"{path}={_short(value)}" for path, value in params.items())
        logger.info("trial %d/%d (number %d) starts | %s", started, self.settings.trials, trial.number, values)
        config = self.settings.config_for(params, "train.progress_bar=false")
        run_dir = self.settings.out / TRIALS_DIR / f"{trial.number:04d}"
        trial.set_user_attr("run_dir", f"{platform.node()}:{run_dir}")
        trial.set_user_attr("worker", worker_tag())

        def report(epoch: int, valid: dict[str, float]) -> None:
            value = valid[self.metric]
            if math.isfinite(value):
                trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch} (valid {self.metric} {value:.4f})")

        if run_dir.exists():
            shutil.rmtree(run_dir)
        try:
            result = Trainer(config, run_dir, self.data_for(config), score_test=False, on_epoch=report).run()
        except (HSCLError, torch.OutOfMemoryError, KeyboardInterrupt) as err:
            reason = "interrupted" if isinstance(err, KeyboardInterrupt) else _one_line(err)
            trial.set_user_attr("fail_reason", reason)
            raise
        finally:
            tidy(run_dir, self.settings.keep)
        trial.set_user_attr("selected_epoch", result.best_epoch)
        trial.set_user_attr("valid", result.valid_metrics)
        return result.valid_metrics[self.metric]


def tidy(run_dir: Path, keep: str) -> None:
    """Drop what a finished trial no longer needs: always its resume state, its model unless keep == 'run'."""
    from hscl.training.run_records import RunDir

    run = RunDir(run_dir)
    run.drop_checkpoint()
    if keep == "metrics" and run.model_dir.exists():
        shutil.rmtree(run.model_dir)


class TrialProgress:
    """After each trial this process ran: one line `trial k/N` (k: finished trials that count toward `--trials`,
    all workers together), how it ended, the best value so far and its parameters. It replaces Optuna's own line."""

    def __init__(self, total: int, metric: str) -> None:
        self.total = total
        self.metric = metric

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        finished = sum(t.state.is_finished() for t in counting_trials(study))
        state = trial.state.name
        if state == "COMPLETE":
            outcome = (
                f"complete: valid {self.metric} {trial.value:.4f} (epoch {trial.user_attrs.get('selected_epoch')})"
            )
        elif state == "PRUNED":
            outcome = f"pruned after epoch {trial.last_step}"
        else:
            outcome = f"{state.lower()}: {trial.user_attrs.get('fail_reason', 'see the warning above')}"
        try:
            best = f"best so far {study.best_value:.4f} (trial {study.best_trial.number})"
        except ValueError:
            best = "no trial complete yet"
        values = " ".join(f"{path}={_short(value)}" for path, value in trial.params.items())
        logger.info("trial %d/%d (number %d) %s; %s | %s", finished, self.total, trial.number, outcome, best, values)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


class _WithoutOptunaTrialLines(logging.Filter):
    """Drops Optuna's "Trial N finished with value ..." and "Trial N pruned." lines, which `TrialProgress` replaces."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Trial ") and (" finished with value" in message or " pruned." in message))


def _replace_optuna_trial_lines() -> None:
    for name in ("optuna.study.study", "optuna.study._optimize"):
        target = logging.getLogger(name)
        if not any(isinstance(f, _WithoutOptunaTrialLines) for f in target.filters):
            target.addFilter(_WithoutOptunaTrialLines())


def optimise(settings: TuneSettings, worker: int = 0, dataset: MSADataset | None = None) -> None:
    """Run trials in this process until the study holds `settings.trials` counted trials (or the timeout passes)."""
    import torch

    study = open_study(settings, worker)
    if counted_trials(study) >= settings.trials:
        return

    def stop_when_full(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if counted_trials(study) >= settings.trials:
            study.stop()

    quiet_interrupts()
    _replace_optuna_trial_lines()
    study.optimize(
        Objective(settings, dataset),
        timeout=settings.timeout,
        catch=(HSCLError, torch.OutOfMemoryError),
        gc_after_trial=True,
        callbacks=[
            stop_when_full,
            TrialProgress(settings.trials, settings.base_config().train.select_metric),
        ],
    )


class _NoInterruptTraceback(logging.Filter):
    """Drops Optuna's report of a trial stopped by Ctrl-C (a traceback, then a 'failed with value None' line): the
    trial is recorded as failed ("interrupted") and the command says in one line that the study is kept."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupted: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt):
            self.interrupted.add(message.split(" failed", 1)[0])
            return False
        return not any(message.startswith(f"{trial} failed with value") for trial in self.interrupted)


def quiet_interrupts() -> None:
    """Install `_NoInterruptTraceback` on the logger Optuna reports failed trials with (once per process)."""
    target = logging.getLogger("optuna.study._optimize")
    if not any(isinstance(f, _NoInterruptTraceback) for f in target.filters):
        target.addFilter(_NoInterruptTraceback())


def _worker(settings: TuneSettings, worker: int, threads: int) -> None:
    """A spawned worker process: quiet libraries, its share of the CPU threads, trials until the study is full."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # started with SIGINT ignored (see _run_workers)
    try:
        import torch

        from hscl.training.runtime import quiet_transformers

        logging.basicConfig(level=logging.INFO, format=f"[worker {worker}] %(message)s")
        logging.getLogger("torch").setLevel(logging.WARNING)
        quiet_transformers()
        torch.set_num_threads(threads)
        optimise(settings, worker)
    except KeyboardInterrupt:  # the running trial, if any, is already recorded as failed ("interrupted")
        raise SystemExit(130) from None


def run_study(
    settings: TuneSettings, dataset: MSADataset | None = None, log: Callable[[str], None] = print
) -> optuna.Study:
    """Run (or carry on) the study with `settings.jobs` workers on this machine; return it, reloaded.

    `dataset` (one worker only) replaces the data the config names, e.g. to prove test labels are unused.
    """
    settings = validated(settings)
    if dataset is not None and settings.jobs > 1:
        raise ConfigError("a dataset given in memory needs --jobs 1 (workers load the data themselves)")
    for path in settings.pinned:
        log(f"{path} is fixed by --set, not searched")
    if settings.storage is not None:
        open_storage(settings)  # a bad remote storage fails before anything is written
    settings.out.mkdir(parents=True, exist_ok=True)
    study = open_study(settings)
    done = counted_trials(study)
    if done >= settings.trials:
        log(f"study {settings.name!r} already holds {done} trials (--trials {settings.trials}); nothing to run")
    elif settings.jobs == 1:
        log(f"study {settings.name!r}: {done} trials so far, running up to {settings.trials - done} more")
        optimise(settings, 0, dataset)
    else:
        log(
            f"study {settings.name!r}: {done} trials so far, {settings.jobs} workers running up to "
            f"{settings.trials - done} more"
        )
        _run_workers(settings, log)
    return open_study(settings)


def _load(settings: TuneSettings) -> optuna.Study:
    """The study as it stands in its storage (no checks, no sampler: for reading and failing lost trials)."""
    import optuna

    return optuna.load_study(study_name=settings.name, storage=open_storage(settings))


def _run_workers(settings: TuneSettings, log: Callable[[str], None] = print) -> None:
    """Run `settings.jobs` spawned worker processes; on Ctrl-C pass it on to them and wait. A worker that dies
    (killed, out of memory) has its running trial failed and queued again at once; the others carry on."""
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // settings.jobs)
    workers = [
        context.Process(target=_worker, args=(settings, index, threads), name=f"hscl-tune-{index}")
        for index in range(settings.jobs)
    ]
    # children start deaf to Ctrl-C until `_worker` runs (an interrupt during their start-up would print an import
    # traceback); signal handlers can only be set from the main thread
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    try:
        for process in workers:
            process.start()
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    try:
        running = list(workers)
        while running:
            for sentinel in wait([p.sentinel for p in running]):
                process = next(p for p in running if p.sentinel == sentinel)
                process.join()
                running.remove(process)
                if process.exitcode not in (0, 130):
                    lost = fail_dead_local_trials(_load(settings))
                    log(
                        f"worker {workers.index(process)} stopped (exit status {process.exitcode})"
                        + (f"; its trial {', '.join(map(str, lost))} failed and is queued again" if lost else "")
                    )
    except KeyboardInterrupt:  # a terminal's Ctrl-C reaches the workers too; pass it on to any that missed it
        for process in workers:
            process.join(timeout=INTERRUPT_GRACE)
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGINT)
        for process in workers:
            process.join()
        raise
    failed = [f"worker {i} (exit status {p.exitcode})" for i, p in enumerate(workers) if p.exitcode != 0]
    if failed and counted_trials(_load(settings)) < settings.trials:
        raise HSCLError(
            f"{', '.join(failed)} stopped before the study was full (see above); the trials recorded are "
            "kept, run the same command again to carry on"
        )
