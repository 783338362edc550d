"""Predict a whole split and score it: one code path for validation, test and `hscl evaluate`."""
from __future__ import annotations

import numpy as np
import torch

from hscl.data.batching import EncodedSplit, iter_batches
from hscl.metrics import regression_metrics
from hscl.model.hscl import HSCL


def predict_split(model: HSCL, encoded: EncodedSplit, batch_size: int, device: torch.device) -> np.ndarray:
    """Predictions for every row of `encoded`, in row order (eval mode, no autograd)."""
    was_training = model.training
    model.eval()
    outputs = []
    with torch.inference_mode():
        for batch in iter_batches(encoded, batch_size, shuffle=False):
            outputs.append(model(batch.to(device)).prediction.float().cpu())
    model.train(was_training)
    return torch.cat(outputs).numpy().astype(np.float64)


def evaluate_split(model: HSCL, encoded: EncodedSplit, batch_size: int,
                   device: torch.device) -> tuple[dict[str, float], np.ndarray]:
    """The standard MSA metrics of `model` on `encoded`, and the predictions they came from."""
    predictions = predict_split(model, encoded, batch_size, device)
    return regression_metrics(predictions, encoded.labels.numpy().astype(np.float64)), predictions
