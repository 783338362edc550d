"""The utterance-level reader: segments.csv plus per-utterance .npy vectors (MOSI bc-LSTM, MOSEI text)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from hscl.data.loading import detect_format, load_dataset
from hscl.data.readers import utterance
from hscl.data.readers.utterance import carve_valid_by_video
from hscl.errors import ConfigError, DataError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COLUMNS = ["id", "video_id", "clip_id", "text", "label", "split", "split_bclstm", "text_bclstm"]
# video -> (number of clips, standard split, bc-LSTM split)
VIDEOS = {
    "v0": (3, "train", "train"),
    "v1": (2, "train", "train"),
    "007": (4, "train", "test"),
    "v3": (1, "train", "train"),
    "v4": (3, "train", "train"),
    "v5": (2, "valid", "train"),
    "v6": (2, "valid", "test"),
    "v7": (3, "test", "train"),
    "v8": (2, "test", "test"),
    "NA": (2, "test", "train"),
}
TRICKY_TEXTS = ["NA", "", 'he said "wow", then left', "line one\nline two", "café – naïve"]


def mini_rows() -> list[dict[str, str]]:
    """CSV rows of a miniature MOSI-like folder, with texts and ids that naive readers mangle."""
    rng = np.random.default_rng(0)
    rows = []
    for video, (clips, split, split_bc) in VIDEOS.items():
        for clip in range(1, clips + 1):
            r = len(rows)
            text = TRICKY_TEXTS[r] if r < len(TRICKY_TEXTS) else f"utterance {r} of {video}"
            label = (
                repr(float(np.float32(rng.uniform(-3, 3)))) if r % 4 else ["-3", "3.0", "0", "-0.33333334"][r // 4 % 4]
            )
            rows.append(
                {
                    "id": f"{video}_{clip}",
                    "video_id": video,
                    "clip_id": str(clip),
                    "text": text,
                    "label": label,
                    "split": split,
                    "split_bclstm": split_bc,
                    "text_bclstm": f"bc {text}",
                }
            )
    return rows


def write_folder(
    folder: Path, rows: list[dict[str, str]], columns: list[str] = COLUMNS, arrays: dict | None = None
) -> Path:
    """segments.csv from `rows` plus .npy files (default: audio 3-dim, video and text_cnn 4-dim)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "segments.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    rng = np.random.default_rng(1)
    n = len(rows)
    if arrays is None:
        arrays = {
            "audio.npy": rng.standard_normal((n, 3)).astype(np.float32),
            "video.npy": rng.random((n, 4)).astype(np.float32),
            "text_cnn.npy": rng.standard_normal((n, 4)).astype(np.float64),
        }
    for name, array in arrays.items():
        np.save(folder / name, array, allow_pickle=True)
    return folder


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "mini", mini_rows())


def rows_of(split: str, column: str = "split") -> list[int]:
    return [i for i, row in enumerate(mini_rows()) if row[column] == split]


def test_reads_every_field(mini: Path) -> None:
    rows = mini_rows()
    audio = np.load(mini / "audio.npy")
    ds = utterance.read(mini)
    assert (ds.format, ds.source, ds.modalities) == ("utterance", str(mini), ("audio",))
    assert list(ds.splits) == ["train", "valid", "test"]
    for split, data in ds.splits.items():
        index = rows_of(split)
        assert data.ids == [rows[i]["id"] for i in index]
        assert data.texts == [rows[i]["text"] for i in index]
        assert data.labels.dtype == np.float32
        np.testing.assert_array_equal(data.labels, np.array([float(rows[i]["label"]) for i in index], dtype=np.float32))
        assert data.audio.features.dtype == np.float32 and data.audio.features.shape == (len(index), 1, 3)
        np.testing.assert_array_equal(data.audio.features[:, 0], audio[index])
        assert data.audio.lengths.dtype == np.int64
        np.testing.assert_array_equal(data.audio.lengths, np.ones(len(index)))
        assert data.visual is None
    assert ds["train"].texts[:5] == TRICKY_TEXTS  # "NA" and "" stay strings, quotes and newlines survive
    assert "NA_1" in ds["test"].ids and "007_1" in ds["train"].ids


def test_modalities_can_be_chosen_or_turned_off(mini: Path) -> None:
    both = utterance.read(mini, visual_file="video.npy", split_column="split_bclstm")
    assert both.modalities == ("audio", "visual") and both.feature_dim("visual") == 4
    visual_only = utterance.read(mini, audio_file=None, visual_file="text_cnn.npy", split_column="split_bclstm")
    assert visual_only.modalities == ("visual",) and visual_only["train"].visual.features.dtype == np.float32
    text_only = utterance.read(mini, audio_file=None)
    assert text_only.modalities == () and len(text_only["test"]) == len(rows_of("test"))


def test_text_column_option(mini: Path) -> None:
    ds = utterance.read(mini, text_column="text_bclstm")
    assert ds["train"].texts[:5] == [f"bc {text}" for text in TRICKY_TEXTS]


def test_carves_valid_out_of_train_by_video(mini: Path) -> None:
    rows = mini_rows()
    ds = utterance.read(mini, split_column="split_bclstm", valid_fraction=0.3, valid_seed=3)
    again = utterance.read(mini, split_column="split_bclstm", valid_fraction=0.3, valid_seed=3)
    assert ds["valid"].ids == again["valid"].ids and ds["train"].ids == again["train"].ids
    bc_train = {rows[i]["id"] for i in rows_of("train", "split_bclstm")}
    bc_test = [rows[i]["id"] for i in rows_of("test", "split_bclstm")]
    assert ds["test"].ids == bc_test  # test rows untouched, in order
    assert set(ds["train"].ids) | set(ds["valid"].ids) == bc_train
    assert not set(ds["train"].ids) & set(ds["valid"].ids)
    video = {row["id"]: row["video_id"] for row in rows}
    train_videos = {video[i] for i in ds["train"].ids}
    valid_videos = {video[i] for i in ds["valid"].ids}
    assert valid_videos and not train_videos & valid_videos
    assert len(ds["valid"]) >= 0.3 * len(bc_train)
    assert any("carved valid out of train by video" in note and "valid_seed=3" in note for note in ds.notes)
    # the carve-out follows the rows: audio row of each id is that id's .npy row
    audio = np.load(mini / "audio.npy")
    position = {row["id"]: r for r, row in enumerate(rows)}
    np.testing.assert_array_equal(ds["valid"].audio.features[:, 0], audio[[position[i] for i in ds["valid"].ids]])


def test_carve_depends_on_seed_and_never_takes_every_video(mini: Path) -> None:
    chosen = {
        tuple(utterance.read(mini, split_column="split_bclstm", valid_seed=seed)["valid"].ids) for seed in range(8)
    }
    assert len(chosen) > 1
    tiny = utterance.read(mini, split_column="split_bclstm", valid_fraction=1e-6)
    assert len({i.rsplit("_", 1)[0] for i in tiny["valid"].ids}) == 1
    huge = utterance.read(mini, split_column="split_bclstm", valid_fraction=0.999)
    assert len(huge["train"]) > 0


@pytest.mark.parametrize("seed", range(20))
def test_carve_valid_by_video_properties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_videos = int(rng.integers(2, 12))
    videos = [f"vid{int(v)}" for v in rng.integers(0, n_videos, size=int(rng.integers(2, 60)))]
    if len(set(videos)) < 2:
        videos[0], videos[-1] = "a", "b"
    fraction = float(rng.uniform(0.01, 0.99))
    mask = carve_valid_by_video(videos, fraction, seed)
    np.testing.assert_array_equal(mask, carve_valid_by_video(videos, fraction, seed))
    by_video: dict[str, set[bool]] = {}
    for video, chosen in zip(videos, mask):
        by_video.setdefault(video, set()).add(bool(chosen))
    assert all(len(flags) == 1 for flags in by_video.values())  # whole videos only
    chosen_videos = [v for v, flags in by_video.items() if True in flags]
    assert 1 <= len(chosen_videos) <= len(by_video) - 1
    counts = {v: videos.count(v) for v in chosen_videos}
    target = fraction * len(videos)
    assert mask.sum() >= target or len(chosen_videos) == len(by_video) - 1
    assert mask.sum() - max(counts.values()) < target  # no more videos than needed to reach the target


def test_carve_needs_two_videos() -> None:
    with pytest.raises(ValueError, match="two videos"):
        carve_valid_by_video(["a", "a", "a"], 0.2, 0)


@pytest.mark.parametrize(
    "option", [{"visual_file": "video.npy"}, {"audio_file": "text_cnn.npy"}, {"visual_file": "./video.npy"}]
)
def test_leaky_features_refused_under_standard_split(mini: Path, option: dict) -> None:
    with pytest.raises(DataError, match="leaks test labels under the standard split.*split_bclstm") as error:
        utterance.read(mini, **option)
    assert Path(error.value.path).name in utterance.LEAKY_FILES


def test_leaky_features_allowed_explicitly_with_loud_note(mini: Path) -> None:
    ds = utterance.read(mini, visual_file="video.npy", allow_leaky_features=True)
    assert ds.modalities == ("audio", "visual")
    assert any(note.startswith("WARNING") and "INFLATED" in note and "video.npy" in note for note in ds.notes)
    clean = utterance.read(mini, visual_file="video.npy", split_column="split_bclstm")
    assert not any("WARNING" in note for note in clean.notes)


def test_detect(mini: Path, tmp_path: Path) -> None:
    assert utterance.detect(mini) and detect_format(mini) == "utterance"
    assert not utterance.detect(mini / "segments.csv")
    assert not utterance.detect(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    assert not utterance.detect(tmp_path / "empty")
    (mini / "hscl_dataset.json").write_text("{}")
    assert not utterance.detect(mini)


def test_load_dataset_validates(mini: Path) -> None:
    ds = load_dataset(mini, split_column="split_bclstm", visual_file="video.npy")
    assert ds.format == "utterance" and sum(len(s) for s in ds.splits.values()) == len(mini_rows())


def bad_rows(change: str) -> list[dict[str, str]]:
    rows = mini_rows()
    if change == "label":
        rows[6]["label"] = "positive"
    elif change == "nan_label":
        rows[6]["label"] = "nan"
    elif change == "empty_label":
        rows[6]["label"] = ""
    elif change == "split":
        rows[6]["split"] = "dev"
    return rows


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("label", r"row 7 \(id '007_2'\): column 'label' is 'positive'"),
        ("nan_label", r"row 7 \(id '007_2'\): column 'label' is 'nan'"),
        ("empty_label", r"row 7 \(id '007_2'\): the label cell is empty; every row needs a label"),
        ("split", r"row 7 \(id '007_2'\): column 'split' has 'dev'"),
    ],
)
def test_bad_cells(tmp_path: Path, change: str, message: str) -> None:
    folder = write_folder(tmp_path / "bad", bad_rows(change))
    with pytest.raises(DataError, match=message) as error:
        utterance.read(folder)
    assert error.value.path == str(folder / "segments.csv")


@pytest.mark.parametrize("missing", ["id", "label", "split", "text"])
def test_missing_column(tmp_path: Path, missing: str) -> None:
    folder = write_folder(tmp_path / "bad", mini_rows(), columns=[c for c in COLUMNS if c != missing])
    with pytest.raises(DataError, match=f"missing column.*'{missing}'") as error:
        utterance.read(folder)
    assert error.value.path.endswith("segments.csv")


def test_missing_chosen_columns(mini: Path) -> None:
    with pytest.raises(DataError, match="missing column.*'fold'"):
        utterance.read(mini, split_column="fold")
    with pytest.raises(DataError, match="missing column.*'transcript'"):
        utterance.read(mini, text_column="transcript")


def test_row_with_wrong_number_of_cells(mini: Path) -> None:
    with (mini / "segments.csv").open("a", encoding="utf-8") as handle:
        handle.write("x_1,x,1,short row\n")
    with pytest.raises(DataError, match=r"row 25 \(id 'x_1'\): 8 columns expected"):
        utterance.read(mini, audio_file=None)


def test_no_valid_and_no_video_column(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "bad", mini_rows(), columns=[c for c in COLUMNS if c != "video_id"])
    assert len(utterance.read(folder)["valid"]) == len(rows_of("valid"))  # not needed when valid exists
    with pytest.raises(DataError, match="no 'valid' rows and there is no 'video_id' column"):
        utterance.read(folder, split_column="split_bclstm")


def test_single_train_video_cannot_be_carved(tmp_path: Path) -> None:
    rows = [row for row in mini_rows() if row["split_bclstm"] == "test" or row["video_id"] == "v0"]
    folder = write_folder(tmp_path / "bad", rows)
    with pytest.raises(DataError, match="no 'valid' rows and need at least two videos"):
        utterance.read(folder, split_column="split_bclstm")


def test_split_without_test_rows(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "bad", [row for row in mini_rows() if row["split"] != "test"])
    with pytest.raises(DataError, match="no 'test' rows"):
        utterance.read(folder)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((23, 3), np.float32), "has 23 rows but segments.csv has 24"),
        (np.zeros(24, np.float32), "expected a 2-D array"),
        (np.zeros((24, 1, 3), np.float32), "expected a 2-D array"),
        (np.array([["a"]] * 24), "expected numbers"),
        (np.array([[object()]] * 24, dtype=object), "not a readable .npy array"),
    ],
)
def test_bad_arrays(tmp_path: Path, array: np.ndarray, message: str) -> None:
    folder = write_folder(tmp_path / "bad", mini_rows(), arrays={"audio.npy": array})
    with pytest.raises(DataError, match=message) as error:
        utterance.read(folder)
    assert error.value.path == str(folder / "audio.npy")


def test_npz_and_garbage_files_are_refused(mini: Path) -> None:
    np.savez(mini / "archive.npz", a=np.zeros((24, 2)))
    with pytest.raises(DataError, match="archive"):
        utterance.read(mini, audio_file="archive.npz")
    (mini / "garbage.npy").write_bytes(b"not numpy at all")
    with pytest.raises(DataError, match="not a readable .npy"):
        utterance.read(mini, audio_file="garbage.npy")


def test_missing_files_and_options(mini: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file") as error:
        utterance.read(mini, visual_file="facet.npy")
    assert error.value.path == str(mini / "facet.npy")
    with pytest.raises(DataError, match="no such folder"):
        utterance.read(mini.parent / "absent")
    (tmp_path / "nocsv").mkdir()
    with pytest.raises(DataError, match="segments.csv: no such file"):
        utterance.read(tmp_path / "nocsv")
    with pytest.raises(DataError, match="expected a folder"):
        utterance.read(mini / "segments.csv")
    with pytest.raises(ConfigError, match="valid_fraction"):
        utterance.read(mini, valid_fraction=1.0)


def test_not_utf8(tmp_path: Path) -> None:
    folder = tmp_path / "latin1"
    folder.mkdir()
    (folder / "segments.csv").write_bytes("id,video_id,text,label,split\na_1,a,caf\xe9,1,train\n".encode("latin-1"))
    with pytest.raises(DataError, match="UTF-8"):
        utterance.read(folder, audio_file=None)


# --- the real data in shared/data (skipped when absent) ---


def require(name: str) -> Path:
    folder = DATA / name
    if not (folder / "segments.csv").is_file():
        pytest.skip(f"real data {folder} is not present")
    return folder


def test_real_mosi_standard_split() -> None:
    ds = load_dataset(require("mosi"))
    assert {split: len(data) for split, data in ds.splits.items()} == {"train": 1284, "valid": 229, "test": 686}
    assert ds.modalities == ("audio",) and ds.feature_dim("audio") == 73
    ids = [i for data in ds.splits.values() for i in data.ids]
    assert len(ids) == len(set(ids)) == 2199
    labels = np.concatenate([data.labels for data in ds.splits.values()])
    assert labels.min() >= -3 and labels.max() <= 3 and labels.min() < -2.9 and labels.max() > 2.9
    assert np.count_nonzero(labels == 0) == 96
    assert ds["train"].ids[0] == "03bSnISJMiM_1" and ds["train"].texts[0] == "anyhow it was really good"


def test_real_mosi_leak_guard_and_bclstm_split() -> None:
    folder = require("mosi")
    with pytest.raises(DataError, match="leaks test labels"):
        utterance.read(folder, visual_file="video.npy")
    ds = load_dataset(folder, split_column="split_bclstm", visual_file="video.npy")
    assert len(ds["test"]) == 752 and len(ds["train"]) + len(ds["valid"]) == 1447
    assert ds.feature_dim("visual") == 100
    video = lambda ids: {i.rsplit("_", 1)[0] for i in ids}  # noqa: E731
    assert not video(ds["train"].ids) & video(ds["valid"].ids)
    assert not video(ds["valid"].ids) & video(ds["test"].ids)


def test_real_mosei_text_only() -> None:
    ds = load_dataset(require("mosei-text"), audio_file=None)
    assert {split: len(data) for split, data in ds.splits.items()} == {"train": 16274, "valid": 1861, "test": 4653}
    assert ds.modalities == ()
    assert all(isinstance(i, str) for i in ds["train"].ids[:100])
    with pytest.raises(DataError, match="audio.npy: no such file"):
        utterance.read(DATA / "mosei-text")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("all NaN", r"audio\.npy: train: audio: 39 of 39 feature values \(100%\) are NaN or infinite"),
        ("1e30", r"audio\.npy: train: audio of id '007_1' has a value of magnitude 1e\+30"),
        ("one valid row", r"mini: valid: 1 sample; valid needs at least 2"),
    ],
)
def test_unusable_data_is_one_line_and_trains_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture, change: str, message: str
) -> None:
    """All-NaN or huge features name the .npy file; a valid split of one row names the split."""
    from hscl.cli import main

    rows = mini_rows()
    audio = np.random.default_rng(0).standard_normal((len(rows), 3)).astype(np.float32)
    if change == "all NaN":
        audio[:] = np.nan
    elif change == "1e30":
        audio[5, 1] = 1e30
    else:
        rows = [row for row in rows if row["split"] != "valid" or row["id"] == "v5_1"]
        audio = audio[: len(rows)]
    folder = write_folder(tmp_path / "mini", rows, arrays={"audio.npy": audio})
    assert main(["data", "inspect", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hscl: error: ")
    assert re.search(message, err[0]), err[0]
    run_dir = tmp_path / "run"
    assert main(["train", "--preset", "mosi-utterance", "--set", f"data.path={folder}", "--out", str(run_dir)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == err
    assert not run_dir.exists()
