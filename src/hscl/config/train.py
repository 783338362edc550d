"""Optimisation, selection and run-time settings of a training run."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from hscl.config.base import Settings
from hscl.errors import ConfigError
from hscl.metric_names import METRIC_KEYS

NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[int, Field(ge=1)]
DEVICE_NAME = re.compile(r"auto|cpu|mps|cuda(:[0-9]+)?")


def _device_name(name: str) -> str:
    if not DEVICE_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a device: expected auto, cpu, cuda, cuda:N or mps")
    return name


class TrainConfig(Settings):
    """Optimisation (Adam over two parameter groups, StepLR), selection on validation, and how the run runs."""

    epochs: Positive = Field(20, description="most epochs to train")
    batch_size: Positive = Field(128, description="samples per optimisation step (the global batch under torchrun)")
    eval_batch_size: Positive = Field(256, description="samples per forward pass when scoring a split")
    grad_accum: Positive = Field(1, description="batches whose gradients add up before each optimiser step")
    lr_main: NonNegative = Field(1e-3, description="learning rate of everything but the text encoder")
    lr_bert: NonNegative = Field(5e-5, description="learning rate of the text encoder; 0 freezes it")
    weight_decay_main: NonNegative = Field(1e-4, description="Adam weight decay of everything but the text encoder")
    weight_decay_bert: NonNegative = Field(1e-4, description="Adam weight decay of the text encoder")
    scheduler_step: Annotated[int, Field(ge=0)] = Field(
        11, description="StepLR step size in epochs; 0 disables the schedule"
    )
    scheduler_gamma: float = Field(0.1, gt=0.0, le=1.0, description="StepLR factor applied every scheduler_step epochs")
    grad_clip: NonNegative = Field(1.0, description="largest gradient norm; 0 disables clipping")
    patience: Positive = Field(10, description="epochs without validation improvement before stopping early")
    select_metric: Literal[METRIC_KEYS] = Field(
        "mae",
        description="validation metric that selects the epoch and drives early stopping (MAE: lower is "
        "better; the others: higher)",
    )
    seed: Annotated[int, Field(ge=0)] = Field(1111, description="seed of the weights, dropout and data order")
    device: Annotated[str, AfterValidator(_device_name)] = Field(
        "auto", description="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps"
    )
    amp: bool = Field(False, description="bfloat16 autocast on CUDA")
    progress_bar: bool = Field(True, description="show a progress bar per epoch")
    log: Literal["files", "tensorboard"] = Field(
        "files", description="'files': metrics.jsonl; 'tensorboard': also TensorBoard event files"
    )
    checkpoint_every: Positive = Field(
        1, description="epochs between resumable checkpoints (improving and last epochs always get one)"
    )
    keep_checkpoint: bool = Field(
        True,
        description="keep the resumable checkpoint.pt once the run has finished (false: drop it, which saves "
        "three times the model's size on disk; a finished run is never resumed)",
    )


def check_seeds(seeds: list[int]) -> None:
    """A `ConfigError` unless `seeds` is a non-empty list of distinct seeds (each gets a folder of its own)."""
    if not seeds:
        raise ConfigError("--seeds needs at least one seed")
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        given = " ".join(map(str, seeds))
        raise ConfigError(f"--seeds {given}: seed {repeated[0]} is given twice; give distinct seeds")
    negative = [seed for seed in seeds if seed < 0]
    if negative:
        raise ConfigError(f"--seeds: seed {negative[0]} is negative; train.seed must be at least 0")
