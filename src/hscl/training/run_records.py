"""A run directory and its records: the one module that knows the layout, and writes and reads every file
in it except the model folder's contents (`HSCL.save_pretrained`) and the resumable checkpoint's
(`checkpoint`). Every write is atomic (`hscl.files`). Light: no torch.

    config.yaml              the resolved RunConfig
    metrics.jsonl            one `EpochRecord` per epoch
    selection.json           `Selection`: the epoch whose weights are in model/
    model/                   the selected checkpoint (HSCL.save_pretrained)
    test_metrics.json        test metrics of the selected checkpoint, computed once
    projections_*.npz        test-split projections before training and of the selected checkpoint
    checkpoint.pt            the resumable state (`hscl train --resume`)
    tensorboard/             event files of `--log tensorboard`
    sessions.json            `Session` list: the command, torch threads, machine and code version that started the run,
                             then those of each resume
    wall_seconds.json        `CompletionMark`: written by the suite runner once a run has returned
    summary.json, summary.md  `SeedsSummary` of a multi-seed run (in the folder above the seeds' runs)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hscl.config import RunConfig, config_from_dict, load_yaml, save_config, upgrade_saved_config
from hscl.errors import HSCLError
from hscl.files import (
    atomic_dir,
    check_output_folder,
    clear_dir,
    entries,
    file_problem,
    folder_problem,
    open_atomic,
    write_text,
)
from hscl.training.mean_std import MeanStd

RUN_CONFIG_FILE = "config.yaml"
EPOCHS_FILE = "metrics.jsonl"
SELECTION_FILE = "selection.json"
TEST_METRICS_FILE = "test_metrics.json"
MODEL_DIR = "model"
PROJECTIONS_INITIAL = "projections_initial.npz"
PROJECTIONS_FINAL = "projections_final.npz"
CHECKPOINT_FILE = "checkpoint.pt"
TENSORBOARD_DIR = "tensorboard"
COMPLETION_FILE = "wall_seconds.json"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
EXTRACTION_FILE = "extraction.json"  # trained on `hscl extract` output: how its features were made
SESSIONS_FILE = "sessions.json"
RECORDS: tuple[str, ...] = (  # every entry of the layout: what no other command may write over
    RUN_CONFIG_FILE,
    EPOCHS_FILE,
    SELECTION_FILE,
    MODEL_DIR,
    TEST_METRICS_FILE,
    PROJECTIONS_INITIAL,
    PROJECTIONS_FINAL,
    CHECKPOINT_FILE,
    TENSORBOARD_DIR,
    COMPLETION_FILE,
    SUMMARY_JSON,
    SUMMARY_MD,
    EXTRACTION_FILE,
    SESSIONS_FILE,
)


@dataclass(frozen=True)
class EpochRecord:
    """One line of metrics.jsonl: the epoch's mean loss terms, validation metrics, learning rates, wall time,
    and whether it improved the selection metric (and so became the selected model)."""

    epoch: int
    train: dict[str, float]
    valid: dict[str, float]
    lr: dict[str, float]
    seconds: float
    selected: bool

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EpochRecord:
        """The record stored as `data`; KeyError, TypeError or ValueError if it is not one."""
        return cls(
            int(data["epoch"]),
            dict(data["train"]),
            dict(data["valid"]),
            dict(data.get("lr", {})),
            float(data.get("seconds", 0.0)),
            bool(data.get("selected", False)),
        )


@dataclass(frozen=True)
class Selection:
    """The selected epoch, the metric it was selected on, and its validation metrics."""

    epoch: int
    metric: str
    valid: dict[str, float]

    @property
    def value(self) -> float:
        """The selection metric's validation value at the selected epoch."""
        return self.valid[self.metric]


@dataclass(frozen=True)
class CompletionMark:
    """What the suite runner records once a run has returned: its wall time, machine, how many ran at once, and
    the version of hscl's code that trained it."""

    seconds: float
    machine: str = "not recorded"
    concurrent_runs: int = 1
    code_version: str = "not recorded"


@dataclass(frozen=True)
class Session:
    """How a run was started, or resumed: enough to train it again exactly (`hscl train --config
    RUN/config.yaml --threads THREADS`, on the same machine and code version)."""

    command: str  # the hscl command line, or the Python entry point and the script that called it
    threads: int  # torch's intra-op CPU threads, which change float rounding and so the trained weights
    processes: int  # processes training together (torchrun's world size)
    machine: str
    code_version: str
    started: str  # local time, ISO 8601


@dataclass(frozen=True)
class SeedsSummary:
    """A multi-seed run: the mean ± std of every test and validation metric over its seeds."""

    name: str
    seeds: list[int]
    test: dict[str, MeanStd]
    valid: dict[str, MeanStd]
    selected_epochs: list[int]
    wall_seconds: list[float]


def _write_json(path: Path, payload: Any) -> None:
    write_text(path, json.dumps(payload, indent=2) + "\n")


def _read_json(path: Path, missing: str) -> Any:
    problem = file_problem(path)
    if problem == "no such file":
        raise HSCLError(f"{path}: missing; {missing}")
    if problem is not None:
        raise HSCLError(f"{path}: {problem}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise HSCLError(f"{path}: not valid JSON ({err})") from err


class RunDir:
    """The files of one run directory, each written and read as its typed record."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    def records(self) -> list[Path]:
        """Every file and folder of the layout, whether or not it exists yet: the inputs that a command reading
        this run lists, so that none of its outputs can replace one (`hscl.files.check_not_input`)."""
        return [self.path / name for name in RECORDS]

    def require_folder(self) -> None:
        """An `HSCLError` unless the run directory is a folder ('no such folder', 'is a file', ...)."""
        problem = folder_problem(self.path)
        if problem is not None:
            raise HSCLError(f"{self.path}: {problem}; give a run directory written by `hscl train`")

    @property
    def model_dir(self) -> Path:
        """Where the selected model lives (`HSCL.save_pretrained` / `from_pretrained`)."""
        return self.path / MODEL_DIR

    @property
    def checkpoint_file(self) -> Path:
        """The resumable state (`training.checkpoint`)."""
        return self.path / CHECKPOINT_FILE

    @property
    def tensorboard_dir(self) -> Path:
        """TensorBoard event files."""
        return self.path / TENSORBOARD_DIR

    # --- creating and replacing a run -------------------------------------------------------------------
    def check_new(self, overwrite: bool = False, inputs: Iterable[str | Path | None] = ()) -> None:
        """An `HSCLError` unless a new run may be written here: a writable folder that is new or empty, or
        `overwrite`, and that neither lies in nor holds one of the run's `inputs` (its data, its text model).
        Writes nothing (`start` clears it, once every other check has passed)."""
        check_output_folder(self.path, inputs)
        if not self.path.is_dir() or not entries(self.path):
            return
        if not _holds_runs(self.path):
            raise HSCLError(
                f"{self.path}: holds files that are not an hscl run; choose a new or empty folder "
                "(--overwrite only replaces runs)"
            )
        if not overwrite:
            resume = f"carry it on with `hscl train --resume {self.path}`, " if is_run(self.path) else ""
            raise HSCLError(
                f"{self.path}: already holds runs; choose a new --out, {resume}or pass --overwrite "
                "(overwrite=True from Python) to replace them"
            )

    def start(self, config: RunConfig, extraction: Mapping[str, Any] | None = None) -> None:
        """An empty run directory (cleared if it held anything), holding the run's config, an empty epoch log and,
        for data from `hscl extract`, how its features were made (so the run predicts new media alike)."""
        self.path.mkdir(parents=True, exist_ok=True)
        clear_dir(self.path)
        save_config(config, self.path / RUN_CONFIG_FILE)
        write_text(self.path / EPOCHS_FILE, "")
        if extraction is not None:
            _write_json(self.path / EXTRACTION_FILE, extraction)

    def add_session(self, session: Session) -> None:
        """Record how the run was started (after `start`) or resumed."""
        path = self.path / SESSIONS_FILE
        before = _read_json(path, "") if path.is_file() else []
        _write_json(path, [*before, asdict(session)])

    def read_sessions(self) -> list[Session]:
        """How the run was started and each time it was resumed (empty for runs older than the record)."""
        path = self.path / SESSIONS_FILE
        if not path.is_file():
            return []
        try:
            return [Session(**entry) for entry in _read_json(path, "")]
        except TypeError as err:
            raise HSCLError(f"{path}: not a list of session records ({err})") from err

    def read_extraction(self) -> dict[str, Any] | None:
        """How the features of the run's training data were extracted, or None if not by `hscl extract`."""
        path = self.path / EXTRACTION_FILE
        return _read_json(path, "") if path.is_file() else None

    def read_config(self) -> RunConfig:
        """The resolved config the run was trained with."""
        self.require_folder()
        path = self.path / RUN_CONFIG_FILE
        problem = file_problem(path)
        if problem == "no such file":
            raise HSCLError(f"{path}: missing; is {self.path} an hscl run directory?")
        if problem is not None:
            raise HSCLError(f"{path}: {problem}")
        return config_from_dict(upgrade_saved_config(load_yaml(path)), str(path))

    # --- per-epoch records ------------------------------------------------------------------------------
    def append_epoch(self, record: EpochRecord) -> None:
        """Add one epoch's record to metrics.jsonl (the whole file is rewritten atomically)."""
        path = self.path / EPOCHS_FILE
        before = path.read_text(encoding="utf-8") if path.is_file() else ""
        write_text(path, before + json.dumps(asdict(record)) + "\n")

    def read_epochs(self) -> list[EpochRecord]:
        """Every epoch recorded so far; an `HSCLError` naming the file (and line) if one is unusable."""
        self.require_folder()
        path = self.path / EPOCHS_FILE
        problem = file_problem(path)
        if problem == "no such file":
            raise HSCLError(f"{path}: missing; is {self.path} an hscl run directory?")
        if problem is not None:
            raise HSCLError(f"{path}: {problem}")
        records = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(EpochRecord.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                raise HSCLError(f"{path}: line {number} is not an epoch record ({err!r})") from err
        if not records:
            raise HSCLError(f"{path}: no epochs recorded")
        return records

    def keep_epochs(self, epochs: int) -> None:
        """Keep the first `epochs` records (those of a checkpoint being resumed), dropping any after them."""
        path = self.path / EPOCHS_FILE
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.is_file() else []
        if len(lines) < epochs:
            raise HSCLError(f"{path}: has {len(lines)} epoch records, but the checkpoint is at epoch {epochs}")
        write_text(path, "".join(lines[:epochs]))

    # --- the selected model -----------------------------------------------------------------------------
    @contextmanager
    def writing_model(self, selection: Selection) -> Iterator[Path]:
        """A new, empty folder to write the selected model into (`HSCL.save_pretrained`); once the block ends
        without an exception it replaces the model directory and `selection` is recorded."""
        with atomic_dir(self.model_dir) as staging:
            yield staging
        _write_json(self.path / SELECTION_FILE, asdict(selection))

    def read_selection(self) -> Selection:
        """The selected epoch; an `HSCLError` saying how to carry on when the run has selected none yet."""
        self.require_folder()
        data = _read_json(self.path / SELECTION_FILE, self._no_model_yet())
        try:
            return Selection(int(data["epoch"]), str(data["metric"]), dict(data["valid"]))
        except (KeyError, TypeError, ValueError) as err:
            raise HSCLError(f"{self.path / SELECTION_FILE}: not a selection record ({err!r})") from err

    def selected_epoch(self) -> int | None:
        """The epoch whose weights are in the model directory, or None when none is selected yet."""
        return self.read_selection().epoch if (self.path / SELECTION_FILE).is_file() else None

    def require_model(self) -> Path:
        """The selected model's folder; an `HSCLError` saying the run has none yet (and how to resume) if absent."""
        self.require_folder()
        problem = folder_problem(self.model_dir)
        if problem is not None and problem != "no such folder":
            raise HSCLError(f"{self.model_dir}: {problem}")
        if problem is not None:
            raise HSCLError(f"{self.model_dir}: missing; {self._no_model_yet()}")
        return self.model_dir

    def _no_model_yet(self) -> str:
        if not is_run(self.path):
            return f"is {self.path} an hscl run directory?"
        if self.checkpoint_file.is_file():
            return (
                "the run has no selected model yet: it failed or is still running; carry it on with "
                f"`hscl train --resume {self.path}`"
            )
        return (
            "the run has no selected model and nothing can be resumed: it stopped before its first epoch "
            f"ended; start it again with `hscl train --config {self.path / RUN_CONFIG_FILE} --out {self.path} "
            "--overwrite`"
        )

    # --- test metrics, projections ----------------------------------------------------------------------
    def write_test_metrics(self, metrics: dict[str, float]) -> None:
        """The selected model's test metrics."""
        _write_json(self.path / TEST_METRICS_FILE, metrics)

    def read_test_metrics(self) -> dict[str, float]:
        """The selected model's test metrics, as training computed them."""
        self.require_folder()
        data = _read_json(self.path / TEST_METRICS_FILE, "the run has not finished")
        return {str(key): float(value) for key, value in data.items()}

    def has_test_metrics(self) -> bool:
        """Whether the run got as far as scoring test."""
        return (self.path / TEST_METRICS_FILE).is_file()

    def write_projections(self, name: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Store labels, predictions and z_* projections of the test split as `name` (PROJECTIONS_INITIAL or _FINAL)."""
        with open_atomic(self.path / name, binary=True) as handle:
            np.savez_compressed(handle, **arrays)

    def read_projections(self, name: str) -> dict[str, np.ndarray]:
        """labels (N,), prediction (N,) and the z_* (N, d) of a projections file, checked."""
        self.require_folder()
        path = self.path / name
        problem = file_problem(path)
        if problem == "no such file":
            raise HSCLError(f"{path}: missing; is {self.path} a finished hscl run directory?")
        if problem is not None:
            raise HSCLError(f"{path}: {problem}")
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {key: np.asarray(stored[key], dtype=np.float64) for key in stored.files}
        except (OSError, ValueError, EOFError) as err:
            raise HSCLError(f"{path}: not a readable projections file ({err})") from err
        for key in ("labels", "prediction"):
            if key not in arrays:
                raise HSCLError(f"{path}: no {key!r} array; has {sorted(arrays)}")
        n = arrays["labels"].shape[0]
        for key, array in arrays.items():
            expected = 1 if key in ("labels", "prediction") else 2
            if array.ndim != expected or array.shape[0] != n:
                raise HSCLError(f"{path}: {key!r} has shape {array.shape}; expected {n} rows and {expected} dims")
            if not np.isfinite(array).all():
                raise HSCLError(f"{path}: {key!r} contains NaN or infinite values")
        return arrays

    # --- suite completion mark --------------------------------------------------------------------------
    def write_completion(self, mark: CompletionMark) -> None:
        """Mark the run finished (the suite runner writes this after training returned)."""
        _write_json(self.path / COMPLETION_FILE, asdict(mark))

    def read_completion(self) -> CompletionMark:
        """The suite runner's completion mark."""
        data = _read_json(self.path / COMPLETION_FILE, "the suite has not finished this run")
        return CompletionMark(
            float(data["seconds"]),
            str(data.get("machine", "not recorded")),
            int(data.get("concurrent_runs", 1)),
            str(data.get("code_version", "not recorded")),
        )

    def is_complete(self) -> bool:
        """Whether the suite runner has marked this run finished (after its test metrics were written)."""
        return self.has_test_metrics() and (self.path / COMPLETION_FILE).is_file()

    def drop_checkpoint(self) -> None:
        """Remove the resumable state (a finished suite run is never resumed)."""
        self.checkpoint_file.unlink(missing_ok=True)

    # --- multi-seed summary -----------------------------------------------------------------------------
    def write_summary(self, summary: SeedsSummary, markdown: str) -> None:
        """summary.json and its Markdown table summary.md."""
        payload = asdict(summary)
        payload["test"] = {k: v.to_dict() for k, v in summary.test.items()}
        payload["valid"] = {k: v.to_dict() for k, v in summary.valid.items()}
        _write_json(self.path / SUMMARY_JSON, payload)
        write_text(self.path / SUMMARY_MD, markdown)

    def read_summary_markdown(self) -> str:
        """summary.md as written."""
        path = self.path / SUMMARY_MD
        if not path.is_file():
            raise HSCLError(f"{path}: missing; is this a finished multi-seed run?")
        return path.read_text(encoding="utf-8")


def is_run(path: Path) -> bool:
    """Whether `path` is a single run's directory (it holds a run config)."""
    return (path / RUN_CONFIG_FILE).is_file()


def _holds_runs(path: Path) -> bool:
    """Whether the folder `path` is a run, a multi-seed run or a suite: a run config or summary in it, or
    sub-folders only, each empty or such a folder, at least one not empty."""
    if is_run(path) or (path / SUMMARY_JSON).is_file():
        return True
    inside = [entry for entry in entries(path) if not (entry.is_dir() and not entries(entry))]
    return bool(inside) and all(entry.is_dir() and _holds_runs(entry) for entry in inside)
