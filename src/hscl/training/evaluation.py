"""Run a model over a whole split and score it: one code path for validation, test and `hscl evaluate`."""
from __future__ import annotations

import numpy as np
import torch

from hscl.data.batching import EncodedSplit, iter_batches
from hscl.metrics import regression_metrics
from hscl.model.hscl import HSCL


def split_outputs(model: HSCL, encoded: EncodedSplit, batch_size: int, device: torch.device,
                  projections: bool = False) -> dict[str, np.ndarray]:
    """Predictions (and, if asked, the z_* projections) for every row of `encoded`, in row order."""
    was_training = model.training
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    with torch.inference_mode():
        for batch in iter_batches(encoded, batch_size, shuffle=False):
            output = model(batch.to(device))
            tensors = {"prediction": output.prediction}
            if projections:
                tensors.update(output.projections())
            for name, tensor in tensors.items():
                parts.setdefault(name, []).append(tensor.float().cpu())
    model.train(was_training)
    return {name: torch.cat(chunks).numpy() for name, chunks in parts.items()}


def predict_split(model: HSCL, encoded: EncodedSplit, batch_size: int, device: torch.device) -> np.ndarray:
    """Predictions for every row of `encoded`, in row order (eval mode, no autograd)."""
    return split_outputs(model, encoded, batch_size, device)["prediction"].astype(np.float64)


def evaluate_split(model: HSCL, encoded: EncodedSplit, batch_size: int,
                   device: torch.device) -> tuple[dict[str, float], np.ndarray]:
    """The standard MSA metrics of `model` on `encoded`, and the predictions they came from."""
    predictions = predict_split(model, encoded, batch_size, device)
    return regression_metrics(predictions, encoded.labels.numpy().astype(np.float64)), predictions


def save_projections(path, model: HSCL, encoded: EncodedSplit, batch_size: int, device: torch.device) -> None:
    """Store labels, predictions and projections of a split as an .npz (for plots of the embedding)."""
    arrays = split_outputs(model, encoded, batch_size, device, projections=True)
    np.savez_compressed(path, labels=encoded.labels.numpy(), **arrays)
