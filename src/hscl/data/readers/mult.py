"""The MulT release: `mosi_data_noalign.pkl` / `mosei_senti_data_noalign.pkl` plus a label CSV.

The pickle is a dict of splits `train` / `valid` / `test`, each a dict of arrays: `vision` (N, Lv, dv),
`audio` (N, La, da), `text` (N, 50, 300) word vectors (unused here), `labels` (N, 1, 1) and `id`
(N, k) whose first column is `b"<video_id>_<clip_id>"`. Sequences are left-padded with all-zero
frames; a sample's length is the number of frames after its leading all-zero frames.

The pickle holds no transcripts. They come from the label CSV (`MOSI-label.csv` /
`MOSEI-label.csv` next to the pickle, or `label_csv=`), with columns `video_id`, `clip_id`, `text`,
`label` and `mode`, matched by id. Where the pickle's ids are absent or name no CSV row (MOSEI),
`match_by_position=True` pairs the i-th sample of a split with the i-th CSV row of that `mode`.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hscl.data.readers._common import (
    SPLIT_ALIASES,
    as_array,
    find_one,
    get_key,
    label_vector,
    left_to_right_padded,
    numeric_array,
    to_text,
)
from hscl.data.safe_pickle import load_pickle
from hscl.data.types import SPLITS, MSADataset, SplitData
from hscl.errors import DataError
from hscl.files import file_problem

logger = logging.getLogger("hscl.data")

PICKLE_TO_CSV: dict[str, str] = {
    "mosi_data_noalign.pkl": "MOSI-label.csv",
    "mosei_senti_data_noalign.pkl": "MOSEI-label.csv",
}
CSV_LABEL_AGREEMENT = 1e-4
"""Largest |CSV label - pickle label| not reported; larger differences are noted (the pickle's label is kept)."""
_CSV_COLUMNS = ("video_id", "clip_id", "text", "label")


@dataclass
class LabelRow:
    """One row of the label CSV."""

    id: str  # "<video_id>_<clip_id>"
    text: str
    label: float
    mode: str | None  # split name after aliasing ("dev" -> "valid"); None if the CSV has no mode column


def detect(path: str | Path) -> bool:
    """True for a MulT pickle, or a folder holding one."""
    path = Path(path)
    if path.is_file():
        return path.name in PICKLE_TO_CSV
    return path.is_dir() and any((path / name).is_file() for name in PICKLE_TO_CSV)


def read(path: str | Path, label_csv: str | Path | None = None, match_by_position: bool = False) -> MSADataset:
    """Read a MulT pickle (or a folder holding one) and its label CSV into an `MSADataset`."""
    pickle_path = find_one(Path(path), sorted(PICKLE_TO_CSV))
    csv_path = Path(label_csv) if label_csv is not None else _find_label_csv(pickle_path)
    rows = read_label_csv(csv_path)
    data = load_pickle(pickle_path)
    notes: list[str] = []
    splits = {
        split: _read_split(
            get_key(data, split, pickle_path, "top level"), split, pickle_path, csv_path, rows, match_by_position, notes
        )
        for split in SPLITS
    }
    return MSADataset(splits=splits, source=str(pickle_path), format="mult", notes=notes)


def _find_label_csv(pickle_path: Path) -> Path:
    folder = pickle_path.parent
    paired = PICKLE_TO_CSV.get(pickle_path.name)
    if paired is not None and (folder / paired).is_file():
        return folder / paired
    present = [folder / name for name in sorted(set(PICKLE_TO_CSV.values())) if (folder / name).is_file()]
    if paired is None and len(present) == 1:
        return present[0]
    wanted = paired or " or ".join(sorted(set(PICKLE_TO_CSV.values())))
    raise DataError(
        pickle_path,
        f"no label CSV ({wanted}) next to the pickle; pass label_csv=<path to the CSV with the transcripts>",
    )


def read_label_csv(path: Path) -> list[LabelRow]:
    """The rows of a MulT label CSV, in file order; a `DataError` for missing columns or bad values."""
    if problem := file_problem(path, "label CSV"):
        raise DataError(path, problem)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        missing = [c for c in _CSV_COLUMNS if c not in columns]
        if missing:
            raise DataError(path, f"missing columns {missing}; found {columns}")
        rows = [_label_row(record, path, line) for line, record in enumerate(reader, start=2)]
    seen: set[str] = set()
    for row in rows:
        if row.id in seen:
            raise DataError(path, f"id {row.id!r} occurs in more than one row")
        seen.add(row.id)
    return rows


def _label_row(record: dict[str, str], path: Path, line: int) -> LabelRow:
    try:
        label = float(record["label"])
    except (TypeError, ValueError):
        raise DataError(path, f"line {line}: label {record['label']!r} is not a number") from None
    mode = record.get("mode")
    if mode is not None:
        mode = SPLIT_ALIASES.get(mode.strip().lower(), mode.strip())
    row_id = f"{record['video_id'].strip()}_{record['clip_id'].strip()}"
    return LabelRow(id=row_id, text=record["text"] or "", label=label, mode=mode)


def _pickle_ids(part: dict, rows: int, path: Path, split: str) -> list[str] | None:
    """The ids in the first column of `part["id"]`, or None if there is no id array or it holds no text."""
    if part.get("id") is None:
        return None
    ids = as_array(part["id"], path, f"{split}.id")
    if ids.ndim not in (1, 2) or ids.shape[0] != rows:
        raise DataError(path, f"{split}.id: expected shape ({rows},) or ({rows}, k), found {ids.shape}")
    first = ids if ids.ndim == 1 else ids[:, 0]
    if not all(isinstance(value, (str, bytes)) for value in first):
        return None
    return [to_text(value, path, f"{split}.id[{i}]").strip() for i, value in enumerate(first)]


def _match_rows(
    ids: list[str] | None,
    split: str,
    rows: list[LabelRow],
    n: int,
    pickle_path: Path,
    csv_path: Path,
    match_by_position: bool,
    notes: list[str],
) -> list[LabelRow]:
    """The CSV row of each sample: by id, or by order within the split if allowed and ids are unusable."""
    by_id = {row.id: row for row in rows}
    found = [] if ids is None else [i in by_id for i in ids]
    if ids is not None and all(found):
        return [by_id[i] for i in ids]
    if ids is not None and any(found):
        missing = ids[found.index(False)]
        raise DataError(csv_path, f"{split}: id {missing!r} from {pickle_path.name} has no transcript in this CSV")
    if not match_by_position:
        problem = (
            "has no usable id array (absent, or not text)"
            if ids is None
            else f"ids (e.g. {ids[0]!r}) name no row of {csv_path}"
        )
        raise DataError(
            pickle_path,
            f"{split}: {problem}; pass match_by_position=True to pair samples with CSV rows by order within each split",
        )
    if any(row.mode is None for row in rows):
        raise DataError(csv_path, "match_by_position needs a 'mode' column (train/valid/dev/test)")
    in_split = [row for row in rows if row.mode == split]
    if len(in_split) != n:
        raise DataError(
            csv_path,
            f"{split}: {len(in_split)} rows with this mode but the pickle has {n} samples; cannot match by position",
        )
    notes.append(f"{split}: matched {n} samples to CSV rows by position (pickle ids absent or unusable)")
    return in_split


def _read_split(
    part: dict,
    split: str,
    pickle_path: Path,
    csv_path: Path,
    rows: list[LabelRow],
    match_by_position: bool,
    notes: list[str],
) -> SplitData:
    vision = numeric_array(get_key(part, "vision", pickle_path, split), pickle_path, f"{split}.vision", ndim=3)
    n = vision.shape[0]
    audio = numeric_array(get_key(part, "audio", pickle_path, split), pickle_path, f"{split}.audio", ndim=3, rows=n)
    labels = label_vector(get_key(part, "labels", pickle_path, split), pickle_path, f"{split}.labels", rows=n)
    ids = _pickle_ids(part, n, pickle_path, split)
    matched = _match_rows(ids, split, rows, n, pickle_path, csv_path, match_by_position, notes)
    _warn_label_differences(matched, labels, split, csv_path, notes)
    return SplitData(
        ids=[row.id for row in matched],
        texts=[row.text for row in matched],
        labels=labels,
        audio=left_to_right_padded(audio),
        visual=left_to_right_padded(vision),
    )


def _warn_label_differences(
    matched: list[LabelRow], labels: np.ndarray, split: str, csv_path: Path, notes: list[str]
) -> None:
    """Log (and note) CSV labels that differ from the pickle's; the pickle's labels are kept."""
    csv_labels = np.array([row.label for row in matched], dtype=np.float64)
    differs = np.flatnonzero(~(np.abs(csv_labels - labels) <= CSV_LABEL_AGREEMENT))
    if differs.size:
        first = int(differs[0])
        message = (
            f"{split}: {differs.size} CSV labels differ from the pickle's by more than {CSV_LABEL_AGREEMENT} "
            f"(first: {matched[first].id!r}, CSV {csv_labels[first]:g} vs pickle {labels[first]:g}); "
            f"using the pickle's labels ({csv_path.name})"
        )
        logger.warning(message)
        notes.append(message)
