"""The layout of a run directory, and reading one back."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from hscl.config import RunConfig, config_from_dict, load_yaml, save_config
from hscl.errors import HSCLError

CONFIG_FILE = "config.yaml"  # the resolved RunConfig
EPOCHS_FILE = "metrics.jsonl"  # one JSON object per epoch
SELECTION_FILE = "selection.json"  # the selected epoch and its validation metrics
TEST_FILE = "test_metrics.json"  # test metrics of the selected checkpoint, computed once
MODEL_DIR = "model"  # the selected checkpoint: HSCL.save_pretrained output
PROJECTIONS_INITIAL = "projections_initial.npz"  # test-split projections before training
PROJECTIONS_FINAL = "projections_final.npz"  # ... and of the selected checkpoint
SUMMARY_JSON = "summary.json"  # multi-seed runs: mean and std of every metric
SUMMARY_MD = "summary.md"
CHECKPOINT_FILE = "checkpoint.pt"  # resumable state of the last checkpointed epoch (`hscl train --resume`)
TENSORBOARD_DIR = "tensorboard"  # event files of `--log tensorboard`


def write_json(path: Path, payload: Any) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """The JSON stored at `path`, or an `HSCLError` naming it."""
    if not path.is_file():
        raise HSCLError(f"{path}: missing; is this a finished hscl run directory?")
    return json.loads(path.read_text(encoding="utf-8"))


def keep_epochs(run_dir: Path, epochs: int) -> None:
    """Keep the first `epochs` lines of the per-epoch log (those of a checkpoint being resumed), atomically."""
    path = run_dir / EPOCHS_FILE
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.is_file() else []
    if len(lines) < epochs:
        raise HSCLError(f"{path}: has {len(lines)} epoch records, but the checkpoint is at epoch {epochs}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(lines[:epochs]), encoding="utf-8")
    os.replace(tmp, path)


def selected_epoch(run_dir: Path) -> int | None:
    """The epoch whose weights are in the model directory, as the selection file records it (None if absent)."""
    path = run_dir / SELECTION_FILE
    return int(read_json(path)["epoch"]) if path.is_file() else None


def save_run_config(run_dir: Path, config: RunConfig) -> None:
    """Store the resolved config of a run."""
    save_config(config, run_dir / CONFIG_FILE)


def load_run_config(run_dir: str | Path) -> RunConfig:
    """The resolved config a run was trained with."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise HSCLError(f"{path}: missing; is {run_dir} an hscl run directory?")
    return config_from_dict(load_yaml(path), str(path))


def model_dir(run_dir: str | Path) -> Path:
    """Where a run's selected checkpoint lives (the run dir itself also works for a bare checkpoint)."""
    run_dir = Path(run_dir)
    return run_dir / MODEL_DIR if (run_dir / MODEL_DIR).is_dir() else run_dir


def replace_dir(tmp: Path, final: Path) -> None:
    """Swap a fully written directory `tmp` in place of `final`, never leaving `final` half-written."""
    old = final.with_name(final.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)
