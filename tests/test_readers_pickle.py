"""The MulT, MMIM and MMSA readers, end to end through `load_dataset`, on synthetic files."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pickle_fixtures as fx
from hscl.data import types
from hscl.data.loading import detect_format, load_dataset
from hscl.data.readers import _common
from hscl.data.types import SPLITS, MSADataset
from hscl.errors import DataError


@pytest.fixture(scope="module")
def splits() -> fx.Splits:
    return fx.make_utterances()


def assert_matches(ds: MSADataset, splits: fx.Splits, fmt: str) -> None:
    """Every field of `ds` equals the ground truth: ids, texts, labels, unpadded frames, lengths, padding."""
    assert ds.format == fmt
    assert list(ds.splits) == list(SPLITS)
    for split in SPLITS:
        truth, data = splits[split], ds[split]
        assert data.ids == [u.id for u in truth]
        assert data.texts == [u.text for u in truth]
        assert data.labels.dtype == np.float32
        np.testing.assert_array_equal(data.labels, np.array([u.label for u in truth], dtype=np.float32))
        for name, dim in (("audio", fx.AUDIO_DIM), ("visual", fx.VISUAL_DIM)):
            seq = data.modality(name)
            assert seq.features.dtype == np.float32 and seq.lengths.dtype == np.int64
            assert seq.dim == dim
            for i, u in enumerate(truth):
                frames = getattr(u, name)
                assert seq.lengths[i] == len(frames), (split, name, u.id)
                np.testing.assert_array_equal(seq.features[i, : len(frames)], fx.expected_frames(frames))
                assert not seq.features[i, len(frames) :].any()
    count = fx.non_finite_count(splits["train"], "audio")
    assert count > 0
    assert f"audio: replaced {count} non-finite values with 0 in train" in ds.notes


# --- MulT


@pytest.mark.parametrize("target", ["folder", "file"])
@pytest.mark.parametrize("fmt", ["mult", None])
def test_mult_mosi_by_id(tmp_path: Path, splits: fx.Splits, target: str, fmt: str | None) -> None:
    pickle_path = fx.write_mult(tmp_path, splits)
    path = tmp_path if target == "folder" else pickle_path
    assert detect_format(path) == "mult"
    assert_matches(load_dataset(path, format=fmt), splits, "mult")


def test_mult_label_csv_option(tmp_path: Path, splits: fx.Splits) -> None:
    pickle_path = fx.write_pickle(tmp_path / "features" / "renamed.pkl", fx.mult_payload(splits))
    with pytest.raises(DataError, match="label_csv="):
        load_dataset(pickle_path, format="mult")
    csv_path = fx.write_label_csv(tmp_path / "elsewhere" / "labels.csv", splits)
    assert_matches(load_dataset(pickle_path, format="mult", label_csv=csv_path), splits, "mult")


def test_mult_mosei_without_ids_needs_match_by_position(tmp_path: Path, splits: fx.Splits) -> None:
    pickle_path = fx.write_mult(tmp_path, splits, variant="mosei")
    with pytest.raises(DataError, match="match_by_position=True") as caught:
        load_dataset(tmp_path)
    assert str(pickle_path) in str(caught.value)
    ds = load_dataset(tmp_path, match_by_position=True)
    assert_matches(ds, splits, "mult")
    assert any("train: matched 6 samples to CSV rows by position" in note for note in ds.notes)


def test_mult_unusable_ids_fall_back_to_position_only_when_asked(tmp_path: Path, splits: fx.Splits) -> None:
    payload = fx.mult_payload(splits)
    for part in payload.values():
        part["id"] = np.array([[b"unknown%d" % i, b"0", b"1"] for i in range(len(part["labels"]))])
    fx.write_pickle(tmp_path / "mosei_senti_data_noalign.pkl", payload)
    fx.write_label_csv(tmp_path / "MOSEI-label.csv", splits, order="interleaved")
    with pytest.raises(DataError, match="'unknown0'.*match_by_position"):
        load_dataset(tmp_path)
    assert_matches(load_dataset(tmp_path, match_by_position=True), splits, "mult")


def test_mult_position_matching_needs_equal_counts(tmp_path: Path, splits: fx.Splits) -> None:
    fx.write_pickle(tmp_path / "mosei_senti_data_noalign.pkl", fx.mult_payload(splits, with_ids=False))
    fewer = {**splits, "valid": splits["valid"][:-1]}
    csv_path = fx.write_label_csv(tmp_path / "MOSEI-label.csv", fewer, order="interleaved")
    with pytest.raises(DataError, match="valid: 2 rows with this mode but the pickle has 3") as caught:
        load_dataset(tmp_path, match_by_position=True)
    assert str(csv_path) in str(caught.value)


def test_mult_position_matching_needs_a_mode_column(tmp_path: Path, splits: fx.Splits) -> None:
    fx.write_pickle(tmp_path / "mosei_senti_data_noalign.pkl", fx.mult_payload(splits, with_ids=False))
    csv_path = tmp_path / "MOSEI-label.csv"
    csv_path.write_text(
        "video_id,clip_id,text,label\n"
        + "".join(f"{u.video},{u.clip},t,{u.label}\n" for rows in splits.values() for u in rows)
    )
    with pytest.raises(DataError, match="match_by_position needs a 'mode' column"):
        load_dataset(tmp_path, match_by_position=True)


def test_mult_id_without_transcript(tmp_path: Path, splits: fx.Splits) -> None:
    fx.write_pickle(tmp_path / "mosi_data_noalign.pkl", fx.mult_payload(splits))
    missing = splits["test"][2]
    csv_path = fx.write_label_csv(
        tmp_path / "MOSI-label.csv", {**splits, "test": [u for u in splits["test"] if u is not missing]}
    )
    for options in ({}, {"match_by_position": True}):
        with pytest.raises(DataError, match=f"test: id '{missing.id}'.*no transcript") as caught:
            load_dataset(tmp_path, **options)
        assert str(csv_path) in str(caught.value)


def test_mult_label_disagreement_warns_and_keeps_pickle_label(
    tmp_path: Path, splits: fx.Splits, caplog: pytest.LogCaptureFixture
) -> None:
    shifted = splits["valid"][1]
    fx.write_pickle(tmp_path / "mosi_data_noalign.pkl", fx.mult_payload(splits))
    fx.write_label_csv(
        tmp_path / "MOSI-label.csv", splits, label_shift={shifted.id: 0.5, splits["train"][0].id: 0.5e-4}
    )
    with caplog.at_level(logging.WARNING, logger="hscl.data"):
        ds = load_dataset(tmp_path)
    assert_matches(ds, splits, "mult")
    warnings = [r.getMessage() for r in caplog.records if "CSV labels differ" in r.getMessage()]
    assert len(warnings) == 1 and "valid: 1 CSV labels differ" in warnings[0] and shifted.id in warnings[0]
    assert warnings[0] in ds.notes


def test_mult_csv_problems(tmp_path: Path, splits: fx.Splits) -> None:
    fx.write_pickle(tmp_path / "mosi_data_noalign.pkl", fx.mult_payload(splits))
    with pytest.raises(DataError, match="MOSI-label.csv"):
        load_dataset(tmp_path)
    csv_path = tmp_path / "MOSI-label.csv"
    csv_path.write_text("video_id,clip_id,label,mode\nv,1,0.5,train\n")
    with pytest.raises(DataError, match=r"missing columns \['text'\]") as caught:
        load_dataset(tmp_path)
    assert str(csv_path) in str(caught.value)
    csv_path.write_text("video_id,clip_id,text,label,mode\nv,1,hi,zero,train\n")
    with pytest.raises(DataError, match="line 2: label 'zero' is not a number"):
        load_dataset(tmp_path)
    csv_path.write_text("video_id,clip_id,text,label,mode\nv,1,hi,0,train\nv,1,again,0,test\n")
    with pytest.raises(DataError, match="id 'v_1' occurs in more than one row"):
        load_dataset(tmp_path)


def test_mult_folder_with_both_pickles(tmp_path: Path, splits: fx.Splits) -> None:
    fx.write_mult(tmp_path, splits)
    fx.write_mult(tmp_path, splits, variant="mosei")
    with pytest.raises(DataError, match="exactly one of"):
        load_dataset(tmp_path, format="mult")


def _drop(key: str) -> Callable[[dict], None]:
    return lambda payload: payload["train"].pop(key)


MULT_BAD: dict[str, tuple[Callable[[dict], Any], str]] = {
    "missing split": (lambda p: p.pop("valid"), "top level: missing key 'valid'"),
    "missing audio": (_drop("audio"), "train: missing key 'audio'"),
    "missing vision": (_drop("vision"), "train: missing key 'vision'"),
    "missing labels": (_drop("labels"), "train: missing key 'labels'"),
    "split not a dict": (lambda p: p.update(test=[1, 2]), "test: expected a dict, found list"),
    "vision 2-D": (
        lambda p: p["train"].update(vision=p["train"]["vision"][:, :, 0]),
        r"train.vision: expected 3 dimensions",
    ),
    "audio rows": (lambda p: p["valid"].update(audio=p["valid"]["audio"][:2]), r"valid.audio: has shape \(2, "),
    "label rows": (lambda p: p["test"].update(labels=p["test"]["labels"][:3]), r"test.labels: has shape \(3, 1, 1\)"),
    "two labels each": (
        lambda p: p["test"].update(labels=np.zeros((4, 2), np.float32)),
        "test.labels: expected one label per sample",
    ),
    "vision strings": (
        lambda p: p["train"].update(vision=p["train"]["vision"].astype(str)),
        "train.vision: expected numbers, found dtype <U",
    ),
    "audio object": (
        lambda p: p["train"].update(audio=p["train"]["audio"].astype(object)),
        "train.audio: expected numbers, found dtype object",
    ),
    "id rows": (lambda p: p["train"].update(id=p["train"]["id"][:2]), r"train.id: expected shape \(6,\) or \(6, k\)"),
    "id numbers": (
        lambda p: p["train"].update(id=np.zeros((6, 3))),
        "train: has no usable id array .* match_by_position=True",
    ),
    "id ragged": (
        lambda p: p["train"].update(id=[[b"a_1"], [b"b_1", b"x"]] + [[b"c_1"]] * 4),
        "train.id: not an array .*inhomogeneous",
    ),
    "id nested": (
        lambda p: p["train"].update(id=[[[[b"a_1"]]]] * 6),
        r"train.id: expected shape \(6,\) or \(6, k\), found \(6, 1, 1, 1\)",
    ),
    "id not UTF-8": (
        lambda p: p["train"]["id"].__setitem__((2, 0), b"\xff\xfe"),
        r"train.id\[2\]: bytes are not UTF-8 text",
    ),
    "label NaN": (
        lambda p: p["train"]["labels"].__setitem__((1, 0, 0), np.nan),
        "train: label nan of id 'tr_v-0_2' is not a number in",
    ),
    "label out of range": (
        lambda p: p["valid"]["labels"].__setitem__((0, 0, 0), 3.5),
        "valid: label 3.5 of id 'va_v-0_1'",
    ),
    "empty split": (lambda p: p.update(test={k: v[:0] for k, v in p["test"].items()}), "test: empty split"),
}


@pytest.mark.parametrize("case", sorted(MULT_BAD))
def test_mult_bad_pickles(tmp_path: Path, splits: fx.Splits, case: str) -> None:
    change, message = MULT_BAD[case]
    payload = fx.mult_payload(splits)
    change(payload)
    pickle_path = fx.write_pickle(tmp_path / "mosi_data_noalign.pkl", payload)
    fx.write_label_csv(tmp_path / "MOSI-label.csv", splits)
    with pytest.raises(DataError, match=message) as caught:
        load_dataset(tmp_path, format="mult")
    assert str(pickle_path) in str(caught.value)


def test_mult_duplicate_ids_across_splits(tmp_path: Path, splits: fx.Splits) -> None:
    payload = fx.mult_payload(splits)
    payload["test"]["id"][1, 0] = splits["train"][2].id.encode()
    pickle_path = fx.write_pickle(tmp_path / "mosi_data_noalign.pkl", payload)
    fx.write_label_csv(tmp_path / "MOSI-label.csv", splits)
    with pytest.raises(DataError, match=f"test: id '{splits['train'][2].id}' occurs also in train") as caught:
        load_dataset(tmp_path)
    assert str(pickle_path) in str(caught.value)


# --- MMIM


@pytest.mark.parametrize("target", ["folder", "dev.pkl"])
@pytest.mark.parametrize("fmt", ["mmim", None])
def test_mmim(tmp_path: Path, splits: fx.Splits, target: str, fmt: str | None) -> None:
    fx.write_mmim(tmp_path, splits)
    path = tmp_path if target == "folder" else tmp_path / target
    assert detect_format(path) == "mmim"
    assert_matches(load_dataset(path, format=fmt), splits, "mmim")


def _set_sample(split_file: str, index: int, sample: tuple) -> Callable[[dict[str, list]], None]:
    return lambda files: files[split_file].__setitem__(index, sample)


def _with_features(u: fx.Utterance, **changes: Any) -> tuple:
    (words, visual, acoustic, actual, vlen, alen), label, sample_id = fx.mmim_sample(u)
    fields = {
        "words": words,
        "visual": visual,
        "acoustic": acoustic,
        "actual": actual,
        "vlen": vlen,
        "alen": alen,
        "label": label,
        "id": sample_id,
    }
    fields.update(changes)
    features = tuple(fields[k] for k in ("words", "visual", "acoustic", "actual", "vlen", "alen"))
    return features, fields["label"], fields["id"]


def _mmim_bad_cases(splits: fx.Splits) -> dict[str, tuple[Callable[[dict[str, list]], None], str, str]]:
    """case -> (change to the file contents, file it breaks, expected message)."""
    u = splits["train"][2]
    return {
        "vlen mismatch": (
            _set_sample("train.pkl", 2, _with_features(u, vlen=len(u.visual) + 1)),
            "train.pkl",
            f"id '{u.id}'.*vlen is {len(u.visual) + 1} but the array has {len(u.visual)} frames",
        ),
        "alen not int": (
            _set_sample("train.pkl", 2, _with_features(u, alen=float(len(u.audio)))),
            "train.pkl",
            "alen must be an integer, found float",
        ),
        "visual 1-D": (
            _set_sample("train.pkl", 2, _with_features(u, visual=u.visual[:, 0])),
            "train.pkl",
            "visual: expected 2 dimensions",
        ),
        "acoustic text": (
            _set_sample("train.pkl", 2, _with_features(u, acoustic=np.array([["a"]]))),
            "train.pkl",
            "acoustic: expected numbers",
        ),
        "two labels": (
            _set_sample("train.pkl", 2, _with_features(u, label=np.zeros((1, 2)))),
            "train.pkl",
            "label: expected one number",
        ),
        "id number": (
            _set_sample("train.pkl", 2, _with_features(u, id=7)),
            "train.pkl",
            r"sample 2.id: expected text, found int",
        ),
        "words not a list": (
            _set_sample("train.pkl", 2, _with_features(u, actual=5)),
            "train.pkl",
            "actual_words: expected a list of words",
        ),
        "wrong arity": (_set_sample("dev.pkl", 0, (1, 2)), "dev.pkl", r"sample 0: expected \(\(words"),
        "five fields": (
            _set_sample("dev.pkl", 0, ((1, 2, 3, 4, 5), np.zeros((1, 1)), "x")),
            "dev.pkl",
            "expected 6 fields",
        ),
        "dims differ": (
            _set_sample(
                "test.pkl", 1, _with_features(splits["test"][1], visual=np.ones((2, fx.VISUAL_DIM + 1)), vlen=2)
            ),
            "test.pkl",
            f"id '{splits['test'][1].id}': visual has 5 features but earlier samples have 4",
        ),
        "not a list": (
            lambda files: files.update({"test.pkl": {"a": 1}}),
            "test.pkl",
            "expected a list of samples, found dict",
        ),
        "empty split": (lambda files: files.update({"test.pkl": []}), "", "test: empty split"),
        "duplicate id": (
            _set_sample("train.pkl", 1, _with_features(splits["train"][1], id=splits["train"][0].id)),
            "",
            f"train: id '{splits['train'][0].id}' occurs twice in this split",
        ),
        "label too big": (
            _set_sample("train.pkl", 1, _with_features(splits["train"][1], label=np.array([[-3.2]]))),
            "",
            "train: label -3.2",
        ),
    }


@pytest.mark.parametrize("case", sorted(_mmim_bad_cases(fx.make_utterances())))
def test_mmim_bad_pickles(tmp_path: Path, splits: fx.Splits, case: str) -> None:
    change, broken_file, message = _mmim_bad_cases(splits)[case]
    files = {
        "train.pkl": fx.mmim_payload(splits["train"]),
        "dev.pkl": fx.mmim_payload(splits["valid"]),
        "test.pkl": fx.mmim_payload(splits["test"]),
    }
    change(files)
    for name, content in files.items():
        fx.write_pickle(tmp_path / name, content)
    with pytest.raises(DataError, match=message) as caught:
        load_dataset(tmp_path, format="mmim")
    assert str(tmp_path / broken_file) in str(caught.value)


def test_mmim_missing_file(tmp_path: Path, splits: fx.Splits) -> None:
    fx.write_mmim(tmp_path, splits)
    (tmp_path / "dev.pkl").unlink()
    with pytest.raises(DataError, match=r"missing \['dev.pkl'\]"):
        load_dataset(tmp_path, format="mmim")
    with pytest.raises(DataError, match=r"no known layout \(looks like mmim but dev.pkl missing\)"):
        load_dataset(tmp_path)
    (tmp_path / "dev.pkl").mkdir()
    with pytest.raises(DataError, match=r"looks like mmim but dev.pkl is a folder, not a file\)"):
        load_dataset(tmp_path)


# --- MMSA


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("target", ["folder", "file"])
@pytest.mark.parametrize("fmt", ["mmsa", None])
def test_mmsa(tmp_path: Path, splits: fx.Splits, aligned: bool, target: str, fmt: str | None) -> None:
    pickle_path = fx.write_mmsa(tmp_path, splits, aligned=aligned)
    path = tmp_path if target == "folder" else pickle_path
    assert detect_format(path) == "mmsa"
    ds = load_dataset(path, format=fmt)
    assert_matches(ds, splits, "mmsa")
    assert ds["train"].audio.max_len == (fx.MMSA_ALIGNED_LEN if aligned else fx.MAX_AUDIO + 1)


def test_mmsa_folder_with_both_files(tmp_path: Path, splits: fx.Splits) -> None:
    fx.write_mmsa(tmp_path, splits, aligned=True)
    fx.write_mmsa(tmp_path, splits, aligned=False)
    with pytest.raises(DataError, match="exactly one of"):
        load_dataset(tmp_path)


def test_mmsa_lengths_past_padding_are_clipped_with_a_note(
    tmp_path: Path, splits: fx.Splits, caplog: pytest.LogCaptureFixture
) -> None:
    payload = fx.mmsa_payload(splits, aligned=False)
    payload["valid"]["audio_lengths"][1] = 100
    fx.write_pickle(tmp_path / "unaligned_50.pkl", payload)
    with caplog.at_level(logging.WARNING, logger="hscl.data"):
        ds = load_dataset(tmp_path)
    message = f"valid: 1 audio_lengths exceed the padded length {fx.MAX_AUDIO + 1}; clipped to it"
    assert message in ds.notes and message in caplog.text
    assert ds["valid"].audio.lengths[1] == fx.MAX_AUDIO + 1


MMSA_BAD: dict[str, tuple[Callable[[dict], Any], str]] = {
    "missing raw_text": (lambda p: p["train"].pop("raw_text"), "train: missing key 'raw_text'"),
    "missing id": (lambda p: p["valid"].pop("id"), "valid: missing key 'id'"),
    "missing labels": (lambda p: p["test"].pop("regression_labels"), "test: missing key 'regression_labels'"),
    "missing split": (lambda p: p.pop("test"), "top level: missing key 'test'"),
    "raw_text rows": (
        lambda p: p["train"].update(raw_text=p["train"]["raw_text"][:5]),
        r"train.raw_text: expected shape \(6,\)",
    ),
    "audio rows": (lambda p: p["train"].update(audio=p["train"]["audio"][:5]), r"train.audio: has shape \(5, "),
    "vision 4-D": (
        lambda p: p["train"].update(vision=p["train"]["vision"][..., None]),
        "train.vision: expected 3 dimensions",
    ),
    "label rows": (
        lambda p: p["train"].update(regression_labels=p["train"]["regression_labels"][:4]),
        r"train.regression_labels: has shape \(4,\)",
    ),
    "id 2-D": (lambda p: p["train"].update(id=p["train"]["id"].reshape(3, 2)), r"train.id: expected shape \(N,\)"),
    "text not str": (
        lambda p: p["train"]["raw_text"].__setitem__(0, 3.0),
        r"train.raw_text\[0\]: expected text, found float",
    ),
    "lengths rows": (
        lambda p: p["train"].update(vision_lengths=p["train"]["vision_lengths"][:2]),
        r"train.vision_lengths: has shape \(2,\)",
    ),
    "negative length": (
        lambda p: p["train"]["audio_lengths"].__setitem__(3, -1),
        "train.audio_lengths: lengths must be whole numbers >= 0",
    ),
    "fractional length": (
        lambda p: p["train"].update(vision_lengths=p["train"]["vision_lengths"] + 0.5),
        "train.vision_lengths: lengths must be whole numbers",
    ),
    "length too short": (
        lambda p: p["test"]["vision_lengths"].__setitem__(2, 0),
        "test: visual of id 'te_v-1_1' has non-zero frames past its length 0",
    ),
    "duplicate across splits": (
        lambda p: p["valid"]["id"].__setitem__(2, "tr_v-2$_$1"),
        "valid: id 'tr_v-2_1' occurs also in train",
    ),
    "label NaN": (lambda p: p["test"]["regression_labels"].__setitem__(3, np.nan), "test: label nan of id 'te_v-1_2'"),
    "empty split": (lambda p: p.update(valid={k: v[:0] for k, v in p["valid"].items()}), "valid: empty split"),
    "id ragged": (
        lambda p: p["train"].update(id=[["a$_$1"], ["b$_$1", "x"]] + [["c$_$1"]] * 4),
        "train.id: not an array .*inhomogeneous",
    ),
}


@pytest.mark.parametrize("case", sorted(MMSA_BAD))
def test_mmsa_bad_pickles(tmp_path: Path, splits: fx.Splits, case: str) -> None:
    change, message = MMSA_BAD[case]
    payload = fx.mmsa_payload(splits, aligned=False)
    change(payload)
    path = fx.write_pickle(tmp_path / "unaligned_50.pkl", payload)
    with pytest.raises(DataError, match=message) as caught:
        load_dataset(path)
    assert str(path) in str(caught.value)


# --- shared


@pytest.mark.parametrize("name", ["unaligned_50.pkl", "mosi_data_noalign.pkl", "dev.pkl"])
def test_hostile_dataset_file_runs_nothing(tmp_path: Path, splits: fx.Splits, name: str) -> None:
    marker = tmp_path / "pwned"
    if name == "dev.pkl":
        fx.write_mmim(tmp_path, splits)
    if name == "mosi_data_noalign.pkl":
        fx.write_label_csv(tmp_path / "MOSI-label.csv", splits)
    path = fx.write_pickle(tmp_path / name, {"train": fx.Reduce(os.system, f"touch {marker}")})
    with pytest.raises(DataError, match=f"forbidden global {os.system.__module__}.system") as caught:
        load_dataset(tmp_path)
    assert str(path) in str(caught.value)
    assert not marker.exists()


def test_missing_path(tmp_path: Path) -> None:
    for fmt in ("mult", "mmim", "mmsa", None):
        with pytest.raises(DataError, match="no such file or directory"):
            load_dataset(tmp_path / "absent", format=fmt)


def _reference_left_to_right(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out, lengths = np.zeros_like(features), []
    for i, sample in enumerate(features):
        real = [t for t in range(len(sample)) if any(v != 0 for v in sample[t])]
        start = real[0] if real else len(sample)
        lengths.append(len(sample) - start)
        out[i, : len(sample) - start] = sample[start:]
    return out, np.array(lengths)


def _reference_trailing(features: np.ndarray) -> np.ndarray:
    lengths = []
    for sample in features:
        real = [t for t in range(len(sample)) if any(v != 0 for v in sample[t])]
        lengths.append(real[-1] + 1 if real else 0)
    return np.array(lengths)


def _random_padded(seed: int) -> np.ndarray:
    """Random (N, L, d) features with whole zero frames, partly-zero frames, NaN/inf frames, empty and full rows."""
    rng = np.random.default_rng(seed)
    n, length, dim = 11, 6, 3
    features = rng.choice(np.array([0.0, 0.0, 1.5, -2.0, np.nan, -np.inf], dtype=np.float32), size=(n, length, dim))
    zero_frames = rng.random((n, length)) < 0.5
    features[zero_frames] = 0.0
    features[0] = 0.0
    features[1] = 1.0
    return features


@pytest.mark.parametrize("seed", range(5))
def test_padding_helpers_match_plain_reference(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    monkeypatch.setattr(types, "ROW_CHUNK", 4)  # cross chunk boundaries
    features = _random_padded(seed)
    expected, lengths = _reference_left_to_right(features)
    converted = _common.left_to_right_padded(features.copy())
    np.testing.assert_array_equal(converted.lengths, lengths)
    np.testing.assert_array_equal(converted.features, expected)
    np.testing.assert_array_equal(_common.lengths_from_trailing_zeros(features), _reference_trailing(features))
    assert converted.lengths[0] == 0 and converted.lengths[1] == features.shape[1]


def test_left_to_right_converts_other_dtypes_and_read_only_input() -> None:
    features = np.array([[[0.0], [0.0], [2.0]], [[1.0], [0.0], [3.0]]])
    features.flags.writeable = False
    converted = _common.left_to_right_padded(features)
    assert converted.features.dtype == np.float32
    np.testing.assert_array_equal(converted.features[..., 0], [[2.0, 0.0, 0.0], [1.0, 0.0, 3.0]])
    np.testing.assert_array_equal(converted.lengths, [1, 3])
