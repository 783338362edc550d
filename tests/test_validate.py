"""`validate_dataset`: every invariant of `MSADataset`, checked against plain references."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from hscl.data import types
from hscl.data.types import SPLITS, MSADataset, Sequences, SplitData
from hscl.data.validate import FEATURE_MAGNITUDE_LIMIT, validate_dataset
from hscl.errors import DataError

SOURCE = "/data/example.pkl"
DIMS = {"audio": 3, "visual": 2}
MAX_LEN = {"audio": 5, "visual": 4}


def random_sequences(rng: np.random.Generator, n: int, max_len: int, dim: int) -> Sequences:
    """Right-padded random frames; the first sample is empty and the last full."""
    lengths = rng.integers(0, max_len + 1, n).astype(np.int64)
    lengths[0], lengths[-1] = 0, max_len
    features = rng.standard_normal((n, max_len, dim)).astype(np.float32)
    features[np.arange(max_len)[None, :] >= lengths[:, None]] = 0.0
    return Sequences(features, lengths)


def make_dataset(
    seed: int = 0, sizes: tuple[int, ...] = (5, 3, 4), modalities: tuple[str, ...] = ("audio", "visual")
) -> MSADataset:
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n in zip(SPLITS, sizes):
        splits[split] = SplitData(
            ids=[f"{split}_{i}" for i in range(n)],
            texts=[f"text {i}" for i in range(n)],
            labels=rng.uniform(-3, 3, n).astype(np.float32),
            **{m: random_sequences(rng, n, MAX_LEN[m], DIMS[m]) for m in modalities},
        )
    return MSADataset(splits=splits, source=SOURCE, format="test")


def assert_same_data(a: MSADataset, b: MSADataset) -> None:
    for split in SPLITS:
        x, y = a[split], b[split]
        assert x.ids == y.ids and x.texts == y.texts
        np.testing.assert_array_equal(x.labels, y.labels)
        for name in ("audio", "visual"):
            if x.modality(name) is None:
                assert y.modality(name) is None
                continue
            np.testing.assert_array_equal(x.modality(name).features, y.modality(name).features)
            np.testing.assert_array_equal(x.modality(name).lengths, y.modality(name).lengths)


@pytest.mark.parametrize("modalities", [("audio", "visual"), ("audio",), ()])
def test_valid_dataset_passes_unchanged(modalities: tuple[str, ...]) -> None:
    ds = make_dataset(modalities=modalities)
    before = copy.deepcopy(ds)
    assert validate_dataset(ds) is ds
    assert_same_data(ds, before)
    assert ds.notes == []


def _raises(ds: MSADataset, message: str) -> None:
    with pytest.raises(DataError, match=message) as caught:
        validate_dataset(ds)
    assert str(caught.value).startswith(f"{SOURCE}: ")


def _set(split: str, **fields: Any) -> Callable[[MSADataset], None]:
    return lambda ds: [setattr(ds[split], k, v) for k, v in fields.items()]


def _set_seq(split: str, modality: str, **fields: Any) -> Callable[[MSADataset], None]:
    return lambda ds: [setattr(ds[split].modality(modality), k, v) for k, v in fields.items()]


BAD: dict[str, tuple[Callable[[MSADataset], Any], str]] = {
    "missing split": (
        lambda ds: ds.splits.pop("test"),
        r"expected splits \['train', 'valid', 'test'\], found \['train', 'valid'\]",
    ),
    "extra split": (lambda ds: ds.splits.update(dev=ds["valid"]), "expected splits"),
    "empty split": (
        lambda ds: ds.splits.update(valid=ds["valid"].select(np.array([], dtype=np.int64))),
        "valid: empty split",
    ),
    "one valid sample": (
        lambda ds: ds.splits.update(valid=ds["valid"].select(np.array([1]))),
        "valid: 1 sample; valid needs at least 2",
    ),
    "one test sample": (
        lambda ds: ds.splits.update(test=ds["test"].select(np.array([3]))),
        "test: 1 sample; test needs at least 2",
    ),
    "feature 1e30": (
        lambda ds: ds["train"].audio.features.__setitem__((4, 1, 2), -1e30),
        "train: audio of id 'train_4' has a value of magnitude 1e\\+30; features must lie within",
    ),
    "all NaN": (
        lambda ds: ds["valid"].visual.features.__setitem__(..., np.nan),
        r"valid: visual: \d+ of \d+ feature values \(100%\) are NaN or infinite",
    ),
    "not SplitData": (lambda ds: ds.splits.update(test={"ids": []}), "test: expected SplitData, found dict"),
    "fewer texts": (lambda ds: ds["train"].texts.pop(), "train: 5 ids but 4 texts"),
    "id not str": (lambda ds: ds["valid"].ids.__setitem__(1, 7), "valid: id of row 1 .* is int, not str"),
    "text not str": (
        lambda ds: ds["test"].texts.__setitem__(2, None),
        "test: text of row 2 \\(id 'test_2'\\) is NoneType, not str",
    ),
    "labels float64": (
        _set("train", labels=np.zeros(5)),
        r"train: labels must be a float32 array of shape \(5,\), found float64",
    ),
    "labels shape": (
        _set("train", labels=np.zeros((5, 1), np.float32)),
        r"train: labels must be .* found float32 \(5, 1\)",
    ),
    "labels list": (_set("train", labels=[0.0] * 5), "train: labels must be .* found list"),
    "features float64": (
        lambda ds: setattr(ds["train"].audio, "features", ds["train"].audio.features.astype(np.float64)),
        "train: audio features must be a 3-D float32 array, found float64",
    ),
    "features 2-D": (
        lambda ds: setattr(ds["valid"].visual, "features", ds["valid"].visual.features[:, :, 0]),
        "valid: visual features must be a 3-D float32 array",
    ),
    "features rows": (
        lambda ds: setattr(ds["valid"].audio, "features", ds["valid"].audio.features[:2]),
        "valid: audio has 2 samples but the split has 3 ids",
    ),
    "lengths int32": (
        lambda ds: setattr(ds["test"].audio, "lengths", ds["test"].audio.lengths.astype(np.int32)),
        "test: audio lengths must be an int64 array",
    ),
    "lengths shape": (
        _set_seq("test", "visual", lengths=np.zeros(3, np.int64)),
        r"test: visual lengths must be an int64 array of shape \(4,\)",
    ),
    "length negative": (
        lambda ds: ds["train"].audio.lengths.__setitem__(2, -1),
        r"train: audio length -1 of id 'train_2' is outside \[0, 5\]",
    ),
    "length too long": (
        lambda ds: ds["train"].visual.lengths.__setitem__(3, 5),
        r"train: visual length 5 of id 'train_3' is outside \[0, 4\]",
    ),
    "modality missing": (
        _set("valid", visual=None),
        "valid: modalities and feature sizes {'audio': 3} differ from train's {'audio': 3, 'visual': 2}",
    ),
    "dim differs": (
        _set_seq("test", "audio", features=np.zeros((4, 5, 4), np.float32)),
        "test: modalities and feature sizes {'audio': 4, 'visual': 2} differ",
    ),
    "first padding frame": (
        lambda ds: ds["valid"].audio.features.__setitem__((0, 0, 1), 1e-30),
        "valid: audio of id 'valid_0' has non-zero frames past its length 0",
    ),
    "last padding frame": (
        lambda ds: ds["test"].visual.features.__setitem__((0, -1, 0), -2.0),
        "test: visual of id 'test_0' has non-zero frames past its length 0",
    ),
    "label NaN": (
        lambda ds: ds["valid"].labels.__setitem__(2, np.nan),
        r"valid: label nan of id 'valid_2' is not a number in \[-3, 3\]",
    ),
    "label inf": (lambda ds: ds["test"].labels.__setitem__(0, -np.inf), "test: label -inf of id 'test_0'"),
    "label too big": (lambda ds: ds["train"].labels.__setitem__(4, 3.0002), "train: label 3.0002 of id 'train_4'"),
    "label too small": (lambda ds: ds["train"].labels.__setitem__(0, -3.5), "train: label -3.5 of id 'train_0'"),
    "duplicate id in split": (
        lambda ds: ds["test"].ids.__setitem__(3, "test_1"),
        "test: id 'test_1' occurs twice in this split",
    ),
    "duplicate id across splits": (
        lambda ds: ds["test"].ids.__setitem__(3, "valid_0"),
        "test: id 'valid_0' occurs also in valid",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_datasets(case: str) -> None:
    change, message = BAD[case]
    ds = make_dataset()
    change(ds)
    _raises(ds, message)


def test_same_missing_modality_in_every_split_is_fine() -> None:
    ds = make_dataset()
    for split in SPLITS:
        ds[split].visual = None
    validate_dataset(ds)
    assert ds.modalities == ("audio",)


def test_empty_source_still_names_something() -> None:
    ds = make_dataset()
    ds.source = ""
    ds["train"].labels[0] = np.nan
    with pytest.raises(DataError, match="^<dataset>: train: label nan"):
        validate_dataset(ds)


def test_labels_within_tolerance_are_clipped() -> None:
    ds = make_dataset()
    ds["train"].labels[:4] = [3.0, 3.00009, -3.00009, -3.0]
    validate_dataset(ds)
    np.testing.assert_array_equal(ds["train"].labels[:4], np.array([3.0, 3.0, -3.0, -3.0], dtype=np.float32))
    assert ds["train"].labels.dtype == np.float32


def _plain_non_finite_count(features: np.ndarray) -> int:
    return sum(1 for value in features.ravel() if not np.isfinite(value))


@pytest.mark.parametrize("seed", range(6))
def test_non_finite_features_are_zeroed_counted_and_noted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, seed: int
) -> None:
    monkeypatch.setattr(types, "ROW_CHUNK", 2)  # cross chunk boundaries
    rng = np.random.default_rng(seed)
    ds = make_dataset(seed)
    audio = ds["train"].audio
    real = np.argwhere(np.arange(audio.max_len)[None, :] < audio.lengths[:, None])
    chosen = real[rng.choice(len(real), size=min(len(real), int(rng.integers(1, 6))), replace=False)]
    for (i, t), value in zip(chosen, rng.choice([np.nan, np.inf, -np.inf], size=len(chosen))):
        audio.features[i, t, rng.integers(0, audio.dim)] = value
    if seed % 2:
        audio.features[0, -1, 0] = np.nan  # non-finite padding counts too, and is zero afterwards
    expected = np.where(np.isfinite(audio.features), audio.features, 0.0)
    count = _plain_non_finite_count(audio.features)
    features_before = audio.features
    with caplog.at_level(logging.WARNING, logger="hscl.data"):
        validate_dataset(ds)
    message = f"audio: replaced {count} non-finite values with 0 in train"
    assert ds.notes == [message]
    assert message in caplog.text
    assert ds["train"].audio.features is features_before  # in place
    np.testing.assert_array_equal(ds["train"].audio.features, expected)


def test_non_finite_in_read_only_features_are_replaced_in_a_copy() -> None:
    ds = make_dataset()
    visual = ds["test"].visual
    visual.features[-1, 0, 0] = np.inf
    visual.features.flags.writeable = False
    original = visual.features
    validate_dataset(ds)
    assert ds.notes == ["visual: replaced 1 non-finite values with 0 in test"]
    assert ds["test"].visual.features[-1, 0, 0] == 0.0
    assert np.isinf(original[-1, 0, 0])


@pytest.mark.parametrize("seed", range(8))
def test_padding_check_matches_plain_reference(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    monkeypatch.setattr(types, "ROW_CHUNK", 2)
    rng = np.random.default_rng(seed)
    ds = make_dataset(seed, sizes=(7, 3, 3))
    visual = ds["train"].visual
    padded = np.flatnonzero(visual.lengths < visual.max_len)  # never empty: sample 0 has length 0
    for _ in range(seed % 3):  # 0, 1 or 2 stray values
        i = int(rng.choice(padded))
        t = int(rng.integers(visual.lengths[i], visual.max_len))
        visual.features[i, t, int(rng.integers(0, visual.dim))] = rng.choice([0.5, -1e-30])
    offending = [
        i for i in range(len(visual.lengths)) if any(v != 0 for v in visual.features[i, visual.lengths[i] :].ravel())
    ]
    if not offending:
        validate_dataset(ds)
        return
    first = offending[0]
    _raises(ds, f"train: visual of id 'train_{first}' has non-zero frames past its length {visual.lengths[first]}")


def test_a_train_split_of_one_sample_is_fine() -> None:
    ds = make_dataset()
    ds.splits["train"] = ds["train"].select(np.array([4]))
    validate_dataset(ds)


def test_feature_magnitude_bound_is_inclusive_and_ignores_non_finite() -> None:
    ds = make_dataset()
    ds["train"].audio.features[4, 0, 0] = -FEATURE_MAGNITUDE_LIMIT
    ds["test"].visual.features[3, 0, 1] = np.inf  # non-finite: zeroed and noted, not a magnitude error
    validate_dataset(ds)
    assert ds.notes == ["visual: replaced 1 non-finite values with 0 in test"]
    ds["valid"].audio.features[2, 0, 0] = np.nextafter(np.float32(FEATURE_MAGNITUDE_LIMIT), np.float32(np.inf))
    _raises(ds, "valid: audio of id 'valid_2' has a value of magnitude 1e\\+06")


@pytest.mark.parametrize("seed", range(4))
def test_mostly_non_finite_real_frames_are_refused(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Up to half of the real (within-length) values may be non-finite; one more is refused. Non-finite
    padding does not count toward the share (it is zeroed like any other)."""
    monkeypatch.setattr(types, "ROW_CHUNK", 2)
    rng = np.random.default_rng(seed)
    for extra in (0, 1):
        ds = make_dataset(seed)
        audio = ds["train"].audio
        real = np.argwhere(
            np.arange(audio.max_len)[None, :, None]
            < audio.lengths[:, None, None] + np.zeros((1, 1, audio.dim), dtype=np.int64)
        )
        n_bad = len(real) // 2 + extra
        for i, t, c in real[rng.choice(len(real), size=n_bad, replace=False)]:
            audio.features[i, t, c] = rng.choice([np.nan, np.inf, -np.inf])
        audio.features[0, :, :] = np.nan  # sample 0 has length 0: all padding
        real_bad = sum(1 for i, t, c in real if not np.isfinite(audio.features[i, t, c]))
        assert real_bad == n_bad
        if real_bad * 2 <= len(real):
            validate_dataset(ds)
            assert np.isfinite(ds["train"].audio.features).all()
        else:
            _raises(ds, f"train: audio: {real_bad} of {len(real)} feature values .* are NaN or infinite")
