"""The checks every dataset passes after reading, whatever its format.

`validate_dataset` raises `DataError(source, "<split>: <problem>")` for anything a reader got wrong or
a file got wrong, naming the first offending id where there is one. It changes data in two
documented ways only: non-finite feature values become 0 (counted, logged and noted in `ds.notes`),
and labels within `LABEL_TOLERANCE` outside `LABEL_RANGE` are clipped into it (a new labels array).
"""
from __future__ import annotations

import logging

import numpy as np

from hscl.data.types import LABEL_RANGE, MODALITIES, SPLITS, MSADataset, Sequences, SplitData, row_chunks
from hscl.errors import DataError

logger = logging.getLogger("hscl.data")

LABEL_TOLERANCE = 1e-4


def validate_dataset(ds: MSADataset) -> MSADataset:
    """Check `ds` in place and return it; see the module docstring for what is checked and changed."""
    source = ds.source or "<dataset>"
    if not isinstance(ds.splits, dict) or sorted(ds.splits) != sorted(SPLITS):
        found = sorted(ds.splits) if isinstance(ds.splits, dict) else type(ds.splits).__name__
        raise DataError(source, f"expected splits {list(SPLITS)}, found {found}")
    for split in SPLITS:
        _check_structure(ds.splits[split], split, source)
    _check_modalities(ds, source)
    seen_ids: dict[str, str] = {}
    for split in SPLITS:
        data = ds.splits[split]
        for name in MODALITIES:
            sequences = data.modality(name)
            if sequences is not None:
                _zero_non_finite(ds, sequences, name, split)
                _check_padding(sequences, data.ids, split, source, name)
        _check_labels(data, split, source)
        _check_ids(data.ids, split, source, seen_ids)
    return ds


def _check_structure(data: SplitData, split: str, source: str) -> None:
    """Types, shapes and counts of one split."""
    if not isinstance(data, SplitData):
        raise DataError(source, f"{split}: expected SplitData, found {type(data).__name__}")
    n = len(data.ids)
    if n == 0:
        raise DataError(source, f"{split}: empty split")
    if len(data.texts) != n:
        raise DataError(source, f"{split}: {n} ids but {len(data.texts)} texts")
    for kind, values in (("id", data.ids), ("text", data.texts)):
        bad = next((i for i, value in enumerate(values) if not isinstance(value, str)), None)
        if bad is not None:
            raise DataError(source, f"{split}: {kind} of row {bad} (id {data.ids[bad]!r}) is {type(values[bad]).__name__}, not str")
    labels = data.labels
    if not isinstance(labels, np.ndarray) or labels.dtype != np.float32 or labels.shape != (n,):
        found = f"{labels.dtype} {labels.shape}" if isinstance(labels, np.ndarray) else type(labels).__name__
        raise DataError(source, f"{split}: labels must be a float32 array of shape ({n},), found {found}")
    for name in MODALITIES:
        sequences = data.modality(name)
        if sequences is not None:
            _check_sequences(sequences, data.ids, split, source, name)


def _check_sequences(seq: Sequences, ids: list[str], split: str, source: str, name: str) -> None:
    n = len(ids)
    features, lengths = seq.features, seq.lengths
    if not isinstance(features, np.ndarray) or features.dtype != np.float32 or features.ndim != 3:
        found = f"{features.dtype} {features.shape}" if isinstance(features, np.ndarray) else type(features).__name__
        raise DataError(source, f"{split}: {name} features must be a 3-D float32 array, found {found}")
    if features.shape[0] != n:
        raise DataError(source, f"{split}: {name} has {features.shape[0]} samples but the split has {n} ids")
    if not isinstance(lengths, np.ndarray) or lengths.dtype != np.int64 or lengths.shape != (n,):
        found = f"{lengths.dtype} {lengths.shape}" if isinstance(lengths, np.ndarray) else type(lengths).__name__
        raise DataError(source, f"{split}: {name} lengths must be an int64 array of shape ({n},), found {found}")
    outside = np.flatnonzero((lengths < 0) | (lengths > features.shape[1]))
    if outside.size:
        i = int(outside[0])
        raise DataError(source, f"{split}: {name} length {lengths[i]} of id {ids[i]!r} is outside [0, {features.shape[1]}]")


def _check_modalities(ds: MSADataset, source: str) -> None:
    """The same modalities, with the same feature sizes, in every split."""
    reference = {name: seq.dim for name in MODALITIES if (seq := ds.splits[SPLITS[0]].modality(name)) is not None}
    for split in SPLITS[1:]:
        found = {name: seq.dim for name in MODALITIES if (seq := ds.splits[split].modality(name)) is not None}
        if found != reference:
            raise DataError(source, f"{split}: modalities and feature sizes {found} differ from {SPLITS[0]}'s {reference}")


def _zero_non_finite(ds: MSADataset, seq: Sequences, name: str, split: str) -> None:
    """Replace NaN and +-inf features by 0, logging and noting how many there were."""
    count = sum(int(np.count_nonzero(~np.isfinite(seq.features[rows]))) for rows in row_chunks(len(seq.features)))
    if count == 0:
        return
    if not seq.features.flags.writeable:
        seq.features = seq.features.copy()
    for rows in row_chunks(len(seq.features)):
        block = seq.features[rows]
        block[~np.isfinite(block)] = 0.0
    message = f"{name}: replaced {count} non-finite values with 0 in {split}"
    logger.warning(message)
    ds.notes.append(message)


def _check_padding(seq: Sequences, ids: list[str], split: str, source: str, name: str) -> None:
    """Every frame past a sample's length is all zeros (right padding)."""
    positions = np.arange(seq.max_len)
    for rows in row_chunks(len(seq.features)):
        past_end = positions[None, :] >= seq.lengths[rows, None]
        nonzero_padding = np.any(seq.features[rows] != 0, axis=2) & past_end
        bad = np.flatnonzero(nonzero_padding.any(axis=1))
        if bad.size:
            i = rows.start + int(bad[0])
            raise DataError(
                source,
                f"{split}: {name} of id {ids[i]!r} has non-zero frames past its length {seq.lengths[i]} "
                "(readers must return right-padded sequences)",
            )


def _check_labels(data: SplitData, split: str, source: str) -> None:
    """Labels finite and inside `LABEL_RANGE` up to `LABEL_TOLERANCE`, then clipped into it."""
    low, high = LABEL_RANGE
    labels = data.labels
    bad = np.flatnonzero(~np.isfinite(labels) | (labels < low - LABEL_TOLERANCE) | (labels > high + LABEL_TOLERANCE))
    if bad.size:
        i = int(bad[0])
        raise DataError(source, f"{split}: label {float(labels[i]):g} of id {data.ids[i]!r} is not a number in [{low:g}, {high:g}]")
    if np.any((labels < low) | (labels > high)):
        data.labels = np.clip(labels, low, high).astype(np.float32)


def _check_ids(ids: list[str], split: str, source: str, seen: dict[str, str]) -> None:
    """Ids unique within the split and across the splits checked before it; records them in `seen`."""
    for sample_id in ids:
        if sample_id in seen:
            where = "twice in this split" if seen[sample_id] == split else f"also in {seen[sample_id]}"
            raise DataError(source, f"{split}: id {sample_id!r} occurs {where}")
        seen[sample_id] = split
