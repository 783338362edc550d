"""Write any `MSADataset` in the converted format, and describe a dataset in a readable report."""

from __future__ import annotations

import csv
import json
from itertools import combinations
from pathlib import Path

import numpy as np

from hscl.data.readers.converted import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    TEXT_COLUMNS,
    TEXTS_FILE,
    detect,
    real_positions,
    split_file,
)
from hscl.data.types import LABEL_RANGE, MODALITIES, SPLITS, MSADataset, Sequences
from hscl.errors import DataError
from hscl.files import check_output_folder, open_atomic, write_text
from hscl.metrics import SENTIMENT_CLASSES, sentiment_class_index


def write_converted(
    ds: MSADataset, out_dir: str | Path, manifest_extra: dict | None = None, keep: frozenset[str] = frozenset()
) -> Path:
    """Write `ds` to `out_dir` in the converted format and return the folder.

    `out_dir` must be new, empty (but for the entries named in `keep`, which a caller stores next to
    the dataset), or an existing converted dataset (which is replaced). `manifest_extra` adds fields
    to the manifest (readers ignore fields they do not know). The manifest is written last, so an
    interrupted write never looks like a complete dataset.
    """
    out = Path(out_dir)
    _check_dataset(ds)
    check_writable(out, keep)
    arrays = {split: _split_arrays(ds, split) for split in SPLITS}  # checks padding before writing
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_FILE).unlink(missing_ok=True)
    for split in SPLITS:
        with open_atomic(out / split_file(split), binary=True) as handle:
            np.savez(handle, **arrays[split])
    _write_texts(out / TEXTS_FILE, ds)
    manifest = {
        "format_version": FORMAT_VERSION,
        "source": ds.source,
        "format": ds.format,
        "notes": list(ds.notes),
        "splits": {split: _split_entry(ds, split) for split in SPLITS},
        "modalities": list(ds.modalities),
        "dims": {name: ds.feature_dim(name) for name in ds.modalities},
    }
    clashing = sorted(set(manifest) & set(manifest_extra or {}))
    if clashing:
        raise ValueError(f"manifest_extra may not replace the format's own fields {clashing}")
    manifest |= manifest_extra or {}
    write_text(out / MANIFEST_FILE, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return out


def _split_entry(ds: MSADataset, split: str) -> dict:
    """The manifest entry of one split: its size and each modality's padded length."""
    data = ds.splits[split]
    return {"size": len(data), "max_len": {name: data.modality(name).max_len for name in ds.modalities}}


def _split_arrays(ds: MSADataset, split: str) -> dict[str, np.ndarray]:
    """The arrays stored for one split: labels, and per modality unpadded frames and lengths."""
    data = ds.splits[split]
    arrays = {"labels": data.labels}
    for name in ds.modalities:
        sequences = data.modality(name)
        arrays[f"{name}_frames"] = unpadded_frames(sequences, ds.source, f"{split}.{name}")
        arrays[f"{name}_lengths"] = sequences.lengths
    return arrays


def unpadded_frames(sequences: Sequences, source: str, where: str) -> np.ndarray:
    """Each sample's real frames, concatenated `(sum(lengths), d)`; padding must be all zeros."""
    real = real_positions(sequences.lengths, sequences.max_len)
    if np.any(sequences.features[~real] != 0):
        raise DataError(source, f"{where}: non-zero frames past a sample's length would be lost on conversion")
    return sequences.features[real]


def check_writable(out: Path, keep: frozenset[str] = frozenset()) -> None:
    """A `DataError` (or `HSCLError`) unless `out` is a folder `write_converted` may write: new, empty (but for
    the entries in `keep`), or a converted dataset, and writable."""
    if out.exists() and not out.is_dir():
        raise DataError(out, "exists and is not a folder")
    if out.is_dir() and any(p.name not in keep for p in out.iterdir()) and not detect(out):
        raise DataError(
            out,
            f"folder is not empty and holds no {MANIFEST_FILE}; refusing to overwrite it "
            "(choose a new or empty folder)",
        )
    check_output_folder(out)


def _check_dataset(ds: MSADataset) -> None:
    """The dtypes and structure the format stores exactly; anything else would be changed silently."""
    source = ds.source or "<dataset>"
    if sorted(ds.splits) != sorted(SPLITS):
        raise DataError(source, f"expected splits {list(SPLITS)}, found {sorted(ds.splits)}")
    modalities = ds.modalities
    for split in SPLITS:
        data = ds.splits[split]
        if data.labels.dtype != np.float32 or data.labels.shape != (len(data),):
            raise DataError(
                source,
                f"{split}: labels must be float32 of shape ({len(data)},), "
                f"found {data.labels.dtype} {data.labels.shape}",
            )
        present = tuple(name for name in MODALITIES if data.modality(name) is not None)
        if present != modalities:
            raise DataError(source, f"{split}: has modalities {present}, the first split has {modalities}")
        for name in modalities:
            seq = data.modality(name)
            if seq.features.dtype != np.float32 or seq.lengths.dtype != np.int64 or seq.features.ndim != 3:
                raise DataError(source, f"{split}.{name}: expected 3-D float32 features and int64 lengths")
            if seq.dim != ds.feature_dim(name) or len(seq.lengths) != len(data) or len(seq.features) != len(data):
                raise DataError(source, f"{split}.{name}: feature size or sample count differs from the rest")


def _write_texts(path: Path, ds: MSADataset) -> None:
    with open_atomic(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(TEXT_COLUMNS)
        for split in SPLITS:
            data = ds.splits[split]
            writer.writerows((split, sample_id, text) for sample_id, text in zip(data.ids, data.texts))


def inspect_dataset(ds: MSADataset) -> str:
    """A readable report: origin, split sizes, feature sizes, lengths, label histogram, problems, notes."""
    lines = [f"source: {ds.source}", f"format: {ds.format}"]
    lines.append(
        "modalities: " + ", ".join(["text"] + [f"{name} (d={ds.feature_dim(name)})" for name in ds.modalities])
    )
    lines.append("")
    lines.append(
        f"{'split':<6} {'samples':>8}  "
        + "  ".join(f"{name + ' len min/median/max (L)':>34}" for name in ds.modalities)
    )
    for split, data in ds.splits.items():
        cells = []
        for name in ds.modalities:
            seq = data.modality(name)
            if seq is None or len(seq.lengths) == 0:
                cells.append(f"{'absent' if seq is None else '-':>34}")
                continue
            lengths = seq.lengths
            cells.append(f"{f'{lengths.min()}/{np.median(lengths):g}/{lengths.max()} ({seq.max_len})':>34}")
        lines.append(f"{split:<6} {len(data):>8}  " + "  ".join(cells))
    lines.append("")
    unlabelled = all(np.isnan(data.labels).all() for data in ds.splits.values())
    if unlabelled:
        lines.append("labels: none (extracted without labels: the dataset serves `hscl predict --data` only)")
    else:
        lines.append("labels rounded to the 7 classes -3..3:")
        lines.append(f"{'split':<6} " + " ".join(f"{c:>6}" for c in SENTIMENT_CLASSES) + f" {'mean':>7} {'std':>6}")
        for split, data in ds.splits.items():
            counts = label_histogram(data.labels)
            stats = f" {data.labels.mean():>7.3f} {data.labels.std():>6.3f}" if len(data) else ""
            lines.append(f"{split:<6} " + " ".join(f"{c:>6}" for c in counts) + stats)
    problems = find_problems(ds, check_labels=not unlabelled)
    lines.append("")
    lines.append("problems:" if problems else "problems: none found")
    lines.extend(f"  - {problem}" for problem in problems)
    lines.append("notes:" if ds.notes else "notes: none")
    lines.extend(f"  - {note}" for note in ds.notes)
    return "\n".join(line.rstrip() for line in lines)


def label_histogram(labels: np.ndarray) -> list[int]:
    """Counts of labels in each class -3..3 after rounding (half to even) and clipping."""
    classes = sentiment_class_index(labels[np.isfinite(labels)])
    return np.bincount(classes, minlength=len(SENTIMENT_CLASSES)).tolist()


def find_problems(ds: MSADataset, check_labels: bool = True) -> list[str]:
    """Things in `ds` a user should know about: bad labels (unless `check_labels=False`: a dataset without them),
    empty texts or sequences, shared ids."""
    problems: list[str] = []
    low, high = LABEL_RANGE
    for split, data in ds.splits.items():
        labels = data.labels
        if check_labels and (n_bad := int(np.count_nonzero(~np.isfinite(labels) | (labels < low) | (labels > high)))):
            problems.append(f"{split}: {n_bad} labels are not finite numbers in [{low:g}, {high:g}]")
        if n_empty := sum(1 for text in data.texts if not text.strip()):
            problems.append(f"{split}: {n_empty} empty texts")
        for name in ds.modalities:
            seq = data.modality(name)
            if seq is None:
                problems.append(f"{split}: has no {name}, which the first split has")
                continue
            if n_zero := int(np.count_nonzero(seq.lengths == 0)):
                problems.append(f"{split}: {n_zero} samples have an empty {name} sequence")
            if n_non_finite := int(np.count_nonzero(~np.isfinite(seq.features))):
                problems.append(f"{split}: {n_non_finite} non-finite {name} values")
        if n_repeated := len(data.ids) - len(set(data.ids)):
            problems.append(f"{split}: {n_repeated} ids repeat an earlier id of the split")
    for (first, a), (second, b) in combinations(ds.splits.items(), 2):
        if n_shared := len(set(a.ids) & set(b.ids)):
            problems.append(f"{first} and {second} share {n_shared} ids")
    return problems
