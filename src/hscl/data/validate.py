"""The checks every dataset passes after reading, whatever its format.

`validate_dataset` raises `DataError(source, "<split>: <problem>")` for anything a reader got wrong or
a file got wrong, naming the first offending id where there is one (and, for feature values, the
modality's own file where the reader recorded one). It changes data in two documented ways only:
sparse non-finite feature values become 0 (counted, logged and noted in `ds.notes`), and labels
within `LABEL_RANGE_SLACK` outside `LABEL_RANGE` are clipped into it (a new labels array).

It refuses what would train silently on nothing or overflow: a modality of a split whose real frames
(within each sample's length) hold more than `NON_FINITE_LIMIT` NaN or infinite values, finite
feature values beyond +-`FEATURE_MAGNITUDE_LIMIT`, and valid or test splits of fewer than
`MIN_EVAL_SAMPLES` samples (their Pearson correlation is undefined).
"""

from __future__ import annotations

import logging

import numpy as np

from hscl.data.types import LABEL_RANGE, MODALITIES, SPLITS, MSADataset, Sequences, SplitData, row_chunks
from hscl.errors import DataError

logger = logging.getLogger("hscl.data")

LABEL_RANGE_SLACK = 1e-4
"""Labels at most this far outside `LABEL_RANGE` are rounding, clipped into it; further out is an error."""
NON_FINITE_LIMIT = 0.5
"""Largest share of NaN or infinite values among a modality's real frames in a split that is zeroed
rather than refused. Public releases hold a few -inf frames (MulT/MMSA audio); all-NaN is broken data."""
FEATURE_MAGNITUDE_LIMIT = 1e6
"""Largest |feature value| accepted. Real features stay far below it (MOSI openSMILE audio.npy: 376;
its video.npy: 198; the synthetic set: 5.6); 1e30 overflows float32 as soon as the model squares it."""
MIN_EVAL_SAMPLES = 2
"""Fewest samples in the valid and test splits: Pearson correlation needs two."""


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
                _check_values(ds, sequences, data.ids, name, split)
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
    if split != "train" and n < MIN_EVAL_SAMPLES:
        raise DataError(
            source,
            f"{split}: {n} sample; {split} needs at least {MIN_EVAL_SAMPLES} (correlation is undefined for fewer)",
        )
    if len(data.texts) != n:
        raise DataError(source, f"{split}: {n} ids but {len(data.texts)} texts")
    for kind, values in (("id", data.ids), ("text", data.texts)):
        bad = next((i for i, value in enumerate(values) if not isinstance(value, str)), None)
        if bad is not None:
            raise DataError(
                source, f"{split}: {kind} of row {bad} (id {data.ids[bad]!r}) is {type(values[bad]).__name__}, not str"
            )
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
        raise DataError(
            source, f"{split}: {name} length {lengths[i]} of id {ids[i]!r} is outside [0, {features.shape[1]}]"
        )


def _check_modalities(ds: MSADataset, source: str) -> None:
    """The same modalities, with the same feature sizes, in every split."""
    reference = {name: seq.dim for name in MODALITIES if (seq := ds.splits[SPLITS[0]].modality(name)) is not None}
    for split in SPLITS[1:]:
        found = {name: seq.dim for name in MODALITIES if (seq := ds.splits[split].modality(name)) is not None}
        if found != reference:
            raise DataError(
                source, f"{split}: modalities and feature sizes {found} differ from {SPLITS[0]}'s {reference}"
            )


def _check_values(ds: MSADataset, seq: Sequences, ids: list[str], name: str, split: str) -> None:
    """Refuse mostly non-finite or oversized features; replace sparse NaN and +-inf by 0, noting how many."""
    where = ds.feature_files.get(name) or ds.source or "<dataset>"
    positions = np.arange(seq.max_len)
    count = real_count = 0
    oversized: tuple[int, float] | None = None  # (row, largest finite magnitude) of the first sample over the limit
    for rows in row_chunks(len(seq.features)):
        block = seq.features[rows]
        bad = ~np.isfinite(block)
        count += int(np.count_nonzero(bad))
        real_count += int(np.count_nonzero(bad & (positions[None, :] < seq.lengths[rows, None])[:, :, None]))
        magnitude = np.max(np.abs(block), axis=(1, 2), where=~bad, initial=0.0)
        over = np.flatnonzero(magnitude > FEATURE_MAGNITUDE_LIMIT)
        if oversized is None and over.size:
            oversized = (rows.start + int(over[0]), float(magnitude[over[0]]))
    real_values = int(seq.lengths.sum()) * seq.dim
    if real_values and real_count > NON_FINITE_LIMIT * real_values:
        raise DataError(
            where,
            f"{split}: {name}: {real_count} of {real_values} feature values "
            f"({real_count / real_values:.0%}) are NaN or infinite; at most "
            f"{NON_FINITE_LIMIT:.0%} are replaced by 0, this is no usable data",
        )
    if oversized is not None:
        row, value = oversized
        raise DataError(
            where,
            f"{split}: {name} of id {ids[row]!r} has a value of magnitude {value:.3g}; features must "
            f"lie within +-{FEATURE_MAGNITUDE_LIMIT:g} (real MOSI audio peaks at 376)",
        )
    if count:
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
    """Labels finite and inside `LABEL_RANGE` up to `LABEL_RANGE_SLACK`, then clipped into it."""
    low, high = LABEL_RANGE
    labels = data.labels
    bad = np.flatnonzero(
        ~np.isfinite(labels) | (labels < low - LABEL_RANGE_SLACK) | (labels > high + LABEL_RANGE_SLACK)
    )
    if bad.size:
        i = int(bad[0])
        raise DataError(
            source, f"{split}: label {float(labels[i]):g} of id {data.ids[i]!r} is not a number in [{low:g}, {high:g}]"
        )
    if np.any((labels < low) | (labels > high)):
        data.labels = np.clip(labels, low, high).astype(np.float32)


def _check_ids(ids: list[str], split: str, source: str, seen: dict[str, str]) -> None:
    """Ids unique within the split and across the splits checked before it; records them in `seen`."""
    for sample_id in ids:
        if sample_id in seen:
            where = "twice in this split" if seen[sample_id] == split else f"also in {seen[sample_id]}"
            raise DataError(source, f"{split}: id {sample_id!r} occurs {where}")
        seen[sample_id] = split
