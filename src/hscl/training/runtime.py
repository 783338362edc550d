"""Run-time setup: seeding, device selection (the only place that knows about hardware), library noise."""

from __future__ import annotations

import logging
import random
import sys

import numpy as np
import torch

from hscl.errors import ConfigError


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; return a torch generator for data order, seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def select_device(name: str = "auto") -> torch.device:
    """`auto` picks cuda, then mps, then cpu; any other name is checked for availability."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {name!r} requested but MPS is not available")
    return device


def process_device(name: str, local_rank: int) -> torch.device:
    """The device of one of several processes: GPU `cuda:<local_rank>` under `auto` or `cuda`, else the CPU."""
    device = select_device(name)
    if device.type == "cpu":
        return device
    if device.type != "cuda" or device.index is not None:
        raise ConfigError(
            f"device {name!r} ({device}) cannot be shared by several processes; use auto, cuda or cpu "
            "(each process then takes the GPU cuda:<LOCAL_RANK>)"
        )
    if local_rank >= torch.cuda.device_count():
        raise ConfigError(
            f"LOCAL_RANK {local_rank} has no GPU: only {torch.cuda.device_count()} visible; "
            "start at most one process per GPU (torchrun --nproc-per-node)"
        )
    return torch.device("cuda", local_rank)


def quiet_transformers() -> None:
    """No weight-loading progress bars or advisory warnings from transformers (command line, suite workers)."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


_API_HANDLER_NAME = "hscl-api-stdout"


def show_progress_logs() -> None:
    """For the Python API: hscl's INFO lines (one per epoch, the result) on stdout, as the command line prints
    them, unless the application has set up logging itself (a handler on the root logger, or a level of its
    own on the "hscl" logger); then its set-up decides, and the handler added by an earlier call goes."""
    package = logging.getLogger("hscl")
    ours = [handler for handler in package.handlers if handler.get_name() == _API_HANDLER_NAME]
    if logging.getLogger().handlers or (package.level != logging.NOTSET and not ours):
        for handler in ours:
            package.removeHandler(handler)
        return
    if not ours:
        handler = logging.StreamHandler(sys.stdout)
        handler.set_name(_API_HANDLER_NAME)
        handler.setFormatter(logging.Formatter("%(message)s"))
        package.addHandler(handler)
        package.setLevel(logging.INFO)


def quiet_worker() -> None:
    """A worker process of a suite: no advisory noise from transformers, and only hscl's warnings (the parent
    process reports each run as it finishes)."""
    quiet_transformers()
    logging.getLogger("hscl").setLevel(logging.WARNING)
