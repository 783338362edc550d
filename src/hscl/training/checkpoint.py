"""The resumable state of a run: one file, written atomically, that `torch.load(weights_only=True)` reads.

`TrainingState` is where selection and early stopping stand (not to be confused with `train.progress_bar`,
the progress-bar switch).

Everything in it is a tensor, a number, a string, None, or a list or dict of those: random-number
generator states are converted to tensors and lists, never pickled as objects.
"""

from __future__ import annotations

import pickle
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hscl.errors import HSCLError
from hscl.files import open_atomic

FORMAT = 1
STATE_KEY = "progress"  # where format 1 stores the TrainingState


@dataclass
class TrainingState:
    """Where training stands after `epoch` epochs: all that selection and early stopping carry over."""

    epoch: int = 0
    best_epoch: int = 0  # 0: nothing selected yet
    best_value: float | None = None
    best_valid: dict[str, float] = field(default_factory=dict)
    since_best: int = 0  # epochs without improvement


@dataclass
class Checkpoint:
    """Model, optimiser, scheduler and random states at the end of epoch `state.epoch`."""

    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any] | None
    state: TrainingState
    rng: list[dict[str, Any]]  # one `capture_rng` per process, in rank order
    config: dict[str, Any] | None = None  # the run's config less its runtime fields (None: an older checkpoint)


def capture_rng(data_order: torch.Generator) -> dict[str, Any]:
    """The states of Python's, numpy's and torch's generators (CUDA's too, if present) and of `data_order`."""
    version, python_state, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(python_state), gauss],
        "numpy": [torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "data_order": data_order.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng(state: dict[str, Any], data_order: torch.Generator) -> None:
    """Put back what `capture_rng` took."""
    version, python_state, gauss = state["python"]
    random.setstate((version, tuple(python_state), gauss))
    keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    data_order.set_state(state["data_order"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write `checkpoint` to `path` atomically."""
    payload = {
        "format": FORMAT,
        "model": checkpoint.model,
        "optimizer": checkpoint.optimizer,
        "scheduler": checkpoint.scheduler,
        STATE_KEY: asdict(checkpoint.state),
        "rng": checkpoint.rng,
        "config": checkpoint.config,
    }
    with open_atomic(path, binary=True) as handle:
        torch.save(payload, handle)


def load_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint stored at `path`; an `HSCLError` naming it if it is missing or unreadable."""
    if path.is_dir():
        raise HSCLError(f"{path}: is a folder, not a checkpoint file")
    if not path.is_file():
        raise HSCLError(
            f"{path}: missing; nothing can be resumed (the run stopped before its first epoch ended); "
            f"start it again with `hscl train --config {path.parent / 'config.yaml'} --out {path.parent} "
            "--overwrite`"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        # PyTorch's message suggests weights_only=False, which would run code from the file: never pass that on.
        raise HSCLError(
            f"{path}: not a readable hscl checkpoint (truncated, corrupt, or not written by hscl); "
            "start the run afresh with --overwrite"
        ) from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise HSCLError(f"{path}: not an hscl checkpoint of format {FORMAT}")
    return Checkpoint(
        payload["model"],
        payload["optimizer"],
        payload["scheduler"],
        TrainingState(**payload[STATE_KEY]),
        payload["rng"],
        payload.get("config"),
    )
