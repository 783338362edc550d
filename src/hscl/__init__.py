"""hscl: Hierarchical Supervised Contrastive Learning for Multimodal Sentiment Analysis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "HSCL",
    "HSCLConfig",
    "Predictor",
    "RunConfig",
    "evaluate_run",
    "load_config",
    "load_dataset",
    "predict_run",
    "regression_metrics",
    "supcr_loss",
    "train",
    "train_seeds",
]

_EXPORTS = {
    "HSCL": "hscl.model.hscl",
    "HSCLConfig": "hscl.config",
    "RunConfig": "hscl.config",
    "load_config": "hscl.config",
    "load_dataset": "hscl.data.loading",
    "train": "hscl.training.trainer",
    "train_seeds": "hscl.training.seeds",
    "evaluate_run": "hscl.training.inference",
    "predict_run": "hscl.training.inference",
    "Predictor": "hscl.training.inference",
    "regression_metrics": "hscl.metrics",
    "supcr_loss": "hscl.losses",
}

if TYPE_CHECKING:
    from hscl.config import HSCLConfig, RunConfig, load_config
    from hscl.data.loading import load_dataset
    from hscl.losses import supcr_loss
    from hscl.metrics import regression_metrics
    from hscl.model.hscl import HSCL
    from hscl.training.inference import Predictor, evaluate_run, predict_run
    from hscl.training.seeds import train_seeds
    from hscl.training.trainer import train


def __getattr__(name: str) -> Any:
    """Import public names lazily so `import hscl` stays fast."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hscl' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
