"""The synthetic generator: determinism, shapes, the label grid, varied lengths, and learnable structure."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import Ridge
from threadpoolctl import threadpool_limits

from hscl.config import SyntheticConfig
from hscl.data.loading import load_dataset
from hscl.data.readers import synthetic
from hscl.data.readers.synthetic import round_to_grid
from hscl.data.types import MSADataset, Sequences, SplitData
from hscl.errors import ConfigError

SMALL = {"n_train": 60, "n_valid": 20, "n_test": 30}


@pytest.fixture(scope="module")
def default() -> MSADataset:
    return synthetic.read()


def assert_same_split(a: SplitData, b: SplitData) -> None:
    assert a.ids == b.ids and a.texts == b.texts
    np.testing.assert_array_equal(a.labels, b.labels)
    for name in ("audio", "visual"):
        np.testing.assert_array_equal(a.modality(name).features, b.modality(name).features)
        np.testing.assert_array_equal(a.modality(name).lengths, b.modality(name).lengths)


def test_deterministic_per_seed() -> None:
    first, second = synthetic.read(seed=7, **SMALL), synthetic.read(seed=7, **SMALL)
    for split in first.splits:
        assert_same_split(first[split], second[split])
    other = synthetic.read(seed=8, **SMALL)
    assert other["train"].texts != first["train"].texts
    assert not np.array_equal(other["train"].audio.features, first["train"].audio.features)


def test_each_split_has_its_own_stream() -> None:
    """Changing the size of train does not change valid or test."""
    base = synthetic.read(seed=3, **SMALL)
    bigger = synthetic.read(seed=3, **{**SMALL, "n_train": 90})
    assert_same_split(base["test"], bigger["test"])
    assert_same_split(base["valid"], bigger["valid"])


def test_default_sizes_shapes_and_ids(default: MSADataset) -> None:
    assert {split: len(data) for split, data in default.splits.items()} == {"train": 1284, "valid": 229, "test": 686}
    assert default.format == "synthetic" and default.modalities == ("audio", "visual")
    assert any("synthetic data (seed=0" in note for note in default.notes)
    for split, data in default.splits.items():
        assert data.ids == [f"synth_{split}_{i}" for i in range(len(data))]
        assert data.audio.features.shape == (len(data), 50, 5) and data.visual.features.shape == (len(data), 50, 20)
        for seq in (data.audio, data.visual):
            assert seq.features.dtype == np.float32 and seq.lengths.dtype == np.int64


def test_custom_shapes() -> None:
    ds = synthetic.read(seed=1, audio_dim=1, visual_dim=3, max_audio_len=4, max_visual_len=9, **SMALL)
    assert ds["valid"].audio.features.shape == (20, 4, 1) and ds["test"].visual.features.shape == (30, 9, 3)
    assert len(ds["train"]) == 60


def test_labels_on_the_mosi_grid(default: MSADataset) -> None:
    labels = np.concatenate([data.labels for data in default.splits.values()])
    assert labels.dtype == np.float32
    assert labels.min() >= -3.0 and labels.max() <= 3.0
    steps = labels.astype(np.float64) / 0.2
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-4)
    assert {-3.0, 0.0, 3.0} <= set(labels.tolist())
    assert len(np.unique(labels)) == 31  # every grid point occurs
    assert 1.0 < labels.std() < 2.0 and abs(labels.mean()) < 0.2


def test_round_to_grid_matches_plain_reference() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.uniform(-5, 5, 500), [-3.1, 3.1, -3.0, 3.0, 0.1, -0.1, 0.3, 2.9, 2.95, -2.95, 0.0]])
    expected = [np.float32(round(min(max(v, -3.0), 3.0) / 0.2) * 0.2) for v in values.tolist()]
    np.testing.assert_array_equal(round_to_grid(values), np.array(expected, dtype=np.float32))


def test_lengths_vary_and_padding_is_zero(default: MSADataset) -> None:
    for data in default.splits.values():
        for seq in (data.audio, data.visual):
            assert seq.lengths.min() >= 1 and seq.lengths.max() <= seq.max_len
            assert len(np.unique(seq.lengths)) > 20
            past_end = np.arange(seq.max_len)[None, :] >= seq.lengths[:, None]
            assert not np.any(seq.features[past_end])
            assert np.all(np.any(seq.features[~past_end] != 0, axis=1))  # real frames are never all zero
    all_audio = np.concatenate([data.audio.lengths for data in default.splits.values()])
    assert all_audio.min() == 1 and all_audio.max() == 50


def test_text_uses_the_lexicon(default: MSADataset) -> None:
    texts = default["train"].texts
    words = set(" ".join(texts).split())
    assert {"not", "very", "movie", "great", "terrible"} <= words
    assert all(text and text == text.strip() and text == text.lower() and "  " not in text for text in texts)
    assert all(re.fullmatch(r"[a-z ]+", text) for text in texts)
    assert len(set(texts)) > 0.8 * len(texts)


def test_positive_words_follow_positive_labels_without_misleading() -> None:
    ds = synthetic.read(seed=2, misleading_fraction=0.0, text_noise=0.0, n_train=400, n_valid=2, n_test=2)
    positive = set(synthetic.POSITIVE_ADJECTIVES)
    negative = set(synthetic.NEGATIVE_ADJECTIVES)
    for text, label in zip(ds["train"].texts, ds["train"].labels):
        words = set(text.split())
        if label >= 2.0 and "not" not in words and "never" not in words:
            assert not words & negative, (text, label)
        if label <= -2.0 and "not" not in words and "never" not in words:
            assert not words & positive, (text, label)


def test_generates_defaults_quickly() -> None:
    start = time.process_time()  # this process's CPU time: other jobs on a loaded machine do not count
    synthetic.read(seed=5)
    assert time.process_time() - start < 3.0  # about 0.3 s


def test_validates_through_load_dataset() -> None:
    ds = load_dataset(format="synthetic", seed=4, **SMALL)
    assert len(ds["test"]) == 30


@pytest.mark.parametrize(
    "options",
    [
        {"n_train": 0},
        {"audio_dim": 0},
        {"max_visual_len": 0},
        {"misleading_fraction": 1.5},
        {"noise": -1.0},
        {"colour": "red"},
    ],
)
def test_bad_options(options: dict) -> None:
    with pytest.raises(ConfigError):
        synthetic.read(**options)


def test_config_dataclass_and_generate_agree() -> None:
    config = SyntheticConfig(seed=9, **SMALL)
    assert_same_split(synthetic.generate(config)["train"], synthetic.read(seed=9, **SMALL)["train"])


# --- learnability: ridge regression on bag-of-words and mean-pooled features ---


def mean_pooled(seq: Sequences) -> np.ndarray:
    return seq.features.sum(axis=1) / np.maximum(seq.lengths, 1)[:, None]


def ridge_corr(ds: MSADataset, modalities: str, test: SplitData | None = None) -> float:
    """Test correlation of a ridge model fit on train with text (t), audio (a), visual (v) features."""
    vectorizer = CountVectorizer(ngram_range=(1, 2), binary=True).fit(ds["train"].texts)

    def features(data: SplitData) -> np.ndarray:
        parts = []
        if "t" in modalities:
            parts.append(vectorizer.transform(data.texts).toarray())
        if "a" in modalities:
            parts.append(mean_pooled(data.audio))
        if "v" in modalities:
            parts.append(mean_pooled(data.visual))
        return np.hstack(parts)

    test = ds["test"] if test is None else test
    with threadpool_limits(1):  # one BLAS thread: far faster than several on a busy machine
        model = Ridge(alpha=3.0).fit(features(ds["train"]), ds["train"].labels)
        return float(np.corrcoef(model.predict(features(test)), test.labels)[0, 1])


@pytest.mark.parametrize("seed", [0, 1])
def test_multimodal_features_add_signal(seed: int) -> None:
    ds = synthetic.read(seed=seed)
    corr = {mods: ridge_corr(ds, mods) for mods in ("t", "a", "v", "ta", "tv", "tav")}
    assert corr["t"] > 0.3 and corr["a"] > 0.25 and corr["v"] > 0.25  # each modality alone is informative
    assert corr["tav"] > corr["t"] + 0.1  # audio and visual add signal the words lack
    assert corr["tav"] > corr["ta"] + 0.02 and corr["tav"] > corr["tv"] + 0.02  # and differ from each other


def test_misleading_text_alone_cannot_solve_it() -> None:
    """A model fit on the usual mix fails on misleading text, while audio and visual still carry the label."""
    ds = synthetic.read(seed=0)
    misleading_test = synthetic.read(seed=0, misleading_fraction=1.0)["test"]
    assert ridge_corr(ds, "t", misleading_test) < 0.0
    assert ridge_corr(ds, "av", misleading_test) > 0.4
    clean = synthetic.read(seed=0, misleading_fraction=0.0)
    assert ridge_corr(clean, "t") > 0.6
