"""The MMSA release: `aligned_50.pkl` or `unaligned_50.pkl`.

The pickle is a dict of splits `train` / `valid` / `test`, each a dict of arrays: `raw_text` (N,)
transcripts, `audio` (N, La, da), `vision` (N, Lv, dv), `id` (N,) as `"<video>$_$<clip>"` (read as
`"<video>_<clip>"`) and `regression_labels` (N,). Features are right-padded.

Lengths: the unaligned file stores `audio_lengths` and `vision_lengths` (N,), used as given (a length
past the padded size means the sequence was truncated, so it is clipped to that size, with a note).
The aligned file, whose sequences are aligned to 50 text steps, stores none; for a modality without
stored lengths, a sample's length runs up to its last frame that is not all exactly zero.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from hscl.data.readers._common import (
    as_array,
    find_one,
    get_key,
    label_vector,
    lengths_from_trailing_zeros,
    numeric_array,
    to_text,
    writable_float32,
)
from hscl.data.safe_pickle import load_pickle
from hscl.data.types import SPLITS, MSADataset, Sequences, SplitData
from hscl.errors import DataError

logger = logging.getLogger("hscl.data")

PICKLE_FILES: tuple[str, ...] = ("aligned_50.pkl", "unaligned_50.pkl")
_MODALITIES: dict[str, str] = {"audio": "audio", "visual": "vision"}  # our name -> MMSA key


def detect(path: str | Path) -> bool:
    """True for an MMSA pickle, or a folder holding one."""
    path = Path(path)
    if path.is_file():
        return path.name in PICKLE_FILES
    return path.is_dir() and any((path / name).is_file() for name in PICKLE_FILES)


def read(path: str | Path) -> MSADataset:
    """Read an MMSA pickle (or a folder holding exactly one) into an `MSADataset`."""
    pickle_path = find_one(Path(path), list(PICKLE_FILES))
    data = load_pickle(pickle_path)
    notes: list[str] = []
    splits = {
        split: _read_split(get_key(data, split, pickle_path, "top level"), split, pickle_path, notes)
        for split in SPLITS
    }
    return MSADataset(splits=splits, source=str(pickle_path), format="mmsa", notes=notes)


def _read_split(part: dict, split: str, path: Path, notes: list[str]) -> SplitData:
    raw_ids = as_array(get_key(part, "id", path, split), path, f"{split}.id")
    if raw_ids.ndim != 1:
        raise DataError(path, f"{split}.id: expected shape (N,), found {raw_ids.shape}")
    n = raw_ids.shape[0]
    ids = [to_text(value, path, f"{split}.id[{i}]").replace("$_$", "_") for i, value in enumerate(raw_ids)]
    raw_text = as_array(get_key(part, "raw_text", path, split), path, f"{split}.raw_text")
    if raw_text.shape != (n,):
        raise DataError(path, f"{split}.raw_text: expected shape ({n},), found {raw_text.shape}")
    texts = [to_text(value, path, f"{split}.raw_text[{i}]") for i, value in enumerate(raw_text)]
    labels = label_vector(get_key(part, "regression_labels", path, split), path, f"{split}.regression_labels", rows=n)
    sequences = {name: _sequences(part, key, split, path, n, notes) for name, key in _MODALITIES.items()}
    return SplitData(ids=ids, texts=texts, labels=labels, **sequences)


def _sequences(part: dict, key: str, split: str, path: Path, n: int, notes: list[str]) -> Sequences:
    """Right-padded features of one modality with their stored or derived lengths."""
    features = numeric_array(get_key(part, key, path, split), path, f"{split}.{key}", ndim=3, rows=n)
    features = writable_float32(features)
    lengths_key = f"{key}_lengths"
    if lengths_key not in part:
        return Sequences(features, lengths_from_trailing_zeros(features))
    where = f"{split}.{lengths_key}"
    stored = numeric_array(part[lengths_key], path, where, ndim=1, rows=n)
    if np.any(stored != np.round(stored)) or np.any(stored < 0):
        raise DataError(path, f"{where}: lengths must be whole numbers >= 0")
    lengths = stored.astype(np.int64)
    max_len = features.shape[1]
    too_long = int(np.count_nonzero(lengths > max_len))
    if too_long:
        message = f"{split}: {too_long} {lengths_key} exceed the padded length {max_len}; clipped to it"
        logger.warning(message)
        notes.append(message)
        lengths = np.minimum(lengths, max_len)
    return Sequences(features, lengths)
