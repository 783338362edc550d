"""Reload a finished run: evaluate it on a split or predict new data."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hscl.data.batching import encode_split
from hscl.data.loading import load_dataset
from hscl.data.readers import converted
from hscl.data.readers._common import pad_right
from hscl.data.types import MSADataset, Sequences, SplitData
from hscl.errors import HSCLError
from hscl.extract.prediction import check_same_extraction
from hscl.model.hscl import HSCL, load_tokenizer
from hscl.training import run_dir as layout
from hscl.training.evaluation import evaluate_split, predict_split
from hscl.training.runtime import select_device
from hscl.training.trainer import load_data


@dataclass
class Predictor:
    """A trained model with its tokenizer and the settings it was trained with."""

    model: HSCL
    tokenizer: object
    max_text_len: int
    batch_size: int
    device: torch.device

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str = "auto") -> "Predictor":
        """Load the selected checkpoint of a run directory."""
        config = layout.load_run_config(run_dir)
        target = select_device(device)
        model = HSCL.from_pretrained(layout.model_dir(run_dir)).to(target).eval()
        tokenizer = load_tokenizer(layout.model_dir(run_dir))
        return cls(model, tokenizer, config.data.max_text_len, config.train.eval_batch_size, target)

    def predict_split(self, split: SplitData) -> np.ndarray:
        """Predictions for every sample of `split`, in order."""
        encoded = encode_split(split, self.tokenizer, self.max_text_len)
        return predict_split(self.model, encoded, self.batch_size, self.device)

    def predict(self, texts: list[str], audio: list[np.ndarray] | None = None,
                visual: list[np.ndarray] | None = None) -> np.ndarray:
        """Sentiment scores for raw inputs: transcripts plus (length, dim) feature arrays per sample."""
        split = SplitData(ids=[str(i) for i in range(len(texts))], texts=list(texts),
                          labels=np.zeros(len(texts), dtype=np.float32),
                          audio=_pad(audio), visual=_pad(visual))
        return self.predict_split(split)


def _pad(sequences: list[np.ndarray] | None) -> Sequences | None:
    """Right-pad a list of (length, dim) arrays into `Sequences` (None stays None)."""
    return None if sequences is None else pad_right(sequences, sequences[0].shape[1])


def run_dataset(run_dir: str | Path, data: str | None = None, format: str | None = None) -> MSADataset:
    """The run's own dataset, or another one given by path (and format); an unlabelled extracted set is read as is."""
    if data is None:
        return load_data(layout.load_run_config(run_dir))
    if format in (None, "converted") and converted.detect(data) and not converted.read_manifest(
            Path(data) / converted.MANIFEST_FILE).labelled:
        return converted.read(data, allow_unlabelled=True)
    return load_dataset(data, format)


def evaluate_run(run_dir: str | Path, split: str = "test", data: str | None = None,
                 format: str | None = None, device: str = "auto") -> dict[str, float]:
    """Metrics of a run's selected checkpoint on `split`; reproduces the numbers saved at training time."""
    predictor = Predictor.from_run(run_dir, device)
    dataset = run_dataset(run_dir, data, format)
    encoded = encode_split(dataset[split], predictor.tokenizer, predictor.max_text_len)
    metrics, _ = evaluate_split(predictor.model, encoded, predictor.batch_size, predictor.device)
    return metrics


def predict_run(run_dir: str | Path, data: str, out_csv: str | Path, format: str | None = None,
                split: str = "test", device: str = "auto") -> int:
    """Write `id, split, prediction, label` rows for `split` (or every split with 'all'); returns the row count."""
    if data is not None:
        check_same_extraction(run_dir, data)
    predictor = Predictor.from_run(run_dir, device)
    dataset = run_dataset(run_dir, data, format)
    names = [name for name, part in dataset.splits.items() if len(part)] if split == "all" else [split]
    if split != "all" and not len(dataset.splits.get(split, [])):
        raise HSCLError(f"{data}: no samples in split {split!r}; it has {', '.join(n for n in dataset.splits if len(dataset[n]))}")
    rows = 0
    with Path(out_csv).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "split", "prediction", "label"])
        for name in names:
            part = dataset[name]
            for sample_id, pred, label in zip(part.ids, predictor.predict_split(part), part.labels):
                writer.writerow([sample_id, name, f"{pred:.6f}", f"{float(label):.6f}" if np.isfinite(label) else ""])
                rows += 1
    return rows
