"""Run a model over a whole split and score it: one code path for validation, test and `hscl evaluate`,
in one process or shared by several (each predicts a contiguous shard, the predictions are gathered)."""

from __future__ import annotations

import numpy as np
import torch

from hscl.data.batching import EncodedSplit, iter_batches
from hscl.metrics import regression_metrics
from hscl.model.hscl import HSCL
from hscl.training import distributed

SINGLE_PROCESS = distributed.Context()  # the default: one process, nothing shared


def split_outputs(
    model: HSCL, encoded: EncodedSplit, batch_size: int, device: torch.device, projections: bool = False
) -> dict[str, np.ndarray]:
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


def predict_split(
    model: HSCL,
    encoded: EncodedSplit,
    batch_size: int,
    device: torch.device,
    ctx: distributed.Context = SINGLE_PROCESS,
) -> np.ndarray:
    """Predictions for every row of `encoded`, in row order (eval mode, no autograd); under several processes
    each predicts its shard and every process gets all predictions."""
    if not ctx.enabled:
        return split_outputs(model, encoded, batch_size, device)["prediction"].astype(np.float64)
    local = split_outputs(model, distributed.shard_split(encoded, ctx), batch_size, device)["prediction"]
    gathered = distributed.gather_rows(torch.from_numpy(local).to(device), distributed.shard_sizes(len(encoded), ctx))
    return gathered.cpu().numpy().astype(np.float64)


def evaluate_split(
    model: HSCL,
    encoded: EncodedSplit,
    batch_size: int,
    device: torch.device,
    ctx: distributed.Context = SINGLE_PROCESS,
) -> dict[str, float]:
    """The standard MSA metrics of `model` on `encoded` (in one process, or shared by the processes of `ctx`)."""
    predictions = predict_split(model, encoded, batch_size, device, ctx)
    return regression_metrics(predictions, encoded.labels.numpy().astype(np.float64))


def split_projections(
    model: HSCL, encoded: EncodedSplit, batch_size: int, device: torch.device
) -> dict[str, np.ndarray]:
    """Labels, predictions and projections of a split (for plots of the embedding)."""
    return {"labels": encoded.labels.numpy(), **split_outputs(model, encoded, batch_size, device, projections=True)}
