"""The csd reader against the CMU-MultimodalSDK itself: files written with its writer, alignment compared
with its `align` output, the standard folds, and hostile files that must each fail in one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from csd_fixtures import NAMES, fold_file, make_release, quiet, write_csd
from hscl.cli import main
from hscl.data.folds import parse_folds, read_fold_file, standard_folds
from hscl.data.intervals import interval_means, overlapping
from hscl.data.loading import detect_format, load_dataset
from hscl.data.readers import csd
from hscl.errors import ConfigError, DataError

MOSI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mosi"
VIDEOS = [f"vid{i}" for i in range(12)]
SPLIT = {"train": VIDEOS[:8], "valid": VIDEOS[8:10], "test": VIDEOS[10:]}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A small release (words with `sp`, COVAREP-like audio with -inf, Facet-like visual with a late start)."""
    folder = tmp_path_factory.mktemp("csd") / "release"
    made = make_release(folder, VIDEOS, seed=3)
    made.folds = fold_file(folder.parent / "folds.json", **SPLIT)
    return made


def sdk_average(intervals, features):
    """The collapse function of the SDK's recipe (the reference, words, cannot be averaged and is kept)."""
    try:
        return np.average(features, axis=0)
    except TypeError:
        return features


def sdk_dataset(files: dict[str, Path]):
    from mmsdk import mmdatasdk

    with quiet():
        return mmdatasdk.mmdataset({role: str(path) for role, path in files.items()})


@pytest.fixture
def sdk_tolerance(request, monkeypatch):
    """Run the SDK's align with the given epsilon (its module constant: 1e-3 in the PyPI copy)."""
    import mmsdk.mmdatasdk.dataset.dataset as sdk_module

    monkeypatch.setattr(sdk_module, "epsilon", request.param)
    return request.param


# --- the alignment rule against the SDK ---------------------------------------------------------


def hostile_entry(rng: np.random.Generator, grid: bool) -> tuple[dict, dict]:
    """Words and frames meant to break a windowed search: unsorted, overlapping, zero-length, touching at the
    tolerance, with NaN and infinite features."""
    n_words, n_frames = int(rng.integers(1, 25)), int(rng.integers(0, 80))
    if grid:  # 1 ms grid: overlaps land exactly on the tolerance, as float64 computes them
        w0 = rng.integers(0, 3000, n_words) / 1000
        w = np.stack([w0, w0 + rng.integers(0, 400, n_words) / 1000], axis=1)
        f0 = rng.integers(0, 3000, n_frames) / 1000
        f = np.stack([f0, f0 + rng.choice([0, 1, 2, 10, 33, 500], n_frames) / 1000], axis=1)
    else:
        w0 = rng.uniform(0, 3, n_words)
        w = np.stack([w0, w0 + rng.exponential(0.2, n_words) * (rng.random(n_words) > 0.1)], axis=1)
        f0 = rng.uniform(0, 3, n_frames)
        f = np.stack([f0, f0 + rng.exponential(0.05, n_frames) * (rng.random(n_frames) > 0.1)], axis=1)
    features = rng.normal(size=(n_frames, 3))
    features[rng.random(features.shape) < 0.03] = rng.choice([np.nan, np.inf, -np.inf])
    words = {"intervals": w, "features": np.array([[b"w%d" % i] for i in range(n_words)])}
    return words, {"intervals": f, "features": features}


@pytest.mark.parametrize("sdk_tolerance", [1e-3, 1e-5], indirect=True)
def test_word_means_equal_the_sdk_align_on_hostile_intervals(tmp_path, sdk_tolerance):
    rng = np.random.default_rng(11)
    words, frames = {}, {}
    for i in range(30):
        words[f"v{i}"], frames[f"v{i}"] = hostile_entry(rng, grid=i % 2 == 0)
    files = {
        "words": write_csd(tmp_path / "w.csd", "words", words),
        "audio": write_csd(tmp_path / "a.csd", "COVAREP", frames),
    }
    ds = sdk_dataset(files)
    with quiet():
        ds.align("words", collapse_functions=[sdk_average])
    aligned = ds["audio"].data
    checked = absent = 0
    for video, entry in words.items():
        found = overlapping(frames[video]["intervals"], entry["intervals"], sdk_tolerance)
        means = interval_means(frames[video]["features"], found)
        counts = found.counts()
        for i, (start, end) in enumerate(entry["intervals"]):
            key = f"{video}[{i}]"
            if key in aligned:
                np.testing.assert_allclose(means[i], aligned[key]["features"][0], rtol=1e-12, equal_nan=True)
                assert counts[i] > 0
                checked += 1
            else:
                assert counts[i] == 0, (key, start, end)
                absent += 1
    assert checked > 200 and absent > 20  # both cases really occur


def brute_force(intervals: np.ndarray, references: np.ndarray, tolerance: float) -> list[list[int]]:
    """Plain reference: every pair tested as the SDK's `align` tests it, rows in stable start order."""
    out = []
    order = np.argsort(intervals[:, 0], kind="stable")
    for r0, r1 in references:
        touching = ((-intervals[order, 0]) - (-r1) > -tolerance) & (intervals[order, 1] - r0 > -tolerance)
        clipped0 = np.maximum(intervals[order, 0], r0)
        clipped1 = np.minimum(intervals[order, 1], r1)
        out.append(order[touching & (np.abs(clipped0 - clipped1) > tolerance)].tolist())
    return out


@pytest.mark.parametrize("tolerance", [1e-3, 1e-5, 0.0])
def test_overlapping_equals_a_plain_reference_with_ties(tolerance):
    rng = np.random.default_rng(5)
    for trial in range(300):
        n, m = int(rng.integers(0, 50)), int(rng.integers(0, 15))
        step = [0.01, 0.001, 0.0005][trial % 3]  # grids whose overlaps fall on and around the tolerance
        starts = rng.integers(0, 300, n) * step
        lengths = rng.choice([0, 1, 2, 3], n) * step if trial % 4 else rng.exponential(0.05, n)
        intervals = np.stack([starts, starts + lengths], axis=1)
        if trial % 5 == 0:  # sorted, contiguous frames: the windowed path
            intervals = np.stack([np.arange(n) * step, (np.arange(n) + 1) * step], axis=1)
        r0 = rng.integers(0, 300, m) * step
        references = np.stack([r0, r0 + rng.integers(0, 40, m) * step], axis=1)
        found = overlapping(intervals, references, tolerance)
        assert [found.rows(j).tolist() for j in range(m)] == brute_force(intervals, references, tolerance)
        features = rng.normal(size=(n, 2))
        expected = [
            features[rows].mean(axis=0) if rows else np.zeros(2)
            for rows in brute_force(intervals, references, tolerance)
        ]
        np.testing.assert_allclose(interval_means(features, found), np.reshape(expected, (m, 2)), atol=1e-12)


def test_subsample_takes_the_middle_of_equal_runs():
    rows = np.arange(100, 110)
    assert csd.subsample(rows, None).tolist() == rows.tolist()
    assert csd.subsample(rows, 20).tolist() == rows.tolist()
    assert csd.subsample(rows, 5).tolist() == [101, 103, 105, 107, 109]
    assert csd.subsample(rows, 1).tolist() == [105]
    for n in range(1, 40):
        for limit in range(1, n + 1):
            picked = csd.subsample(np.arange(n), limit)
            centres = [int((k + 0.5) * n / limit) for k in range(limit)]
            assert picked.tolist() == centres and len(set(picked.tolist())) == limit


# --- the whole recipe against the SDK -------------------------------------------------------------


def sdk_word_recipe(release) -> dict[str, dict[str, np.ndarray]]:
    """The SDK's recipe: align to the words averaging every other sequence, impute, align to the labels,
    keep the segments every sequence has (hard_unify), then drop `sp` rows from every modality (MMSA's scripts).

    The PyPI copy's `impute` indexes a dict's keys, which Python 3 refuses, so its effect (a zero row
    for each word no frame met) is written out here; its `hard_unify` is missing, so is the intersection.
    """
    ds = sdk_dataset({role: release.file(role) for role in ("words", "audio", "visual")})
    with quiet():
        ds.align("words", collapse_functions=[sdk_average])
    for role in ("audio", "visual"):
        dim = next(iter(release.data[role].values()))["features"].shape[1]
        for key, entry in ds["words"].data.items():
            ds[role].data.setdefault(key, {"intervals": entry["intervals"], "features": np.zeros((1, dim))})
    with quiet():
        ds.add_computational_sequences({"labels": str(release.file("labels"))}, None)
        ds.align("labels")
    keys = set.intersection(*(set(ds[role].data) for role in ds.keys()))  # noqa: SIM118 (an mmdataset is no dict)
    out = {}
    for key in keys:
        tokens = [row[0].decode() for row in ds["words"].data[key]["features"]]
        spoken = np.array([token != "sp" for token in tokens])
        out[key] = {
            "text": " ".join(t for t in tokens if t != "sp"),
            "label": float(ds["labels"].data[key]["features"][0, 0]),
            "audio": ds["audio"].data[key]["features"][spoken],
            "visual": ds["visual"].data[key]["features"][spoken],
        }
    return out


def hscl_samples(ds) -> dict[str, dict]:
    out = {}
    for split in ds.splits.values():
        for i, sample_id in enumerate(split.ids):
            out[sample_id] = {
                "text": split.texts[i],
                "label": float(split.labels[i]),
                "audio": split.audio.features[i, : split.audio.lengths[i]],
                "visual": split.visual.features[i, : split.visual.lengths[i]],
            }
    return out


def test_word_alignment_equals_the_sdk_recipe(release):
    expected = sdk_word_recipe(release)
    got = hscl_samples(csd.read(release.folder, folds=str(release.folds)))
    assert sorted(got) == sorted(expected) and len(got) > 10
    for key, sample in expected.items():
        assert got[key]["text"] == sample["text"], key
        assert got[key]["label"] == pytest.approx(sample["label"], abs=1e-6)
        for modality in ("audio", "visual"):
            np.testing.assert_allclose(got[key][modality], sample[modality], rtol=1e-5, atol=1e-6, err_msg=key)
    assert any(np.isneginf(s["audio"]).any() for s in got.values())  # -inf frames reach the means, as in the SDK
    assert any((s["visual"] == 0).all(axis=1).any() for s in got.values())  # words before the visual start: zeros


def test_no_alignment_equals_the_sdk_frames_per_segment(release):
    ds = sdk_dataset({role: release.file(role) for role in NAMES})
    with quiet():
        ds.align("labels")
    got = hscl_samples(csd.read(release.folder, folds=str(release.folds), alignment="none"))
    assert sorted(got) == sorted(ds["labels"].data)
    empty = 0
    for key, sample in got.items():
        tokens = [row[0].decode() for row in ds["words"].data[key]["features"]]
        assert sample["text"] == " ".join(t for t in tokens if t != "sp")
        for modality in ("audio", "visual"):
            if key not in ds[modality].data:  # no frame in the segment: the SDK has no entry, hscl an empty sequence
                assert len(sample[modality]) == 0
                empty += 1
                continue
            np.testing.assert_allclose(sample[modality], ds[modality].data[key]["features"], rtol=1e-6, err_msg=key)
    assert empty


def test_max_frames_subsamples_only_long_segments(release):
    full = csd.read(release.folder, folds=str(release.folds), alignment="none")
    short = csd.read(release.folder, folds=str(release.folds), alignment="none", max_frames=20)
    for split in ("train", "test"):
        a, b = full[split].audio, short[split].audio
        assert b.max_len == 20 and (b.lengths == np.minimum(a.lengths, 20)).all()
        for i in range(len(a.lengths)):
            rows = csd.subsample(np.arange(a.lengths[i]), 20)
            np.testing.assert_array_equal(b.features[i, : b.lengths[i]], a.features[i, rows])


def test_load_dataset_detects_validates_and_notes(release):
    assert detect_format(release.folder) == "csd"
    ds = load_dataset(release.folder, folds=str(release.folds))
    assert ds.format == "csd" and ds.modalities == ("audio", "visual")
    assert [len(ds[s]) for s in ("train", "valid", "test")] == [
        sum(len(release.data["labels"][v]["intervals"]) for v in SPLIT[s]) for s in ("train", "valid", "test")
    ]
    assert all(np.isfinite(ds[s].audio.features).all() for s in ds.splits)  # sparse -inf zeroed, as everywhere
    notes = "\n".join(ds.notes)
    assert "replaced" in notes and "non-finite" in notes
    assert re.search(r"visual: \d+ of \d+ words overlap no frame; their rows are zeros", notes)
    assert re.search(r"\d+ 'sp' silence markers dropped", notes)
    assert ds.feature_files["audio"].endswith("CMU_MOSI_COVAREP.csd")
    no_visual = load_dataset(release.folder, folds=str(release.folds), visual_file=None)
    assert no_visual.modalities == ("audio",)


# --- folds -------------------------------------------------------------------------------------------


def test_shipped_folds_are_the_sdk_lists():
    from mmsdk.mmdatasdk.dataset.standard_datasets.CMU_MOSEI import cmu_mosei_std_folds as mosei
    from mmsdk.mmdatasdk.dataset.standard_datasets.CMU_MOSI import cmu_mosi_std_folds as mosi

    for name, module, sizes in (("mosi", mosi, (52, 10, 31)), ("mosei", mosei, (2249, 300, 678))):
        folds = standard_folds(name)
        assert tuple(len(folds[s]) for s in ("train", "valid", "test")) == sizes
        assert folds["valid"] == module.standard_valid_fold and folds["test"] == module.standard_test_fold
        # the PyPI copy lists one MOSEI train video more, which the current SDK removed
        extra = [v for v in module.standard_train_fold if v not in folds["train"]]
        assert extra == ([] if name == "mosi" else ["-NFrJFQijFE"])
        assert [v for v in module.standard_train_fold if v not in extra] == folds["train"]


def test_mosi_folds_agree_with_the_real_segments_csv():
    if not MOSI.is_dir():
        pytest.skip(f"real CMU-MOSI data not found at {MOSI} (a fresh clone has no ../shared)")
    import csv

    with (MOSI / "segments.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_split = {split: {r["video_id"] for r in rows if r["split"] == split} for split in ("train", "valid", "test")}
    folds = standard_folds("mosi")
    assert {split: set(videos) for split, videos in folds.items()} == by_split


def test_auto_folds_come_from_the_metadata_and_absent_videos_are_noted(tmp_path):
    mosi = standard_folds("mosi")
    chosen = mosi["train"][:3] + mosi["valid"][:2] + mosi["test"][:2]
    made = make_release(tmp_path / "mosi", [*chosen, "not-in-any-fold"], seed=1, dataset="CMU-MOSI")
    ds = csd.read(made.folder)
    notes = "\n".join(ds.notes)
    assert "the standard mosi folds (from the metadata" in notes
    assert "train: 49 of 52 fold videos are in no file" in notes and "test: 29 of 31" in notes
    assert "1 labelled videos are in no fold and are left out (e.g. 'not-in-any-fold')" in notes
    assert {i.split("[")[0] for i in ds["train"].ids} == set(mosi["train"][:3])
    assert csd.read(made.folder, folds="mosi")["test"].ids == ds["test"].ids
    with pytest.raises(DataError, match="train: no segment left to read"):
        csd.read(made.folder, folds="mosei")


def test_folds_that_cannot_be_chosen_are_one_line(tmp_path):
    made = make_release(tmp_path / "r", VIDEOS, seed=2, dataset="some corpus")
    with pytest.raises(DataError, match=r"no file's metadata 'dataset name' names CMU-MOSI or CMU-MOSEI.*folds=mosi"):
        csd.read(made.folder)
    write_csd(made.file("audio"), "COVAREP", made.data["audio"], dataset="CMU-MOSEI")
    write_csd(made.file("words"), "words", made.data["words"], dataset="CMU_MOSI")
    with pytest.raises(DataError, match="the files disagree on the dataset"):
        csd.read(made.folder)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "not valid UTF-8 JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"train": ["a"], "valid": ["b"]}', r"missing \['test'\]"),
        ('{"train": ["a"], "valid": ["b"], "test": ["c"], "extra": 1}', r"unknown keys \['extra'\]"),
        ('{"train": [], "valid": ["b"], "test": ["c"]}', "'train' must be a non-empty list"),
        ('{"train": ["a", 3], "valid": ["b"], "test": ["c"]}', "'train' must be a non-empty list"),
        ('{"train": ["a"], "valid": ["b", "a"], "test": ["c"]}', "video 'a' is listed in both 'train' and 'valid'"),
        ('{"train": ["a", "a"], "valid": ["b"], "test": ["c"]}', "video 'a' is listed twice"),
        ('{"train": ["a"], "valid": ["b"], "test": ["c"], "source": 5}', "'source' must be a string"),
    ],
)
def test_bad_fold_files_are_refused(tmp_path, content, problem):
    path = tmp_path / "folds.json"
    path.write_text(content)
    with pytest.raises(DataError, match=problem):
        read_fold_file(path)
    with pytest.raises(DataError, match="no such fold file"):
        read_fold_file(tmp_path / "missing.json")
    assert parse_folds({"train": ["a"], "valid": ["b"], "test": ["c"], "dataset": "x"}, "x")["test"] == ["c"]


# --- hostile files: one line naming the file, the video and the problem ----------------------------


def corrupt(made, role: str, video: str, name: str, value) -> None:
    """Replace one dataset of one video in a written file (h5py: the SDK's writer refuses broken shapes)."""
    with h5py.File(made.file(role), "r+") as handle:
        root = next(iter(handle))
        group = handle[root]["data"][video]
        del group[name]
        group.create_dataset(name, data=value)


HOSTILE = [  # (file, dataset replaced in video 'vid1', its new value (None: made to fit), the problem)
    ("audio", "intervals", np.zeros((3, 3)), r"intervals are float64 \(3, 3\), expected \(n, 2\)"),
    ("audio", "intervals", np.array([[0.0, 1.0], [2.0, 1.5]]), r"interval 1 runs backwards \(2 s to 1.5 s\)"),
    ("visual", "intervals", np.array([[0.0, np.nan]]), r"interval 0 is \[0.0, nan\], not finite"),
    ("audio", "features", np.zeros((2, 5)), r"features have shape \(2, 5\) but there are \d+ intervals"),
    ("words", "features", None, r"words are float64 .*expected \(n, 1\) strings"),
    ("labels", "features", None, r"labels are .*k > label_column=0"),
    ("audio", "features", None, r"3 features per row, earlier videos have 5"),
]


@pytest.mark.parametrize(("role", "name", "value", "problem"), HOSTILE)
def test_broken_entries_are_one_line_naming_file_and_video(tmp_path, role, name, value, problem):
    made = make_release(tmp_path / "r", VIDEOS, seed=4)
    folds = fold_file(tmp_path / "f.json", **SPLIT)
    entry = made.data[role]["vid1"]
    if value is None:
        n = len(entry["intervals"])
        value = {"words": np.zeros((n, 1)), "labels": np.zeros((n, 0)), "audio": np.zeros((n, 3))}[role]
    corrupt(made, role, "vid1", name, value)
    with pytest.raises(DataError, match=f"video 'vid1': {problem}") as caught:
        load_dataset(made.folder, folds=str(folds))
    assert caught.value.path == str(made.file(role))
    assert main(["data", "inspect", str(made.folder), "--option", f"folds={folds}"]) == 2


def test_files_that_are_not_computational_sequences(tmp_path, capsys):
    made = make_release(tmp_path / "r", VIDEOS, seed=4)
    folds = str(fold_file(tmp_path / "f.json", **SPLIT))
    made.file("visual").write_text("this is not HDF5")
    with pytest.raises(DataError, match="not a readable HDF5 computational sequence") as caught:
        csd.read(made.folder, folds=folds)
    assert caught.value.path == str(made.file("visual"))
    with h5py.File(made.file("visual"), "w") as handle:
        handle.create_group("a")
        handle.create_group("b")
    with pytest.raises(DataError, match=r"expected one root group named after the sequence, found \['a', 'b'\]"):
        csd.read(made.folder, folds=folds)
    with h5py.File(made.file("visual"), "w") as handle:
        handle.create_group("FACET").create_group("metadata")
    with pytest.raises(DataError, match="missing group 'FACET/data'"):
        csd.read(made.folder, folds=folds)
    with h5py.File(made.file("visual"), "w") as handle:
        handle.create_group("FACET/data/vid1")
    with pytest.raises(DataError, match="video 'vid0' has labels .* but no visual entry here"):
        csd.read(made.folder, folds=folds)
    assert main(["data", "inspect", str(made.folder), "--option", f"folds={folds}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CMU_MOSI_Visual_Facet_42.csd" in err[0] and "vid0" in err[0]


def test_missing_videos_and_empty_segments_are_refused_or_dropped(tmp_path):
    made = make_release(tmp_path / "r", VIDEOS, seed=6)
    folds = str(fold_file(tmp_path / "f.json", **SPLIT))
    audio = dict(made.data["audio"])
    del audio["vid2"]
    write_csd(made.file("audio"), "COVAREP", audio)
    with pytest.raises(DataError, match=r"video 'vid2' has labels .* but no audio entry here \(1 such videos\)"):
        csd.read(made.folder, folds=folds)
    ds = csd.read(made.folder, folds=folds, drop_incomplete=True)
    assert not any(i.startswith("vid2[") for i in ds["train"].ids)
    assert "drop_incomplete: left out 1 videos without audio (e.g. 'vid2')" in ds.notes
    labels = {v: dict(e) for v, e in made.data["labels"].items()}
    end = made.data["audio"]["vid3"]["intervals"][-1, 1]
    labels["vid3"]["intervals"] = np.concatenate([labels["vid3"]["intervals"], [[end + 5, end + 6]]])
    labels["vid3"]["features"] = np.concatenate([labels["vid3"]["features"], [[1.0]]])
    write_csd(made.file("labels"), "Opinion Segment Labels", labels)
    k = len(labels["vid3"]["intervals"]) - 1
    with pytest.raises(DataError, match=rf"video 'vid3': segment {k} \(.* s to .* s\) holds no words \(sp aside\)"):
        csd.read(made.folder, folds=folds, drop_incomplete=False, audio_file=None)
    ds = csd.read(made.folder, folds=folds, drop_incomplete=True)
    assert f"vid3[{k}]" not in ds["train"].ids and "vid3[0]" in ds["train"].ids
    assert "drop_incomplete: left out 1 segments that hold no words" in ds.notes


def test_files_are_found_by_name_or_named(tmp_path):
    made = make_release(tmp_path / "r", VIDEOS, seed=4)
    folds = str(fold_file(tmp_path / "f.json", **SPLIT))
    made.file("visual").rename(made.folder / "CMU_MOSI_Visual_Facet_41.csd")
    assert "visual CMU_MOSI_Visual_Facet_41.csd" in csd.read(made.folder, folds=folds).notes[0]
    write_csd(made.folder / "CMU_MOSI_VisualFacet_4.1.csd", "FACET", made.data["visual"])
    with pytest.raises(DataError, match=r"several visual files match \*facet41\*.*pass visual_file=NAME"):
        csd.read(made.folder, folds=folds)
    write_csd(made.folder / "CMU_MOSI_Visual_Facet_42.csd", "FACET", made.data["visual"])
    assert "visual CMU_MOSI_Visual_Facet_42.csd" in csd.read(made.folder, folds=folds).notes[0]
    ds = csd.read(made.folder, folds=folds, visual_file="CMU_MOSI_VisualFacet_4.1.csd")
    assert "visual CMU_MOSI_VisualFacet_4.1.csd" in ds.notes[0]
    with pytest.raises(DataError, match=r"no such file \(audio_file='nope.csd'"):
        csd.read(made.folder, folds=folds, audio_file="nope.csd")
    with pytest.raises(DataError, match="audio and visual would read the same file"):
        csd.read(made.folder, folds=folds, visual_file="CMU_MOSI_COVAREP.csd")
    made.file("words").rename(made.folder / "words.h5")
    with pytest.raises(DataError, match=r"no words file \(\*timestampedwords\*.csd\) here; .csd files: CMU_MOSI_C"):
        csd.read(made.folder, folds=folds)
    (made.folder / "CMU_MOSEI_LabelsEmotions.csd").write_text("")
    made.file("labels").unlink()
    with pytest.raises(DataError, match="no labels file"):
        csd.read(made.folder, folds=folds, words_file="words.h5")


def test_bad_options_are_one_line(release, capsys):
    folds = str(release.folds)
    with pytest.raises(ConfigError, match="max_frames=5 subsamples frames, which only alignment 'none' keeps"):
        load_dataset(release.folder, folds=folds, max_frames=5)
    with pytest.raises(ConfigError, match="alignment: 'frames' is not allowed"):
        csd.read(release.folder, folds=folds, alignment="frames")
    with pytest.raises(DataError, match="takes no option"):
        load_dataset(release.folder, "csd", audio="x")
    with pytest.raises(DataError, match="labels are .* k > label_column=3"):
        csd.read(release.folder, folds=folds, label_column=3)
    assert main(["data", "inspect", str(release.folder), "--option", "max_frames=0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "max_frames" in err[0]


def test_a_padded_array_too_large_is_refused(release, monkeypatch):
    monkeypatch.setattr(csd, "PADDED_LIMIT_BYTES", 1000)
    with pytest.raises(
        DataError, match=r"train: \d+ segments padded to \d+ frames of 5 values would take .* max_frames"
    ):
        csd.read(release.folder, folds=str(release.folds), alignment="none")


def test_not_a_folder_and_mixed_layouts(release, tmp_path):
    with pytest.raises(DataError, match="expected a folder of CMU-MultimodalSDK .csd files"):
        csd.read(release.file("words"))
    assert not csd.detect(release.file("words")) and not csd.detect(tmp_path / "missing")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "segments.csv").write_text("id\n")
    (mixed / "x.csd").write_text("")
    with pytest.raises(DataError, match=r"several layouts \(utterance, csd\)"):
        detect_format(mixed)


# --- the data commands and the config -------------------------------------------------------------


def test_inspect_convert_and_audit_work_on_a_release(release, tmp_path, capsys):
    folds = f"folds={release.folds}"
    assert main(["data", "inspect", str(release.folder), "--option", folds, "--option", "alignment=none"]) == 0
    out = capsys.readouterr().out
    assert "format: csd" in out and "alignment none" in out
    converted = tmp_path / "converted"
    assert main(["data", "convert", str(release.folder), "--option", folds, "--out", str(converted)]) == 0
    original, again = load_dataset(release.folder, folds=str(release.folds)), load_dataset(converted)
    for split in original.splits:
        assert again[split].ids == original[split].ids and again[split].texts == original[split].texts
        np.testing.assert_array_equal(again[split].audio.features, original[split].audio.features)
    report = tmp_path / "audit.json"
    assert main(["data", "audit", str(release.folder), "--option", folds, "--json", str(report)]) == 0
    sources = [source["name"] for source in json.loads(report.read_text())["sources"]]
    assert "audio" in sources and "visual" in sources


def test_audit_keeps_a_video_s_segments_in_one_fold():
    from hscl.data.audit import train_groups

    groups = train_groups(["a[0]", "a[1]", "b[0]", "b_2", "b_3", "c[10]", "d[x]"]).tolist()
    assert groups[0] == groups[1] != groups[2] == groups[3] == groups[4] != groups[5] and len(set(groups)) == 4


def test_the_mosi_preset_takes_the_csd_format(release):
    from hscl.config import load_config

    config = load_config(preset="mosi", overrides=["data.format=csd", f"data.path={release.folder}"])
    assert config.data.reader_options().alignment == "word"
    with pytest.raises(ConfigError, match="max_frames"):
        load_config(preset="mosi", overrides=["data.format=csd", "data.path=x", "data.options={max_frames: 9}"])
