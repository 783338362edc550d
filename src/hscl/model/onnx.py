"""The ONNX form of a trained HSCL: its prediction graph exported with torch's dynamo exporter (dynamic batch
size and text, audio and visual lengths), and an onnxruntime session that predicts an `EncodedSplit`.

The file carries, in its ONNX metadata, the SHA-256 of the saved model's weights it was exported from
(`HSCL.save_pretrained`'s `model.safetensors`); `OnnxModel.load` refuses a file exported from other weights.
onnx, onnxscript and onnxruntime (the `[onnx]` extra) are imported only when used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hscl.config.model import HSCLConfig
from hscl.data.batching import EncodedSplit, iter_batches
from hscl.data.types import Batch
from hscl.errors import HSCLError
from hscl.files import file_problem, open_atomic
from hscl.model.hscl import HSCL, WEIGHTS_FILE, read_model_config

ONNX_FILE = "model.onnx"  # where `hscl export --onnx` writes by default: beside the weights, in the model folder
ONNX_FORMAT = "hscl-onnx/1"
EXTRA = "the onnx extra is not installed (pip install 'hscl[onnx]', or bash scripts/setup.sh)"
TOLERANCE = 1e-4  # largest difference from torch's prediction an export may show on its check batch
OUTPUT = "prediction"
# onnxruntime's exceptions for a file it cannot load (its `NotImplemented` would shadow the builtin if imported)
LOAD_ERRORS = ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile", "NotImplemented")
# keys of the ONNX metadata (`metadata_props`) an export writes
META_FORMAT = "hscl.format"
META_WEIGHTS = "hscl.weights_sha256"
META_CONFIG = "hscl.model_config"
META_SOURCE = "hscl.source"
META_VERSIONS = "hscl.versions"


def input_names(config: HSCLConfig) -> list[str]:
    """The graph's inputs, as `EncodedSplit.batch` names them: token ids and mask, then each modality and its mask."""
    names = ["input_ids", "attention_mask"]
    for modality in config.active_modalities:
        names += [modality, f"{modality}_mask"]
    return names


class PredictionGraph(nn.Module):
    """HSCL's prediction (B,) as a function of plain tensors (the inputs of `input_names`), for export."""

    def __init__(self, model: HSCL) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *modalities: torch.Tensor) -> torch.Tensor:
        """Prediction (B,); `modalities` are (features, mask) pairs in the order of `active_modalities`."""
        fields = dict(zip(input_names(self.model.config)[2:], modalities))
        batch = Batch(input_ids, attention_mask, input_ids.new_zeros(input_ids.shape[0], dtype=torch.float32), **fields)
        return self.model(batch).prediction


def weights_sha256(model_dir: str | Path) -> str:
    """SHA-256 of a saved model's weights file (what ties an ONNX file to the model it came from)."""
    digest = hashlib.sha256()
    with (Path(model_dir) / WEIGHTS_FILE).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def require_extra() -> None:
    """An `HSCLError` in one line unless onnx, onnxscript and onnxruntime can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise HSCLError(f"{EXTRA}: {err}") from None


def _check_batch(config: HSCLConfig, vocab_size: int) -> Batch:
    """A small random batch for `config`: 3 samples of different text and frame lengths, one of them 1 long."""
    generator = torch.Generator().manual_seed(0)
    size, text = 3, torch.tensor([4, 2, 6])
    width = int(text.max())
    batch = Batch(
        input_ids=torch.randint(0, vocab_size, (size, width), generator=generator),
        attention_mask=torch.arange(width) < text.unsqueeze(1),
        labels=torch.zeros(size),
    )
    for modality, lengths in zip(config.active_modalities, (torch.tensor([1, 5, 3]), torch.tensor([4, 1, 2]))):
        mask = torch.arange(int(lengths.max())) < lengths.unsqueeze(1)
        features = torch.randn(size, mask.shape[1], config.feature_dim(modality), generator=generator)
        setattr(batch, modality, features * mask.unsqueeze(-1))
        setattr(batch, f"{modality}_mask", mask)
    return batch


def batch_inputs(batch: Batch, config: HSCLConfig) -> dict[str, np.ndarray]:
    """The graph's inputs for `batch`, as numpy arrays by name."""
    return {name: getattr(batch, name).cpu().numpy() for name in input_names(config)}


@contextmanager
def _quiet_export() -> Iterator[None]:
    """The exporter's advisory warnings and log lines (skipped torchvision ops, constant folding) kept quiet."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def export_onnx(model_dir: str | Path, out: str | Path) -> None:
    """Export the saved model in `model_dir` (`HSCL.save_pretrained`) to the ONNX file `out`, written atomically
    once onnxruntime's predictions on a check batch equal torch's within `TOLERANCE`. `out` is checked by the
    caller (`hscl.files.check_output_file`)."""
    require_extra()
    import onnx

    model_dir = Path(model_dir)
    model = HSCL.from_pretrained(model_dir)
    config = model.config
    graph = PredictionGraph(model).eval()
    # the example's sizes are >= 2 and differ per axis, so the exporter keeps every axis symbolic
    batch, text = torch.export.Dim("batch"), torch.export.Dim("text")
    example = Batch(
        input_ids=torch.ones(2, 5, dtype=torch.long),
        attention_mask=torch.ones(2, 5, dtype=torch.bool),
        labels=torch.zeros(2),
    )
    shapes = {"input_ids": {0: batch, 1: text}, "attention_mask": {0: batch, 1: text}}
    for modality, length in zip(config.active_modalities, (3, 4)):
        axis = torch.export.Dim(modality)
        setattr(example, modality, torch.randn(2, length, config.feature_dim(modality)))
        setattr(example, f"{modality}_mask", torch.ones(2, length, dtype=torch.bool))
        shapes[modality] = shapes[f"{modality}_mask"] = {0: batch, 1: axis}
    names = input_names(config)
    # as the exporter sees `PredictionGraph.forward`'s arguments: the text's two, then a tuple of the others if any
    dynamic_shapes: tuple = (shapes[names[0]], shapes[names[1]])
    if len(names) > 2:
        dynamic_shapes += (tuple(shapes[name] for name in names[2:]),)
    with _quiet_export(), torch.inference_mode(False), torch.no_grad():
        program = torch.onnx.export(
            graph,
            tuple(getattr(example, name) for name in names),
            input_names=names,
            output_names=[OUTPUT],
            dynamic_shapes=dynamic_shapes,
            dynamo=True,
            verbose=False,
        )
    proto = program.model_proto
    onnx.helper.set_model_props(
        proto,
        {
            META_FORMAT: ONNX_FORMAT,
            META_WEIGHTS: weights_sha256(model_dir),
            META_CONFIG: json.dumps(config.to_dict(), sort_keys=True),
            META_SOURCE: str(model_dir),
            META_VERSIONS: f"torch {torch.__version__}, onnx {onnx.__version__}",
        },
    )
    data = proto.SerializeToString()
    _check_export(graph, data, config)
    with open_atomic(out, binary=True) as handle:
        handle.write(data)


def _check_export(graph: PredictionGraph, data: bytes, config: HSCLConfig) -> None:
    """An `HSCLError` unless onnxruntime's prediction of `data` on a check batch equals torch's within TOLERANCE."""
    batch = _check_batch(config, int(graph.model.text_encoder.config.vocab_size))
    with torch.no_grad():
        expected = graph(*(getattr(batch, name) for name in input_names(config))).numpy()
    found = _session(data, threads=1).run([OUTPUT], batch_inputs(batch, config))[0]
    gap = float(np.abs(found - expected).max())
    if not gap <= TOLERANCE:
        raise HSCLError(f"the ONNX export differs from the torch model by {gap:.3g} (> {TOLERANCE}); nothing written")


def _session(model: str | bytes, threads: int):
    """An onnxruntime CPU session for a model file or its bytes, with `threads` intra-op threads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: no advisory lines on stderr
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class OnnxModel:
    """An exported HSCL in an onnxruntime session. Like the torch model, it has the saved model's `config`."""

    def __init__(self, session, config: HSCLConfig, path: Path) -> None:
        self.session = session
        self.config = config
        self.path = path

    @classmethod
    def load(cls, path: str | Path, model_dir: str | Path, threads: int | None = None) -> OnnxModel:
        """The ONNX file `path`, exported from the saved model in `model_dir` (checked), on `threads` CPU threads
        (default: torch's). An `HSCLError` in one line if the extra is missing, the file is absent or not an
        export of hscl, or it was exported from other weights."""
        require_extra()
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

        path, model_dir = Path(path), Path(model_dir)
        problem = file_problem(path, "ONNX file")
        if problem is not None:
            raise HSCLError(f"{path}: {problem}")
        load_errors = (*(getattr(ort_errors, name) for name in LOAD_ERRORS), RuntimeError)
        try:
            session = _session(str(path), threads or torch.get_num_threads())
        except load_errors as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise HSCLError(f"{path}: not a readable ONNX model (truncated or corrupt?): {first}") from None
        meta = session.get_modelmeta().custom_metadata_map
        if meta.get(META_FORMAT) != ONNX_FORMAT:
            raise HSCLError(f"{path}: not an ONNX export of an HSCL model ({META_FORMAT} is {meta.get(META_FORMAT)!r})")
        config, weights = read_model_config(model_dir), weights_sha256(model_dir)
        if meta.get(META_WEIGHTS) != weights:
            raise HSCLError(
                f"{path}: exported from another model (weights sha256 {meta.get(META_WEIGHTS, '?')[:12]}...), not "
                f"from {model_dir} ({weights[:12]}...); export this model again"
            )
        found = [node.name for node in session.get_inputs()]
        if found != input_names(config):
            raise HSCLError(f"{path}: its inputs are {found}, but {model_dir} reads {input_names(config)}")
        return cls(session, config, path)

    def predict_split(self, encoded: EncodedSplit, batch_size: int) -> np.ndarray:
        """Predictions (float64) for every row of `encoded`, in row order, `batch_size` rows a run."""
        parts = [
            self.session.run([OUTPUT], batch_inputs(batch, self.config))[0]
            for batch in iter_batches(encoded, batch_size, shuffle=False)
        ]
        return np.concatenate(parts).astype(np.float64)
