"""Reload a finished run: evaluate it on a split or predict new data."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hscl.data.batching import encode_split
from hscl.data.loading import data_inputs, load_data, load_for_prediction
from hscl.data.types import MSADataset, Sequences, SplitData
from hscl.errors import ConfigError, DataError, HSCLError
from hscl.files import check_output_file, write_csv
from hscl.model.hscl import HSCL, load_tokenizer
from hscl.model.onnx import OnnxModel, require_extra
from hscl.scores import COLUMNS, Scores
from hscl.training.evaluation import evaluate_split, predict_split
from hscl.training.export import onnx_path
from hscl.training.run_records import RunDir
from hscl.training.runtime import select_device

ENGINES: tuple[str, ...] = ("torch", "onnx")  # what predicts: torch eager, or onnxruntime on the run's ONNX export


@dataclass
class Predictor:
    """A trained model with its tokenizer and the settings it was trained with."""

    model: HSCL | OnnxModel  # the torch model, or its ONNX export in onnxruntime (engine "onnx"); both have `.config`
    tokenizer: object
    max_text_len: int
    batch_size: int
    device: torch.device

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str = "auto", engine: str = "torch") -> Predictor:
        """Load the selected model of a run directory; an `HSCLError` if the run has none (yet). `engine` "onnx"
        predicts with onnxruntime on the CPU, from the run's export (`hscl export RUN --onnx`)."""
        run = RunDir(run_dir)
        config = run.read_config()
        if engine not in ENGINES:
            raise ConfigError(f"engine {engine!r} is not allowed: use {' or '.join(ENGINES)}")
        model_dir = run.require_model()
        if engine == "torch":
            target = select_device(device)
            model: HSCL | OnnxModel = HSCL.from_pretrained(model_dir).to(target).eval()
        else:
            target = _onnx_device(device)
            model = _run_onnx_model(run_dir, model_dir)
        return cls(model, load_tokenizer(model_dir), config.data.max_text_len, config.train.eval_batch_size, target)

    def check_features(self, dataset: MSADataset) -> None:
        """A `DataError` naming the dataset unless it has every modality the model reads, with the same sizes."""
        for modality in self.model.config.active_modalities:
            expected, found = self.model.config.feature_dim(modality), dataset.feature_dim(modality)
            if found != expected:
                has = f"has no {modality} features" if found is None else f"{modality} features are {found}-d"
                raise DataError(
                    dataset.source or "the data",
                    f"{has}, but the model was trained on {expected}-d {modality} features",
                )

    def predict_split(self, split: SplitData) -> Scores:
        """The scores of every sample of `split`, in order: clipped to [-3, 3], with classes and raw outputs."""
        encoded = encode_split(split, self.tokenizer, self.max_text_len)
        if isinstance(self.model, OnnxModel):
            return Scores.from_raw(self.model.predict_split(encoded, self.batch_size))
        return Scores.from_raw(predict_split(self.model, encoded, self.batch_size, self.device))

    def predict(
        self, texts: list[str], audio: list[np.ndarray] | None = None, visual: list[np.ndarray] | None = None
    ) -> Scores:
        """Sentiment scores for raw inputs: transcripts plus (length, dim) feature arrays per sample
        (`.score` clipped to [-3, 3], `.class7`, `.polarity`, `.raw`)."""
        split = SplitData(
            ids=[str(i) for i in range(len(texts))],
            texts=list(texts),
            labels=np.zeros(len(texts), dtype=np.float32),
            audio=_pad(audio),
            visual=_pad(visual),
        )
        return self.predict_split(split)


def _onnx_device(device: str) -> torch.device:
    """The CPU, where the onnx engine runs; a `ConfigError` for any other device asked for."""
    if device not in ("auto", "cpu"):
        raise ConfigError(f"device {device!r}: the onnx engine runs on the CPU (auto or cpu); use --engine torch")
    return torch.device("cpu")


def _run_onnx_model(run_dir: str | Path, model_dir: Path) -> OnnxModel:
    """The run's ONNX export in onnxruntime; an `HSCLError` saying how to make it if there is none."""
    require_extra()
    path = onnx_path(run_dir)
    if not path.exists():
        command = f"hscl export {shlex.quote(str(run_dir))} --onnx"
        raise HSCLError(f"{path}: no ONNX export of this run's model; run `{command}` first")
    return OnnxModel.load(path, model_dir)


def _pad(sequences: list[np.ndarray] | None) -> Sequences | None:
    """Right-pad a list of (length, dim) arrays into `Sequences` (None stays None)."""
    return None if sequences is None else Sequences.from_frames(sequences, sequences[0].shape[1])


def run_dataset(run_dir: str | Path, data: str | None = None, format: str | None = None) -> MSADataset:
    """The run's own dataset, or another one given by path (and format); an unlabelled extracted set is read as is."""
    if data is None:
        return load_data(RunDir(run_dir).read_config().data)
    return load_for_prediction(data, format)


def evaluate_run(
    run_dir: str | Path, split: str = "test", data: str | None = None, format: str | None = None, device: str = "auto"
) -> dict[str, float]:
    """Metrics of a run's selected checkpoint on `split`; reproduces the numbers saved at training time."""
    predictor = Predictor.from_run(run_dir, device)
    dataset = run_dataset(run_dir, data, format)
    predictor.check_features(dataset)
    part = dataset[split]
    if not len(part) or not np.isfinite(part.labels).all():
        present = ", ".join(name for name, data in dataset.splits.items() if len(data)) or "none"
        why = "no samples" if not len(part) else "no labels"
        raise DataError(
            dataset.source or str(data),
            f"split {split!r} has {why} (splits with samples: {present}); scoring needs labels: "
            "`hscl predict --data` writes the predictions of a dataset without them",
        )
    encoded = encode_split(part, predictor.tokenizer, predictor.max_text_len)
    return evaluate_split(predictor.model, encoded, predictor.batch_size, predictor.device)


def predict_run(
    run_dir: str | Path,
    data: str | None,
    out_csv: str | Path | None,
    format: str | None = None,
    split: str = "test",
    device: str = "auto",
    engine: str = "torch",
) -> int:
    """Write `id, split, score, class7, polarity, raw, label` rows (`hscl.scores.COLUMNS`) of dataset `data`
    (None: the run's own) for `split` (or every non-empty split with 'all') to `out_csv` (None: standard
    output); returns the row count. An unlabelled extracted set gets empty labels.

    Everything is checked (the output location, the run, the data and its feature sizes) before the CSV
    is written, atomically. (`hscl predict --data` first checks that data from `hscl extract` was extracted
    like the run's: `hscl.extract.records.check_same_extraction`.) `engine`: as `Predictor.from_run`.
    """
    run = RunDir(run_dir)
    run.require_folder()
    own = run.read_config().data
    reads = data_inputs(data) if data is not None else data_inputs(own.path, own.options)
    out = None if out_csv is None else check_output_file(out_csv, [*run.records(), *reads])
    predictor = Predictor.from_run(run_dir, device, engine)
    dataset = run_dataset(run_dir, data, format)
    predictor.check_features(dataset)
    names = [name for name, part in dataset.splits.items() if len(part)] if split == "all" else [split]
    if split != "all" and not len(dataset.splits.get(split, [])):
        present = ", ".join(name for name in dataset.splits if len(dataset[name]))
        raise HSCLError(f"{dataset.source or data}: no samples in split {split!r}; it has {present}")
    rows = []
    for name in names:
        part = dataset[name]
        scores = predictor.predict_split(part)
        rows += [
            [sample_id, name, *scores.row(i), f"{float(label):.6f}" if np.isfinite(label) else ""]
            for i, (sample_id, label) in enumerate(zip(part.ids, part.labels))
        ]
    write_csv(out, ["id", "split", *COLUMNS, "label"], rows)
    return len(rows)
