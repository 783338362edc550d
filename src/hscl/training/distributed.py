"""Data-parallel training under torchrun: the process context, sharding, and gathers that keep gradients.

Every process draws the same global batch and takes one contiguous slice of it. The contrastive losses
compare every sample with every other, so each process gathers the model outputs of the whole global
batch, with gradients, and computes the same global loss.

Gradients: every process computes the same global loss L. The backward of `gather_rows` sums the
gradients of all W processes, so the outputs of process r receive W * dL/d(out_r), and its parameter
gradient is W * g_r, where g_r is the part of dL/dθ that flows through its own samples (sum_r g_r = dL/dθ).
DistributedDataParallel averages over processes: (1/W) * sum_r W * g_r = dL/dθ, the single-process
gradient of the global batch. No correction factor is needed; tests/test_distributed.py checks it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from hscl.data.batching import EncodedSequences, EncodedSplit
from hscl.errors import ConfigError
from hscl.training.runtime import process_device, select_device

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    """Where this process stands among the processes of one run (torchrun's RANK, LOCAL_RANK, WORLD_SIZE)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and prints."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """Whether there are several processes."""
        return self.world_size > 1


def context_from_env() -> Context:
    """The context torchrun describes in the environment; a single process without it."""
    try:
        return Context(
            int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
        )
    except ValueError as err:
        raise ConfigError(f"RANK, LOCAL_RANK and WORLD_SIZE must be integers: {err}") from err


def setup(device_name: str) -> tuple[Context, torch.device]:
    """Join the process group torchrun describes (once per process) and pick this process's device.

    NCCL on GPUs, gloo on CPUs. Processes other than the main one log warnings only.
    """
    ctx = context_from_env()
    if not ctx.enabled:
        return ctx, select_device(device_name)
    device = process_device(device_name, ctx.local_rank)
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if not ctx.is_main:
        logging.getLogger("hscl").setLevel(logging.WARNING)
    return ctx, device


def teardown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: nn.Module, ctx: Context) -> nn.Module:
    """`module` itself for one process, else wrapped in DistributedDataParallel.

    Its forward should return the loss: `find_unused_parameters` then spots the parameters an ablation
    (e.g. loss.unimodal=false) leaves out of it, which get no gradient.
    """
    if not ctx.enabled:
        return module
    return nn.parallel.DistributedDataParallel(module, find_unused_parameters=True)


def no_sync(model: nn.Module, skip: bool) -> AbstractContextManager:
    """Skip the gradient all-reduce of a DistributedDataParallel model (accumulation steps) when `skip`."""
    if skip and isinstance(model, nn.parallel.DistributedDataParallel):
        return model.no_sync()
    return nullcontext()


def shard_sizes(n: int, ctx: Context) -> list[int]:
    """How many of `n` rows each process takes: `torch.tensor_split`'s contiguous, near-equal parts."""
    return [n // ctx.world_size + (rank < n % ctx.world_size) for rank in range(ctx.world_size)]


def shard(index: torch.Tensor, ctx: Context) -> torch.Tensor:
    """This process's contiguous part of `index` (all of it for one process)."""
    return torch.tensor_split(index, ctx.world_size)[ctx.rank]


def shard_split(encoded: EncodedSplit, ctx: Context) -> EncodedSplit:
    """This process's contiguous rows of a split (for evaluation); every process must get at least one."""
    if len(encoded) < ctx.world_size:
        raise ConfigError(f"a split of {len(encoded)} rows cannot be shared by {ctx.world_size} processes")
    sizes = shard_sizes(len(encoded), ctx)
    start = sum(sizes[: ctx.rank])
    rows = slice(start, start + sizes[ctx.rank])

    def part(seq: EncodedSequences | None) -> EncodedSequences | None:
        return None if seq is None else EncodedSequences(seq.features[rows], seq.lengths[rows])

    return EncodedSplit(
        encoded.input_ids[rows],
        encoded.text_lengths[rows],
        encoded.labels[rows],
        part(encoded.audio),
        part(encoded.visual),
    )


class _GatherRows(torch.autograd.Function):
    """Concatenate every process's rows in rank order; the backward sums the gradients of all processes."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, sizes: list[int]) -> torch.Tensor:  # type: ignore[override]
        ctx.sizes = sizes
        ctx.rank = dist.get_rank()
        width = max(sizes)
        padded = torch.cat([tensor, tensor.new_zeros((width - tensor.shape[0], *tensor.shape[1:]))])
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded.contiguous())
        return torch.cat([part[:n] for part, n in zip(parts, sizes)])

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        grad = grad.contiguous()
        dist.all_reduce(grad)
        start = sum(ctx.sizes[: ctx.rank])
        return grad[start : start + ctx.sizes[ctx.rank]], None


def gather_rows(tensor: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """The rows of every process, concatenated in rank order, differentiable (identity for one process).

    `sizes[r]` is the number of rows process r holds. Written here rather than with
    torch.distributed.nn.functional.all_gather, which needs equal sizes and is deprecated in recent PyTorch.
    """
    return tensor if len(sizes) == 1 else _GatherRows.apply(tensor, sizes)


def gather_fields(output: T, sizes: list[int]) -> T:
    """A dataclass (e.g. the model output) with each tensor field replaced by its rows from every process."""
    return dataclasses.replace(
        output,
        **{
            field.name: gather_rows(value, sizes)
            for field in dataclasses.fields(output)
            if isinstance(value := getattr(output, field.name), torch.Tensor)
        },
    )


def gather_objects(obj: Any, ctx: Context) -> list[Any]:
    """`obj` of every process, in rank order."""
    if not ctx.enabled:
        return [obj]
    objects: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(objects, obj)
    return objects


def barrier(ctx: Context) -> None:
    """Wait for every process (no-op for one process)."""
    if ctx.enabled:
        dist.barrier()
