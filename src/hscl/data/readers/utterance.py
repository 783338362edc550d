"""Reader for utterance-level folders: `segments.csv` plus one feature vector per utterance per `.npy`.

Layout (as in `shared/data/mosi` and `shared/data/mosei-text`)::

    segments.csv   id, video_id, label, a split column, a text column (other columns ignored)
    audio.npy      (N, d) numbers, row r belongs to CSV row r   (optional)
    <visual>.npy   (N, d) numbers, row r belongs to CSV row r   (optional)

Each utterance becomes a length-1 sequence. When the chosen split column has no `valid` rows, a
validation set is carved out of train by video id, so that model selection never touches test rows.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hscl.data.types import SPLITS, MSADataset, Sequences, SplitData
from hscl.errors import ConfigError, DataError
from hscl.files import file_problem

SEGMENTS_FILE = "segments.csv"
CONVERTED_MARKER = "hscl_dataset.json"
STANDARD_SPLIT_COLUMN = "split"
# Supervised features fit on the bc-LSTM train split, which holds most of the standard test fold.
LEAKY_FILES: frozenset[str] = frozenset({"video.npy", "text_cnn.npy"})


@dataclass
class Segments:
    """The columns of `segments.csv` that the reader uses, one entry per CSV row."""

    ids: list[str]
    video_ids: list[str] | None
    texts: list[str]
    labels: np.ndarray  # (N,) float32
    splits: list[str]


def detect(path: str | Path) -> bool:
    """True for a folder holding `segments.csv` that is not a converted dataset."""
    path = Path(path)
    return path.is_dir() and (path / SEGMENTS_FILE).is_file() and not (path / CONVERTED_MARKER).exists()


def read(
    path: str | Path,
    audio_file: str | None = "audio.npy",
    visual_file: str | None = None,
    split_column: str = STANDARD_SPLIT_COLUMN,
    text_column: str = "text",
    valid_fraction: float = 0.15,
    valid_seed: int = 0,
    allow_leaky_features: bool = False,
) -> MSADataset:
    """Read an utterance-level folder into an `MSADataset` (audio/visual of length 1, or absent).

    `audio_file` / `visual_file` name `.npy` files inside the folder; None turns that modality off.
    `video.npy` and `text_cnn.npy` are refused under the standard split (`split_column="split"`)
    because they leak test labels, unless `allow_leaky_features=True`.
    """
    folder = Path(path)
    if not folder.exists():
        raise DataError(folder, "no such folder")
    if not folder.is_dir():
        raise DataError(folder, f"expected a folder holding {SEGMENTS_FILE}")
    if not 0.0 < valid_fraction < 1.0:
        raise ConfigError(f"valid_fraction must be in (0, 1), got {valid_fraction}")
    notes = _check_leaks(folder, audio_file, visual_file, split_column, allow_leaky_features)
    csv_path = folder / SEGMENTS_FILE
    segments = read_segments(csv_path, split_column, text_column)
    files = {"audio": audio_file, "visual": visual_file}
    features = {
        name: None if file is None else read_vectors(folder / file, len(segments.ids)) for name, file in files.items()
    }
    rows = _split_rows(csv_path, segments, split_column, valid_fraction, valid_seed, notes)
    notes.extend(
        f"{name}: {files[name]}, one {matrix.shape[1]}-dim vector per utterance (sequences of length 1, "
        "not the frame sequences the HSCL paper used)"
        for name, matrix in features.items()
        if matrix is not None
    )
    splits = {split: _make_split(segments, features, index) for split, index in rows.items()}
    feature_files = {name: str(folder / file) for name, file in files.items() if file is not None}
    return MSADataset(splits=splits, source=str(folder), format="utterance", notes=notes, feature_files=feature_files)


def read_segments(csv_path: Path, split_column: str, text_column: str) -> Segments:
    """Parse `segments.csv` with the csv module; every cell stays a string except the label."""
    if problem := file_problem(csv_path):
        raise DataError(csv_path, problem)
    try:
        with csv_path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            records = list(reader)
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(csv_path, f"cannot parse as UTF-8 CSV: {error}") from error
    needed = ["id", "label", split_column, text_column]
    missing = [column for column in needed if column not in header]
    if missing:
        raise DataError(csv_path, f"missing column(s) {missing}; header is {header}")
    if not records:
        raise DataError(csv_path, "no data rows")
    labels = np.empty(len(records), dtype=np.float32)
    for row, record in enumerate(records):
        where = f"row {row + 1} (id {record.get('id')!r})"  # data rows counted from 1, after the header
        if None in record or any(value is None for value in record.values()):
            raise DataError(csv_path, f"{where}: {len(header)} columns expected, the row has a different count")
        labels[row] = _parse_label(csv_path, where, record["label"])
        if record[split_column] not in SPLITS:
            raise DataError(
                csv_path, f"{where}: column {split_column!r} has {record[split_column]!r}; expected one of {SPLITS}"
            )
    return Segments(
        ids=[record["id"] for record in records],
        video_ids=[record["video_id"] for record in records] if "video_id" in header else None,
        texts=[record[text_column] for record in records],
        labels=labels,
        splits=[record[split_column] for record in records],
    )


def read_vectors(npy_path: Path, n_rows: int) -> np.ndarray:
    """A `(n_rows, d)` float32 matrix from a `.npy` file, loaded without pickle."""
    if problem := file_problem(npy_path):
        raise DataError(npy_path, f"{problem} (pass None to turn this modality off)")
    try:
        array = np.load(npy_path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise DataError(npy_path, f"not a readable .npy array: {error}") from error
    if not isinstance(array, np.ndarray):
        raise DataError(npy_path, "expected a single .npy array, found an archive")
    if array.ndim != 2:
        raise DataError(npy_path, f"expected a 2-D array (rows, features), got shape {array.shape}")
    if array.shape[0] != n_rows:
        raise DataError(npy_path, f"has {array.shape[0]} rows but {SEGMENTS_FILE} has {n_rows}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise DataError(npy_path, f"expected numbers, got dtype {array.dtype}")
    return array.astype(np.float32, copy=False)


def carve_valid_by_video(video_ids: list[str], fraction: float, seed: int) -> np.ndarray:
    """A boolean mask over `video_ids` choosing whole videos holding about `fraction` of the rows.

    Videos are taken in a seeded random order until the chosen rows reach `fraction` of all rows;
    at least one video is chosen and at least one is left out.
    """
    videos, inverse, counts = np.unique(np.asarray(video_ids, dtype=str), return_inverse=True, return_counts=True)
    if len(videos) < 2:
        raise ValueError("need at least two videos to carve a validation set by video")
    order = np.random.default_rng(seed).permutation(len(videos))
    reached = np.cumsum(counts[order]) >= fraction * len(video_ids)
    n_chosen = int(np.argmax(reached)) + 1 if reached.any() else len(videos)
    n_chosen = min(max(n_chosen, 1), len(videos) - 1)
    chosen = np.zeros(len(videos), dtype=bool)
    chosen[order[:n_chosen]] = True
    return chosen[inverse]


def _parse_label(csv_path: Path, where: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not text.strip():
        raise DataError(csv_path, f"{where}: the label cell is empty; every row needs a label")
    if not math.isfinite(value):
        raise DataError(csv_path, f"{where}: column 'label' is {text!r}, not a finite number")
    return value


def _check_leaks(
    folder: Path, audio_file: str | None, visual_file: str | None, split_column: str, allowed: bool
) -> list[str]:
    """Refuse (or loudly note) features known to leak test labels under the standard split."""
    notes: list[str] = []
    for file in (audio_file, visual_file):
        if file is None or Path(file).name not in LEAKY_FILES or split_column != STANDARD_SPLIT_COLUMN:
            continue
        problem = (
            f"{Path(file).name} leaks test labels under the standard split (its extractor was trained on "
            "bc-LSTM train rows, most of which are standard test rows; see README.md)"
        )
        if not allowed:
            raise DataError(
                folder / file,
                f"{problem}; use split_column='split_bclstm' or audio.npy only "
                "(or allow_leaky_features=True to study the leak)",
            )
        notes.append(f"WARNING: {problem}. Test metrics from this dataset are INFLATED and INVALID.")
    return notes


def _split_rows(
    csv_path: Path, segments: Segments, split_column: str, fraction: float, seed: int, notes: list[str]
) -> dict[str, np.ndarray]:
    """CSV row indices of each split, carving valid out of train by video when the column has none."""
    splits = np.asarray(segments.splits)
    rows = {split: np.flatnonzero(splits == split) for split in SPLITS}
    for split in ("train", "test"):
        if len(rows[split]) == 0:
            raise DataError(csv_path, f"column {split_column!r} has no {split!r} rows")
    if len(rows["valid"]) > 0:
        return rows
    if segments.video_ids is None:
        raise DataError(
            csv_path, f"column {split_column!r} has no 'valid' rows and there is no 'video_id' column to carve them by"
        )
    train = rows["train"]
    train_videos = [segments.video_ids[i] for i in train]
    try:
        in_valid = carve_valid_by_video(train_videos, fraction, seed)
    except ValueError as error:
        raise DataError(csv_path, f"column {split_column!r} has no 'valid' rows and {error}") from error
    rows["train"], rows["valid"] = train[~in_valid], train[in_valid]
    n_videos = len(set(train_videos))
    n_valid_videos = len({train_videos[i] for i in np.flatnonzero(in_valid)})
    notes.append(
        f"column {split_column!r} has no 'valid' rows: carved valid out of train by video "
        f"(valid_fraction={fraction}, valid_seed={seed}): {n_valid_videos} of {n_videos} videos, "
        f"{int(in_valid.sum())} of {len(train)} train rows; test rows untouched"
    )
    return rows


def _make_split(segments: Segments, features: dict[str, np.ndarray | None], index: np.ndarray) -> SplitData:
    """One split's rows, each feature vector as a length-1 sequence."""

    def sequences(matrix: np.ndarray | None) -> Sequences | None:
        if matrix is None:
            return None
        return Sequences(np.ascontiguousarray(matrix[index, None, :]), np.ones(len(index), dtype=np.int64))

    return SplitData(
        ids=[segments.ids[i] for i in index],
        texts=[segments.texts[i] for i in index],
        labels=segments.labels[index],
        audio=sequences(features["audio"]),
        visual=sequences(features["visual"]),
    )
