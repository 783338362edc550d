"""The ONNX engine: an export predicts what the torch model predicts (several batch sizes, lengths varying per
sample, padding), `hscl export` → `hscl predict --engine onnx` equals `--engine torch`, and every refusal is one
line (no export, another model's export, a corrupt or foreign file, the extra missing, outputs over inputs)."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import WORDS
from hscl.cli import main
from hscl.config import DataConfig, LossConfig, RunConfig, TrainConfig
from hscl.data.batching import encode_split
from hscl.data.convert import write_converted
from hscl.data.loading import load_dataset
from hscl.data.types import Sequences, SplitData
from hscl.errors import ConfigError, HSCLError
from hscl.model import HSCL, load_tokenizer
from hscl.model.onnx import ONNX_FILE, OnnxModel, export_onnx
from hscl.training.evaluation import predict_split
from hscl.training.inference import Predictor
from hscl.training.trainer import train
from test_model import AUDIO_DIM, VISUAL_DIM, tiny_config  # the same tiny model as the model tests

onnxruntime = pytest.importorskip("onnxruntime", reason="the onnx extra (onnxruntime) is not installed")

TOLERANCE = 1e-4
SYNTHETIC = {"n_train": 24, "n_valid": 8, "n_test": 12, "seed": 3, "max_audio_len": 9, "max_visual_len": 7}


@pytest.fixture(scope="module")
def tav(tiny_text_model_dir, tiny_tokenizer, tmp_path_factory, one_thread) -> tuple[HSCL, Path, Path]:
    """A random text+audio+visual model saved with its tokenizer, and its export: (model, model folder, file)."""
    torch.manual_seed(0)
    model = HSCL(tiny_config(tiny_text_model_dir, "audio+visual")).eval()
    model_dir = tmp_path_factory.mktemp("tav") / "model"
    model.save_pretrained(model_dir, tiny_tokenizer)
    export_onnx(model_dir, model_dir / ONNX_FILE)
    return model, model_dir, model_dir / ONNX_FILE


@pytest.fixture(scope="module")
def ta_run(tiny_text_model_dir, tmp_path_factory, one_thread) -> Path:
    """A trained text+audio run (one epoch on a small synthetic set), exported by `hscl export RUN --onnx`."""
    config = RunConfig(
        name="onnx",
        data=DataConfig(format="synthetic", options=dict(SYNTHETIC), max_text_len=24),
        model=tiny_config(tiny_text_model_dir, "audio").replace(audio_dim=None, visual_dim=None),
        loss=LossConfig(),
        train=TrainConfig(epochs=1, batch_size=8, eval_batch_size=5, progress_bar=False, device="cpu", seed=5),
    )
    run = tmp_path_factory.mktemp("runs") / "ta"
    train(config, run)
    assert main(["export", str(run), "--onnx"]) == 0
    assert (run / "model" / ONNX_FILE).is_file()
    return run


@pytest.fixture(scope="module")
def new_data(ta_run, tmp_path_factory) -> Path:
    """A converted dataset of new samples, for `hscl predict --data`."""
    out = tmp_path_factory.mktemp("data") / "new"
    write_converted(load_dataset(None, "synthetic", **{**SYNTHETIC, "seed": 11}), out)
    return out


def random_split(n: int, modalities: tuple[str, ...], seed: int, max_len: int = 12) -> SplitData:
    """`n` random samples: 1 to 20 words, frame counts varying per sample from 0 up, one sample with 1 frame."""
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(1, 21))) for _ in range(n)]
    split = SplitData(ids=[str(i) for i in range(n)], texts=texts, labels=np.zeros(n, dtype=np.float32))
    for modality, dim in (("audio", AUDIO_DIM), ("visual", VISUAL_DIM)):
        if modality in modalities:
            lengths = rng.integers(0, max_len + 1, n)
            lengths[rng.integers(n)] = 1
            frames = [rng.standard_normal((length, dim)).astype(np.float32) for length in lengths]
            setattr(split, modality, Sequences.from_frames(frames, dim))
    return split


CASES = [(1, 1, 0), (3, 3, 1), (17, 17, 2), (17, 5, 3), (40, 64, 4)]  # (samples, batch size, seed)


def assert_same_predictions(model: HSCL, engine: OnnxModel, tokenizer, n: int, batch_size: int, seed: int) -> None:
    split = random_split(n, model.config.active_modalities, seed, max_len=40 if n == 40 else 12)
    encoded = encode_split(split, tokenizer, max_text_len=24)
    expected = predict_split(model, encoded, batch_size, torch.device("cpu"))
    found = engine.predict_split(encoded, batch_size)
    assert found.shape == expected.shape == (n,) and found.dtype == np.float64
    assert np.abs(found - expected).max() <= TOLERANCE
    assert np.std(expected) > 0 or n == 1  # the inputs matter: a constant model would prove nothing


@pytest.mark.parametrize(("n", "batch_size", "seed"), CASES)
def test_text_audio_visual_export_predicts_as_torch(tav, tiny_tokenizer, n, batch_size, seed):
    model, model_dir, path = tav
    engine = OnnxModel.load(path, model_dir, threads=1)
    assert engine.config == model.config
    assert_same_predictions(model, engine, tiny_tokenizer, n, batch_size, seed)


@pytest.mark.parametrize(("n", "batch_size", "seed"), CASES)
def test_text_audio_export_predicts_as_torch(ta_run, n, batch_size, seed):
    model_dir = ta_run / "model"
    model, engine = HSCL.from_pretrained(model_dir), OnnxModel.load(model_dir / ONNX_FILE, model_dir, threads=1)
    assert [node.name for node in engine.session.get_inputs()] == ["input_ids", "attention_mask", "audio", "audio_mask"]
    assert_same_predictions(model, engine, load_tokenizer(model_dir), n, batch_size, seed)


def test_text_only_export_predicts_as_torch(tiny_text_model_dir, tiny_tokenizer, tmp_path, one_thread):
    torch.manual_seed(1)
    model = HSCL(tiny_config(tiny_text_model_dir, "text")).eval()
    model.save_pretrained(tmp_path / "model", tiny_tokenizer)
    export_onnx(tmp_path / "model", tmp_path / "text.onnx")
    engine = OnnxModel.load(tmp_path / "text.onnx", tmp_path / "model", threads=1)
    assert [node.name for node in engine.session.get_inputs()] == ["input_ids", "attention_mask"]
    for n, batch_size, seed in CASES[1:4]:
        assert_same_predictions(model, engine, tiny_tokenizer, n, batch_size, seed)


def test_predictor_engines_agree(ta_run):
    torch_predictor = Predictor.from_run(ta_run, "cpu")
    onnx_predictor = Predictor.from_run(ta_run, "cpu", engine="onnx")
    assert isinstance(onnx_predictor.model, OnnxModel)
    assert onnx_predictor.model.config == torch_predictor.model.config  # `.model.config` works for both
    texts = ["a truly wonderful film", "awful", "the plot was not bad at all and i enjoyed it"]
    audio = [np.ones((1, AUDIO_DIM), np.float32), np.zeros((4, AUDIO_DIM), np.float32), np.full((9, AUDIO_DIM), 0.5)]
    expected, found = torch_predictor.predict(texts, audio=audio), onnx_predictor.predict(texts, audio=audio)
    assert np.abs(found.raw - expected.raw).max() <= TOLERANCE
    assert list(found.class7) == list(expected.class7)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_cli_predict_onnx_equals_torch(ta_run, new_data, tmp_path, capsys):
    for engine in ("torch", "onnx"):
        out = tmp_path / f"{engine}.csv"
        args = ["predict", str(ta_run), "--data", str(new_data), "--split", "all", "--out", str(out)]
        assert main([*args, "--engine", engine]) == 0
        assert f"wrote 44 predictions to {out}" in capsys.readouterr().out
    by_torch, by_onnx = read_rows(tmp_path / "torch.csv"), read_rows(tmp_path / "onnx.csv")
    assert [row["id"] for row in by_onnx] == [row["id"] for row in by_torch] and len(by_onnx) == 44
    gaps = [abs(float(a["raw"]) - float(b["raw"])) for a, b in zip(by_torch, by_onnx)]
    assert max(gaps) <= TOLERANCE + 1e-6  # the CSV rounds to 6 decimals


def copy_run(run: Path, to: Path, with_export: bool = False) -> Path:
    """A copy of `run` (without its export unless asked)."""
    ignore = None if with_export else shutil.ignore_patterns(ONNX_FILE)
    return Path(shutil.copytree(run, to, ignore=ignore))


def refusal(capsys, args: list[str]) -> str:
    """The one line `hscl ARGS` prints when it refuses (exit status 2)."""
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hscl: error: "), lines
    return lines[0]


def test_onnx_engine_without_export_says_how_to_make_one(ta_run, new_data, tmp_path, capsys):
    run = copy_run(ta_run, tmp_path / "run")
    with pytest.raises(HSCLError, match=rf"run `hscl export {run} --onnx` first"):
        Predictor.from_run(run, engine="onnx")
    out = tmp_path / "p.csv"
    line = refusal(capsys, ["predict", str(run), "--data", str(new_data), "--engine", "onnx", "--out", str(out)])
    assert "no ONNX export" in line and not out.exists()


def test_export_of_another_model_is_refused(ta_run, tav, tmp_path):
    run = copy_run(ta_run, tmp_path / "run")
    shutil.copy(tav[2], run / "model" / ONNX_FILE)
    with pytest.raises(HSCLError, match="exported from another model"):
        Predictor.from_run(run, engine="onnx")


def test_corrupt_and_foreign_files_are_refused(ta_run, tmp_path):
    import onnx

    run = copy_run(ta_run, tmp_path / "run", with_export=True)
    path = run / "model" / ONNX_FILE
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    onnx.save(proto, str(path))
    with pytest.raises(HSCLError, match="not an ONNX export of an HSCL model"):
        Predictor.from_run(run, engine="onnx")
    path.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(HSCLError, match="not a readable ONNX model"):
        Predictor.from_run(run, engine="onnx")


def test_missing_extra_is_one_line(ta_run, tmp_path, monkeypatch, capsys):
    run = copy_run(ta_run, tmp_path / "run", with_export=True)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    with pytest.raises(HSCLError, match="the onnx extra is not installed"):
        Predictor.from_run(run, engine="onnx")
    out = tmp_path / "m.onnx"
    assert "the onnx extra is not installed" in refusal(capsys, ["export", str(run), "--onnx", "--out", str(out)])
    assert not out.exists()


def test_bad_engine_and_device(ta_run):
    with pytest.raises(ConfigError, match="engine 'tensorrt' is not allowed: use torch or onnx"):
        Predictor.from_run(ta_run, engine="tensorrt")
    with pytest.raises(ConfigError, match="the onnx engine runs on the CPU"):
        Predictor.from_run(ta_run, device="cuda", engine="onnx")


def test_export_outputs_never_replace_inputs(ta_run, tmp_path, capsys):
    before = {path: path.read_bytes() for path in ta_run.rglob("*") if path.is_file()}
    for out in ("config.yaml", "model/model.safetensors", "model/tokenizer/vocab.txt", "model"):
        line = refusal(capsys, ["export", str(ta_run), "--onnx", "--out", str(ta_run / out)])
        assert str(ta_run / out) in line
    assert {path: path.read_bytes() for path in ta_run.rglob("*") if path.is_file()} == before
    assert str(tmp_path / "nothing") in refusal(capsys, ["export", str(tmp_path / "nothing"), "--onnx"])


def test_export_of_a_run_without_a_model_is_refused(ta_run, tmp_path, capsys):
    run = copy_run(ta_run, tmp_path / "run")
    shutil.rmtree(run / "model")
    line = refusal(capsys, ["export", str(run), "--onnx"])
    assert f"{run / 'model'}: missing" in line and not (run / "model").exists()
