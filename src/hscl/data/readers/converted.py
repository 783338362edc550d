"""Reader for hscl's own converted format: a safe (pickle-free), fast, exact copy of an `MSADataset`.

Layout of a converted folder (written by `hscl.data.convert.write_converted`)::

    hscl_dataset.json   format version, source, format, notes, split sizes, modalities, feature sizes
    train.npz           labels (N,) float32; per modality <m>_frames (sum of lengths, d) float32,
    valid.npz             <m>_lengths (N,) int64, unpadded: sample i's real frames, concatenated
    test.npz
    texts.csv           split, id, text (UTF-8, one row per sample, in split order)

Arrays are loaded with `allow_pickle=False` and re-padded on the right to the recorded padded length.
The manifest may hold more fields, which this reader ignores, except `labelled` (default true): `hscl
extract` writes false for data without labels (all samples in test, labels NaN), read only on request.
"""

from __future__ import annotations

import csv
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hscl.data.types import MODALITIES, SPLITS, MSADataset, Sequences, SplitData
from hscl.errors import DataError
from hscl.files import file_problem

MANIFEST_FILE = "hscl_dataset.json"
TEXTS_FILE = "texts.csv"
TEXT_COLUMNS = ("split", "id", "text")
FORMAT_VERSION = 1
EXTRACTION_FIELD = "extraction"  # written by `hscl extract`: its settings, package versions, feature names, counts


@dataclass
class Manifest:
    """The parsed `hscl_dataset.json`."""

    source: str
    format: str
    notes: list[str]
    sizes: dict[str, int]  # split -> number of samples
    max_lens: dict[str, dict[str, int]]  # split -> modality -> padded length L
    dims: dict[str, int]  # modality -> feature size d
    labelled: bool = True  # False: extracted without labels; every sample is in test, labels are NaN
    extraction: dict[str, Any] | None = None  # how `hscl extract` made the features (None for converted data)


def detect(path: str | Path) -> bool:
    """True for a folder holding `hscl_dataset.json`."""
    path = Path(path)
    return path.is_dir() and (path / MANIFEST_FILE).is_file()


def split_file(split: str) -> str:
    """The array file of one split."""
    return f"{split}.npz"


def read(path: str | Path, allow_unlabelled: bool = False) -> MSADataset:
    """Read a converted folder; every array, text and note comes back exactly as written.

    A dataset written without labels (`"labelled": false`, by `hscl extract`) serves prediction only
    and is refused unless `allow_unlabelled`.
    """
    folder = Path(path)
    manifest = read_manifest(folder / MANIFEST_FILE)
    if not manifest.labelled and not allow_unlabelled:
        raise DataError(
            folder,
            "has no labels (`hscl extract` was given no label for its utterances): it serves "
            "`hscl predict --data` only; add label and split columns to train or evaluate on it",
        )
    texts = _read_texts(folder / TEXTS_FILE, manifest.sizes)
    splits = {split: _read_split(folder / split_file(split), manifest, split, *texts[split]) for split in SPLITS}
    notes = [*manifest.notes, f"converted from {manifest.format!r} data at {manifest.source}"]
    return MSADataset(
        splits=splits, source=str(folder), format="converted", notes=notes, extraction=manifest.extraction
    )


def read_manifest(path: Path) -> Manifest:
    """Parse and check `hscl_dataset.json`."""
    if problem := file_problem(path):
        raise DataError(path, f"{problem}; not a converted hscl dataset")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(path, f"not valid UTF-8 JSON: {error}") from error
    if not isinstance(raw, dict):
        raise DataError(path, "expected a JSON object")
    version = _field(raw, "format_version", int, path)
    if version != FORMAT_VERSION:
        raise DataError(path, f"format_version {version} is not supported (this hscl reads {FORMAT_VERSION})")
    modalities = _field(raw, "modalities", list, path)
    if not set(modalities) <= set(MODALITIES) or len(set(modalities)) != len(modalities):
        raise DataError(path, f"modalities {modalities} must be distinct names from {MODALITIES}")
    dims = _field(raw, "dims", dict, path)
    splits = _field(raw, "splits", dict, path)
    if sorted(splits) != sorted(SPLITS):
        raise DataError(path, f"splits {sorted(splits)} must be exactly {list(SPLITS)}")
    notes = _field(raw, "notes", list, path)
    if sorted(dims) != sorted(modalities) or not all(_is_count(dims[m]) and dims[m] > 0 for m in modalities):
        raise DataError(path, f"dims {dims} must give a positive size for each of {modalities}")
    if not all(isinstance(note, str) for note in notes):
        raise DataError(path, "notes must be strings")
    sizes, max_lens = {}, {}
    for split in SPLITS:
        entry = splits[split]
        if (
            not isinstance(entry, dict)
            or not _is_count(entry.get("size"))
            or not isinstance(entry.get("max_len"), dict)
        ):
            raise DataError(path, f"splits.{split} must hold an integer 'size' and a 'max_len' object")
        sizes[split] = entry["size"]
        max_lens[split] = entry["max_len"]
        if sorted(max_lens[split]) != sorted(modalities) or not all(_is_count(v) for v in max_lens[split].values()):
            raise DataError(path, f"splits.{split}.max_len must give a length for each of {modalities}")
    return Manifest(
        source=_field(raw, "source", str, path),
        format=_field(raw, "format", str, path),
        notes=list(notes),
        sizes=sizes,
        max_lens=max_lens,
        dims={m: dims[m] for m in modalities},
        labelled=_labelled(raw, path),
        extraction=_extraction(raw, path),
    )


def _extraction(raw: dict[str, Any], path: Path) -> dict[str, Any] | None:
    value = raw.get(EXTRACTION_FIELD)
    if value is not None and not isinstance(value, dict):
        raise DataError(path, f"field {EXTRACTION_FIELD!r} must be an object")
    return value


def _labelled(raw: dict[str, Any], path: Path) -> bool:
    value = raw.get("labelled", True)
    if not isinstance(value, bool):
        raise DataError(path, f"field 'labelled' must be true or false, found {value!r}")
    return value


def _field(raw: dict[str, Any], key: str, kind: type, path: Path) -> Any:
    if key not in raw:
        raise DataError(path, f"missing field {key!r}")
    value = raw[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DataError(path, f"field {key!r} must be of type {kind.__name__}, found {type(value).__name__}")
    return value


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _read_texts(path: Path, sizes: dict[str, int]) -> dict[str, tuple[list[str], list[str]]]:
    """Ids and texts of each split, in file order; counts must match the manifest."""
    if problem := file_problem(path):
        raise DataError(path, problem)
    columns: dict[str, tuple[list[str], list[str]]] = {split: ([], []) for split in SPLITS}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or tuple(header) != TEXT_COLUMNS:
                raise DataError(path, f"header must be {list(TEXT_COLUMNS)}, found {header}")
            for record in reader:
                if len(record) != len(TEXT_COLUMNS) or record[0] not in columns:
                    raise DataError(
                        path, f"line {reader.line_num}: expected (split, id, text) with a known split, found {record}"
                    )
                columns[record[0]][0].append(record[1])
                columns[record[0]][1].append(record[2])
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(path, f"cannot parse as UTF-8 CSV: {error}") from error
    for split, (ids, _) in columns.items():
        if len(ids) != sizes[split]:
            raise DataError(path, f"{split} has {len(ids)} rows but {MANIFEST_FILE} says {sizes[split]}")
    return columns


def _read_split(path: Path, manifest: Manifest, split: str, ids: list[str], texts: list[str]) -> SplitData:
    """One split's arrays, checked against the manifest, with sequences re-padded."""
    n = manifest.sizes[split]
    if problem := file_problem(path):
        raise DataError(path, problem)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(path, f"not a readable .npz archive (truncated or corrupt?): {error}") from error
    labels = _array(arrays, "labels", np.float32, (n,), path)
    sequences: dict[str, Sequences | None] = {name: None for name in MODALITIES}
    for name, dim in manifest.dims.items():
        lengths = _array(arrays, f"{name}_lengths", np.int64, (n,), path)
        max_len = manifest.max_lens[split][name]
        if np.any((lengths < 0) | (lengths > max_len)):
            raise DataError(path, f"{name}_lengths has values outside [0, {max_len}]")
        frames = _array(arrays, f"{name}_frames", np.float32, (int(lengths.sum()), dim), path)
        sequences[name] = pad_frames(frames, lengths, max_len)
    return SplitData(ids=ids, texts=texts, labels=labels, audio=sequences["audio"], visual=sequences["visual"])


def _array(arrays: dict[str, np.ndarray], key: str, dtype: type, shape: tuple[int, ...], path: Path) -> np.ndarray:
    if key not in arrays:
        raise DataError(path, f"missing array {key!r}; found {sorted(arrays)}")
    array = arrays[key]
    if array.dtype != dtype or array.shape != shape:
        raise DataError(path, f"array {key!r} is {array.dtype} {array.shape}; expected {np.dtype(dtype)} {shape}")
    return array


def pad_frames(frames: np.ndarray, lengths: np.ndarray, max_len: int) -> Sequences:
    """Concatenated real frames `(sum(lengths), d)` as right-padded `Sequences` of length `max_len`."""
    features = np.zeros((len(lengths), max_len, frames.shape[1]), dtype=frames.dtype)
    features[real_positions(lengths, max_len)] = frames
    return Sequences(features, lengths)


def real_positions(lengths: np.ndarray, max_len: int) -> np.ndarray:
    """(N, max_len) bool, True on each sample's first `lengths[i]` positions."""
    return np.arange(max_len)[None, :] < lengths[:, None]
