"""`hscl data audit`: the probe and statistics against plain references, flags on built datasets, real MOSI."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import GroupKFold

from hscl.cli import main
from hscl.data.audit import (
    ALPHAS,
    CLIP_Z,
    CV_FOLDS,
    EXTREME_Z,
    TEXT_SOURCE,
    audit_dataset,
    feature_stats,
    gap_z,
    pool,
    ridge_predictions,
    ridge_probe,
    sign_auc,
)
from hscl.data.convert import write_converted
from hscl.data.loading import load_dataset
from hscl.data.types import Sequences
from hscl.metrics import regression_metrics

MOSI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mosi"
SIZES = {"train": 300, "valid": 100, "test": 150}
WORDS = ["good", "bad", "film", "plot", "actor", "boring", "great", "awful", "fun", "slow", "story", "music"]


def _reference_ridge(x_fit, y_fit, x_new, alpha):
    """scikit-learn's ridge on features standardised with the fit rows' statistics and clipped."""
    mean, std = x_fit.mean(axis=0), x_fit.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    model = Ridge(alpha=alpha).fit(np.clip((x_fit - mean) / std, -CLIP_Z, CLIP_Z), y_fit)
    return model.predict(np.clip((x_new - mean) / std, -CLIP_Z, CLIP_Z))


def test_ridge_probe_equals_scikit_learn_ridge():
    rng = np.random.default_rng(0)
    x = {s: rng.normal(size=(n, 6)) for s, n in SIZES.items()}
    y = {s: np.clip(x[s][:, 0] + rng.normal(size=len(x[s])), -3, 3) for s in SIZES}
    for s in SIZES:
        x[s][:, 5] = 2.0  # constant on train: dropped
    x["train"][3, 1] = 40.0  # clipped
    x["test"][0, 2] = -90.0
    groups = np.repeat(np.arange(30), 10)
    probe = ridge_probe(x, y, groups)

    keep = slice(0, 5)

    def valid_mae(alpha):
        predictions = _reference_ridge(x["train"][:, keep], y["train"], x["valid"][:, keep], alpha)
        return np.mean(np.abs(predictions - y["valid"]))

    alpha = min(ALPHAS, key=valid_mae)
    assert probe.alpha == alpha and probe.columns_used == 5
    out_of_fold, fold_aucs = np.empty(SIZES["train"]), []
    for fit, held in GroupKFold(CV_FOLDS).split(x["train"], groups=groups):
        fold_fit, fold_held = x["train"][fit][:, keep], x["train"][held][:, keep]
        out_of_fold[held] = _reference_ridge(fold_fit, y["train"][fit], fold_held, alpha)
        fold_aucs.append(sign_auc(out_of_fold[held], y["train"][held]))
    values, errors = np.array(fold_aucs).T
    assert probe.sign_auc["train_cv"] == pytest.approx((values.mean(), np.sqrt(np.sum(errors**2)) / CV_FOLDS))
    predictions = {
        "train_cv": out_of_fold,
        "valid": _reference_ridge(x["train"][:, keep], y["train"], x["valid"][:, keep], alpha),
        "test": _reference_ridge(x["train"][:, keep], y["train"], x["test"][:, keep], alpha),
    }
    for score, split in (("train_cv", "train"), ("valid", "valid"), ("test", "test")):
        expected = regression_metrics(predictions[score], y[split])
        assert probe.metrics[score] == pytest.approx(expected, abs=1e-9), score
        if score != "train_cv":  # the folds' mean, checked above
            assert probe.sign_auc[score] == pytest.approx(sign_auc(predictions[score], y[split]))
        assert probe.rows[score] == SIZES[split]


def test_ridge_predictions_with_more_columns_than_rows_equal_scikit_learn():
    rng = np.random.default_rng(6)
    x_fit, x_new, y_fit = rng.normal(size=(20, 35)), rng.normal(size=(7, 35)), rng.normal(size=20)
    predictions = ridge_predictions(x_fit, y_fit, {"new": x_new}, (0.1, 10.0))["new"]
    for row, alpha in zip(predictions, (0.1, 10.0), strict=True):
        np.testing.assert_allclose(row, _reference_ridge(x_fit, y_fit, x_new, alpha), rtol=1e-8, atol=1e-10)


def test_sign_auc_and_gap_z_against_plain_formulas():
    rng = np.random.default_rng(1)
    labels = rng.choice([-2.0, -0.4, 0.0, 0.6, 1.8], size=200)
    preds = np.round(labels + rng.normal(size=200), 1)  # with ties
    value, se = sign_auc(preds, labels)
    positive, negative = preds[labels > 0], preds[labels < 0]
    pairs = [(p > q) + 0.5 * (p == q) for p in positive for q in negative]
    assert value == pytest.approx(np.mean(pairs))
    n1, n2 = len(positive), len(negative)
    q1, q2 = value / (2 - value), 2 * value**2 / (1 + value)
    expected_se = math.sqrt((value * (1 - value) + (n1 - 1) * (q1 - value**2) + (n2 - 1) * (q2 - value**2)) / (n1 * n2))
    assert se == pytest.approx(expected_se)
    resampled = [sign_auc(preds[i], labels[i])[0] for i in rng.integers(0, 200, size=(400, 200))]
    assert np.std(resampled) == pytest.approx(se, rel=0.25)  # the formula matches the bootstrap
    assert math.isnan(sign_auc(preds, np.abs(labels))[0])
    assert gap_z(0.3, 0.1) == pytest.approx(3.0) and gap_z(float("nan"), 0.1) == 0.0
    assert gap_z(0.0, 0.0) == 0.0 and gap_z(-0.1, 0.0) == -math.inf


def test_pool_averages_real_frames_only():
    rng = np.random.default_rng(2)
    lengths = rng.integers(0, 7, size=40)
    features = rng.normal(size=(40, 6, 3)).astype(np.float32)
    features[np.arange(6)[None, :] >= lengths[:, None]] = 0.0
    pooled = pool(Sequences(features, lengths.astype(np.int64)))
    for i, n in enumerate(lengths):
        expected = features[i, :n].astype(np.float64).mean(axis=0) if n else np.zeros(3)
        np.testing.assert_allclose(pooled[i], expected, rtol=1e-12, atol=1e-12)


def test_feature_stats_against_plain_loops():
    rng = np.random.default_rng(3)
    m = {s: rng.normal(size=(n, 5)) for s, n in SIZES.items()}
    for s in SIZES:
        m[s][:, 1] = 0.0  # constant column
        m[s][:, 4] = np.nan  # all-NaN column
    m["valid"][2, :4] = 0.0  # missing rows (all zero; NaN counts as zero)
    m["test"][5, [0, 2, 3]] = np.nan
    m["test"][6, 0] = np.inf
    m["test"][7, 0] = 1e3  # extreme
    m["test"][10:14] = m["train"][20:24]  # duplicates of train rows
    m["valid"][30] = m["test"][40]
    stats = feature_stats(m)
    assert (stats.dim, stats.constant_columns, stats.nan_columns, stats.train_varying_columns) == (5, 1, 1, 3)
    assert stats.nonfinite_values == {"train": 300, "valid": 100, "test": 154}
    assert stats.missing_rows == {"train": 0, "valid": 1, "test": 1}
    assert stats.duplicate_rows == {"train-valid": 0, "train-test": 4, "valid-test": 1}
    train = m["train"]
    for split, matrix in m.items():
        finite = np.where(np.isfinite(matrix), matrix, np.nan)
        extreme = sum(
            1 for row in finite for j in (0, 2, 3) if abs(row[j] - train[:, j].mean()) / train[:, j].std() > EXTREME_Z
        )
        assert stats.extreme_values[split] == extreme, split
    assert stats.extreme_values["test"] == 1


def _utterance_folder(folder: Path, files: dict[str, np.ndarray], labels: np.ndarray, splits: list[str]) -> Path:
    """segments.csv (ten utterances per video, one split per video) and the given .npy files."""
    folder.mkdir()
    rng = np.random.default_rng(4)
    with (folder / "segments.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "video_id", "clip_id", "text", "label", "split"])
        for row, (label, split) in enumerate(zip(labels, splits, strict=True)):
            text = " ".join(rng.choice(WORDS, size=5))
            writer.writerow([f"v{row // 10}_{row % 10}", f"v{row // 10}", row % 10, text, f"{label:.4f}", split])
    for name, array in files.items():
        np.save(folder / name, array)
    return folder


def _built_dataset(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    splits = [s for s, n in SIZES.items() for _ in range(n)]
    n = len(splits)
    labels = np.round(rng.uniform(-3, 3, size=n), 1).astype(np.float32)
    is_test = np.array(splits) == "test"
    clean = rng.normal(size=(n, 8))
    clean[:, 0] += 0.5 * labels
    # as in MOSI: an extractor fit on the labels of half the train videos and most test videos
    video = np.arange(n) // 10
    seen = (video < 15) | (video >= 43)
    leaked = rng.normal(size=(n, 8))
    leaked[seen, 0] = labels[seen] + 0.3 * rng.normal(size=seen.sum())
    copied = np.column_stack([labels + 0.01 * rng.normal(size=n), rng.normal(size=(n, 3))])
    duplicated = rng.normal(size=(n, 4))
    duplicated[is_test] = duplicated[rng.choice(SIZES["train"], size=is_test.sum())]
    files = {
        "clean.npy": clean,
        "leaked.npy": leaked,
        "copied.npy": copied,
        "duplicated.npy": duplicated,
        "constant.npy": np.ones((n, 3)),
        "allnan.npy": np.full((n, 3), np.nan),
        "nocolumns.npy": np.zeros((n, 0)),
        "short.npy": np.zeros((n - 1, 3)),
    }
    return _utterance_folder(tmp_path / "built", files, labels, splits)


def test_audit_flags_leaked_broken_and_duplicated_features_and_passes_clean(tmp_path):
    report = audit_dataset(_built_dataset(tmp_path))
    flags = {audit.name: audit.flags for audit in report.sources}
    assert flags["clean.npy"] == [] and flags[TEXT_SOURCE] == []
    assert any(f.startswith("gap:") and "test" in f for f in flags["leaked.npy"]), flags["leaked.npy"]
    assert any(f.startswith("near-perfect validation") for f in flags["copied.npy"])
    assert any(f.startswith("duplicates: 150 of 150 test rows") for f in flags["duplicated.npy"])
    assert flags["constant.npy"] == ["constant: no column varies over the train rows, so nothing can be learnt from it"]
    assert flags["allnan.npy"] == ["empty: every value is NaN"]
    assert flags["nocolumns.npy"] == ["empty: the source has no feature columns"]
    assert flags["short.npy"][0].startswith("unreadable:") and "rows" in flags["short.npy"][0]
    assert report.flagged


def test_cli_audit_json_and_strict_exit_status(tmp_path, capsys):
    folder = _built_dataset(tmp_path)
    out = tmp_path / "audit.json"
    assert main(["data", "audit", str(folder), "--json", str(out), "--option", "audio_file=clean.npy"]) == 0
    text = capsys.readouterr().out
    assert "== leaked.npy" in text and "FLAG gap:" in text and "ignored audio_file='clean.npy'" in text
    written = json.loads(out.read_text())
    assert written["flagged"] is True
    by_name = {source["name"]: source for source in written["sources"]}
    assert by_name["clean.npy"]["flags"] == [] and by_name["allnan.npy"]["probe"] is None
    assert main(["data", "audit", str(folder), "--strict"]) == 1
    assert (
        main(
            [
                "data",
                "audit",
                "--format",
                "synthetic",
                "--option",
                "n_train=120",
                "--option",
                "n_valid=40",
                "--option",
                "n_test=40",
                "--strict",
            ]
        )
        == 0
    )
    assert "== visual" in capsys.readouterr().out
    assert main(["data", "audit", str(tmp_path / "missing")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_real_mosi_audit_flags_the_leaky_files_and_passes_audio():
    if not MOSI.is_dir():
        pytest.skip(f"real CMU-MOSI data not found at {MOSI} (a fresh clone has no ../shared)")
    report = audit_dataset(MOSI)
    flags = {audit.name: audit.flags for audit in report.sources}
    assert flags["video.npy"] and flags["text_cnn.npy"]
    assert flags["audio.npy"] == [] and flags[TEXT_SOURCE] == []


def test_pooled_modality_of_a_converted_dataset_constant_visual_is_flagged(tmp_path):
    ds = load_dataset(None, "synthetic", n_train=120, n_valid=40, n_test=40)
    for split in ds.splits.values():
        visual = split.visual
        visual.features[np.arange(visual.max_len)[None, :] < visual.lengths[:, None]] = 1.0
    report = audit_dataset(write_converted(ds, tmp_path / "converted"))
    flags = {audit.name: audit.flags for audit in report.sources}
    assert report.format == "converted" and flags["audio"] == []
    assert flags["visual"] == ["constant: no column varies over the train rows, so nothing can be learnt from it"]


def test_an_mmsa_pickle_whose_train_transcripts_all_read_alike_is_audited_not_a_traceback(tmp_path, capsys):
    from pickle_fixtures import AUDIO_DIM, VISUAL_DIM, Utterance, write_mmsa

    rng = np.random.default_rng(0)
    splits = {
        split: [
            Utterance(
                f"{split[:2]}{i // 2}",
                str(i % 2 + 1),
                "good movie good plot",  # one bag of words for every transcript
                float(np.float32(rng.integers(-15, 16) / 5)),
                rng.standard_normal((4, AUDIO_DIM)).astype(np.float32),
                rng.standard_normal((3, VISUAL_DIM)).astype(np.float32),
            )
            for i in range(size)
        ]
        for split, size in (("train", 24), ("valid", 8), ("test", 8))
    }
    folder = tmp_path / "mmsa"
    folder.mkdir()
    write_mmsa(folder, splits)
    assert main(["data", "audit", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"== {TEXT_SOURCE}" in out and "FLAG constant: every train transcript gives the same bag of words" in out
    for split, size in (("train", 24), ("valid", 8), ("test", 8)):
        assert f"WARNING {split} has {size} rows, fewer than 30: its probe scores and the flags" in out
    assert out.rstrip().endswith("(splits under 30 rows: train 24, valid 8, test 8; these flags mean little)")


def test_a_large_enough_audit_carries_no_small_split_warning():
    report = audit_dataset(None, "synthetic", n_train=60, n_valid=30, n_test=30)
    assert report.warnings == [] and report.to_dict()["warnings"] == []
    assert audit_dataset(None, "synthetic", n_train=60, n_valid=29, n_test=30).warnings[0].startswith("valid has 29")
