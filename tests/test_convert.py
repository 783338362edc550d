"""The converted format: exact round trips, overwrite refusal, corrupted files, and the inspect report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hscl.data.convert import find_problems, inspect_dataset, label_histogram, write_converted
from hscl.data.loading import detect_format, load_dataset
from hscl.data.readers import converted, synthetic
from hscl.data.types import MSADataset, Sequences, SplitData
from hscl.errors import DataError

TRICKY_TEXTS = [
    "",
    "NA",
    "a, b, and c",
    'she said "great" -- "really"',
    "first line\nsecond line",
    "windows\r\nline",
    "old mac\rline",
    "  leading and trailing  ",
    "naïve café ☺ 日本語",
    "tab\there",
    "'single' \\ backslash",
    "null\x00byte",
]


def sequences(rng: np.random.Generator, n: int, max_len: int, dim: int) -> Sequences:
    """Right-padded random frames; includes an empty and (if n > 1) a full sequence, NaN and -0.0."""
    lengths = rng.integers(0, max_len + 1, size=n).astype(np.int64)
    lengths[0] = 0
    if n > 1:
        lengths[1] = max_len
    features = rng.standard_normal((n, max_len, dim)).astype(np.float32)
    features[np.arange(max_len)[None, :] >= lengths[:, None]] = 0.0
    if n > 1:
        features[1, 0, 0] = np.nan
        features[1, -1, -1] = -0.0
    return Sequences(features, lengths)


def handmade(audio: bool = True, visual: bool = True, seed: int = 0) -> MSADataset:
    """Small dataset with tricky texts and ids, padding longer than every sample, and odd values."""
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n in (("train", len(TRICKY_TEXTS)), ("valid", 3), ("test", 2)):
        splits[split] = SplitData(
            ids=[f'{split},id "{i}"' for i in range(n)],
            texts=TRICKY_TEXTS[:n] if split == "train" else [f"{split} text {i}" for i in range(n)],
            labels=rng.uniform(-3, 3, n).astype(np.float32),
            audio=sequences(rng, n, 7, 3) if audio else None,
            visual=sequences(rng, n, 11 if split == "test" else 9, 2) if visual else None,
        )
    return MSADataset(
        splits=splits, source="handmade/source", format="handmade", notes=["first note", "second, with ünïcode"]
    )


def assert_round_trip(original: MSADataset, loaded: MSADataset, folder: Path) -> None:
    """Everything equal bit for bit, same dtypes and shapes, plus the provenance note."""
    assert (loaded.source, loaded.format) == (str(folder), "converted")
    assert loaded.notes == [*original.notes, f"converted from {original.format!r} data at {original.source}"]
    assert list(loaded.splits) == list(original.splits)
    assert loaded.modalities == original.modalities
    for split, data in original.splits.items():
        back = loaded[split]
        assert back.ids == data.ids and back.texts == data.texts
        assert back.labels.dtype == data.labels.dtype and back.labels.tobytes() == data.labels.tobytes()
        for name in ("audio", "visual"):
            seq, seq_back = data.modality(name), back.modality(name)
            if seq is None:
                assert seq_back is None
                continue
            assert seq_back.features.dtype == np.float32 and seq_back.lengths.dtype == np.int64
            assert seq_back.features.shape == seq.features.shape
            assert seq_back.features.tobytes() == seq.features.tobytes()  # bit-exact, NaN and -0.0 included
            assert seq_back.lengths.tobytes() == seq.lengths.tobytes()


def test_round_trip_synthetic(tmp_path: Path) -> None:
    ds = synthetic.read(seed=1, n_train=50, n_valid=10, n_test=20)
    folder = write_converted(ds, tmp_path / "out")
    assert folder == tmp_path / "out"
    assert sorted(p.name for p in folder.iterdir()) == [
        "hscl_dataset.json",
        "test.npz",
        "texts.csv",
        "train.npz",
        "valid.npz",
    ]
    assert_round_trip(ds, converted.read(folder), folder)


@pytest.mark.parametrize(("audio", "visual"), [(True, True), (True, False), (False, True), (False, False)])
def test_round_trip_handmade(tmp_path: Path, audio: bool, visual: bool) -> None:
    ds = handmade(audio, visual)
    folder = write_converted(ds, tmp_path / "out")
    loaded = converted.read(folder)
    assert_round_trip(ds, loaded, folder)
    manifest = json.loads((folder / "hscl_dataset.json").read_text(encoding="utf-8"))
    assert manifest["modalities"] == list(ds.modalities)
    assert manifest["splits"]["test"]["size"] == 2
    if visual:
        assert manifest["dims"]["visual"] == 2 and manifest["splits"]["test"]["max_len"]["visual"] == 11


def test_frames_are_stored_unpadded(tmp_path: Path) -> None:
    ds = handmade()
    folder = write_converted(ds, tmp_path / "out")
    with np.load(folder / "train.npz", allow_pickle=False) as archive:
        frames, lengths = archive["audio_frames"], archive["audio_lengths"]
    seq = ds["train"].audio
    assert frames.shape == (int(seq.lengths.sum()), 3)
    np.testing.assert_array_equal(
        frames, np.concatenate([seq.features[i, : seq.lengths[i]] for i in range(len(lengths))])
    )


def test_load_dataset_detects_and_validates(tmp_path: Path) -> None:
    ds = synthetic.read(seed=2, n_train=20, n_valid=5, n_test=5)
    folder = write_converted(ds, tmp_path / "out")
    assert converted.detect(folder) and detect_format(folder) == "converted"
    loaded = load_dataset(folder)
    np.testing.assert_array_equal(loaded["valid"].visual.features, ds["valid"].visual.features)


def test_rewrite_of_a_converted_dataset_replaces_it(tmp_path: Path) -> None:
    folder = write_converted(handmade(seed=0), tmp_path / "out")
    replacement = handmade(audio=True, visual=False, seed=5)
    write_converted(replacement, folder)
    assert_round_trip(replacement, converted.read(folder), folder)


def test_empty_existing_folder_is_fine(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert converted.detect(write_converted(handmade(), tmp_path / "empty"))


def test_refuses_to_overwrite_other_folders(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    with pytest.raises(DataError, match="not empty.*refusing to overwrite") as error:
        write_converted(handmade(), other)
    assert error.value.path == str(other)
    assert [p.name for p in other.iterdir()] == ["thesis.tex"] and (other / "thesis.tex").read_text() == "precious"
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        write_converted(handmade(), tmp_path / "file")


def test_refuses_datasets_it_cannot_store_exactly(tmp_path: Path) -> None:
    ds = handmade()
    ds["valid"].audio.features[0, -1, 0] = 1.0  # past sample 0's length 0
    with pytest.raises(DataError, match="valid.audio: non-zero frames past"):
        write_converted(ds, tmp_path / "a")
    ds = handmade()
    ds["test"].labels = ds["test"].labels.astype(np.float64)
    with pytest.raises(DataError, match="test: labels must be float32"):
        write_converted(ds, tmp_path / "b")
    ds = handmade()
    ds["valid"].visual = None
    with pytest.raises(DataError, match="valid: has modalities"):
        write_converted(ds, tmp_path / "c")
    ds = handmade()
    del ds.splits["valid"]
    with pytest.raises(DataError, match="expected splits"):
        write_converted(ds, tmp_path / "d")
    assert not any((tmp_path / name).exists() for name in "abcd")


@pytest.fixture
def written(tmp_path: Path) -> Path:
    return write_converted(handmade(), tmp_path / "out")


def rewrite_npz(path: Path, **changes: np.ndarray | None) -> None:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    np.savez(path, **arrays)


def edit_manifest(folder: Path, **changes: object) -> None:
    path = folder / "hscl_dataset.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.update(changes)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def test_missing_files(written: Path) -> None:
    (written / "valid.npz").unlink()
    with pytest.raises(DataError, match="no such file") as error:
        converted.read(written)
    assert error.value.path == str(written / "valid.npz")
    (written / "texts.csv").unlink()
    with pytest.raises(DataError, match="texts.csv: no such file"):
        converted.read(written)
    (written / "hscl_dataset.json").unlink()
    assert not converted.detect(written)
    with pytest.raises(DataError, match="hscl_dataset.json: no such file"):
        converted.read(written)


def test_truncated_and_bit_flipped_archives(written: Path) -> None:
    path = written / "train.npz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="train.npz: not a readable .npz"):
        converted.read(written)
    flipped = bytearray(data)
    middle = data.index(b"audio_frames.npy") + 200  # inside the frames' stored bytes
    flipped[middle] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(DataError, match="train.npz: not a readable .npz"):
        converted.read(written)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"labels": None}, "missing array 'labels'"),
        ({"labels": np.zeros(3, np.float64)}, "array 'labels' is float64 \\(3,\\); expected float32 \\(3,\\)"),
        ({"audio_lengths": np.array([0, 7, 8], np.int64)}, "audio_lengths has values outside \\[0, 7\\]"),
        ({"audio_lengths": np.array([0, 7, 1], np.int32)}, "array 'audio_lengths' is int32"),
        ({"visual_frames": np.zeros((1, 2), np.float32)}, "array 'visual_frames' is float32 \\(1, 2\\)"),
        ({"audio_frames": np.array([[None] * 3], dtype=object)}, "not a readable .npz"),
    ],
)
def test_inconsistent_arrays(written: Path, changes: dict, message: str) -> None:
    rewrite_npz(written / "valid.npz", **changes)
    with pytest.raises(DataError, match=message) as error:
        converted.read(written)
    assert error.value.path == str(written / "valid.npz")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format_version": 99}, "format_version 99 is not supported"),
        ({"format_version": "1"}, "'format_version' must be of type int"),
        ({"modalities": ["audio", "smell"]}, "modalities"),
        ({"dims": {"audio": 3}}, "dims"),
        ({"splits": {"train": {"size": 11, "max_len": {"audio": 7, "visual": 9}}}}, "splits"),
        ({"notes": "just one"}, "'notes' must be of type list"),
    ],
)
def test_bad_manifest(written: Path, changes: dict, message: str) -> None:
    edit_manifest(written, **changes)
    with pytest.raises(DataError, match=message) as error:
        converted.read(written)
    assert error.value.path == str(written / "hscl_dataset.json")


def test_manifest_disagreeing_with_arrays_or_texts(written: Path) -> None:
    manifest = json.loads((written / "hscl_dataset.json").read_text(encoding="utf-8"))
    manifest["splits"]["test"]["size"] = 3
    (written / "hscl_dataset.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(DataError, match="test has 2 rows but hscl_dataset.json says 3"):
        converted.read(written)


def test_not_json(written: Path) -> None:
    (written / "hscl_dataset.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid UTF-8 JSON"):
        converted.read(written)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,text\n", "header must be"),
        ("split,id,text\ntrain,x\n", "expected \\(split, id, text\\)"),
        ("split,id,text\nholdout,x,y\n", "known split"),
    ],
)
def test_bad_texts(written: Path, content: str, message: str) -> None:
    (written / "texts.csv").write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        converted.read(written)


# --- inspect_dataset ---


def test_label_histogram_matches_plain_reference() -> None:
    rng = np.random.default_rng(0)
    labels = np.concatenate([rng.uniform(-3, 3, 300), [-3, 3, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0, -0.5001, 0.4999]])
    labels = labels.astype(np.float32)
    expected = [0] * 7
    for value in labels.tolist():
        expected[min(max(round(value), -3), 3) + 3] += 1  # round() rounds half to even, like np.round
    assert label_histogram(labels) == expected
    assert label_histogram(np.array([], np.float32)) == [0] * 7


def test_inspect_report(default_report: str) -> None:
    report = default_report
    for expected in (
        "source: synthetic(seed=0)",
        "format: synthetic",
        "audio (d=5)",
        "visual (d=20)",
        "problems: none found",
    ):
        assert expected in report
    ds = synthetic.read(seed=0, n_train=40, n_valid=10, n_test=12)
    line = next(row for row in report.splitlines() if row.startswith("train ") and "/" in row)
    seq = ds["train"].audio
    assert f"{seq.lengths.min()}/{np.median(seq.lengths):g}/{seq.lengths.max()} (50)" in line
    histogram_line = next(
        row
        for row in report.splitlines()[report.splitlines().index("labels rounded to the 7 classes -3..3:") :]
        if row.startswith("train")
    )
    assert histogram_line.split()[1:8] == [str(c) for c in label_histogram(ds["train"].labels)]
    assert "synthetic data (seed=0" in report


@pytest.fixture
def default_report() -> str:
    return inspect_dataset(synthetic.read(seed=0, n_train=40, n_valid=10, n_test=12))


def test_inspect_lists_problems_and_notes() -> None:
    ds = handmade()
    ds["valid"].ids[1] = ds["train"].ids[0]
    ds["test"].ids[1] = ds["test"].ids[0]
    ds["test"].labels[0] = 3.5
    report = inspect_dataset(ds)
    problems = find_problems(ds)
    assert "train: 1 empty texts" in problems  # the "" text
    n_empty = int(np.count_nonzero(ds["train"].audio.lengths == 0))
    assert f"train: {n_empty} samples have an empty audio sequence" in problems
    assert "train: 1 non-finite audio values" in problems
    assert "train and valid share 1 ids" in problems
    assert "test: 1 ids repeat an earlier id of the split" in problems
    assert "test: 1 labels are not finite numbers in [-3, 3]" in problems
    assert all(f"  - {problem}" in report for problem in problems)
    assert "  - second, with ünïcode" in report


def test_inspect_reports_a_missing_modality() -> None:
    ds = handmade()
    ds["test"].visual = None
    report = inspect_dataset(ds)
    assert "test: has no visual, which the first split has" in report
    assert "absent" in next(row for row in report.splitlines() if row.startswith("test "))


def test_inspect_text_only() -> None:
    report = inspect_dataset(handmade(audio=False, visual=False))
    assert "modalities: text\n" in report and "len min/median/max" not in report
