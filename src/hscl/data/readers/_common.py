"""Small helpers the readers share: checked key and array access, text decoding, padding.

Every check raises `DataError(path, "<where>: <problem>")`, where `where` names the split and key
(for example `"train.audio"`), so a reader needs no error handling of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hscl.data.types import Sequences, row_chunks
from hscl.errors import DataError

SPLIT_ALIASES: dict[str, str] = {"train": "train", "valid": "valid", "dev": "valid", "test": "test"}
"""Split names found on disk, mapped to the names `MSADataset` uses."""


def find_one(path: Path, names: list[str]) -> Path:
    """`path` itself if it is a file, else the one file of `names` inside the folder `path`."""
    if path.is_file():
        return path
    found = [path / name for name in names if (path / name).is_file()]
    if len(found) != 1:
        what = "none" if not found else "several"
        raise DataError(path, f"expected exactly one of {names} in this folder, found {what}; pass the file itself")
    return found[0]


def get_key(mapping: Any, key: str, path: Path, where: str) -> Any:
    """`mapping[key]`; a `DataError` if `mapping` is not a dict or lacks `key`."""
    if not isinstance(mapping, Mapping):
        raise DataError(path, f"{where}: expected a dict, found {type(mapping).__name__}")
    if key not in mapping:
        raise DataError(path, f"{where}: missing key {key!r}; found {sorted(map(str, mapping))}")
    return mapping[key]


def as_array(value: Any, path: Path, where: str) -> np.ndarray:
    """`np.asarray(value)`; a `DataError` where numpy cannot make one array of it (ragged nested lists)."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise DataError(path, f"{where}: not an array ({exc})") from exc


def numeric_array(value: Any, path: Path, where: str, ndim: int | None, rows: int | None = None) -> np.ndarray:
    """`value` as a numeric (bool, int or float) array with, where given, `ndim` axes and `rows` rows."""
    array = as_array(value, path, where)
    if array.dtype.kind not in "biuf":
        raise DataError(path, f"{where}: expected numbers, found dtype {array.dtype}")
    if ndim is not None and array.ndim != ndim:
        raise DataError(path, f"{where}: expected {ndim} dimensions, found shape {array.shape}")
    if rows is not None and (array.ndim == 0 or array.shape[0] != rows):
        raise DataError(path, f"{where}: has shape {array.shape} but the split has {rows} samples")
    return array


def label_vector(value: Any, path: Path, where: str, rows: int) -> np.ndarray:
    """(rows,) float32 labels from an array holding one number per sample, e.g. shaped (N,) or (N, 1, 1)."""
    array = numeric_array(value, path, where, ndim=None, rows=rows)
    if array.size != rows:
        raise DataError(path, f"{where}: expected one label per sample, found shape {array.shape}")
    return array.reshape(rows).astype(np.float32)


def writable_float32(array: np.ndarray) -> np.ndarray:
    """`array` as a writable float32 array, copying only when needed."""
    out = array.astype(np.float32, copy=False)
    return out if out.flags.writeable else out.copy()


def to_text(value: Any, path: Path, where: str) -> str:
    """A `str` or UTF-8 `bytes` value as `str`."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(path, f"{where}: bytes are not UTF-8 text ({exc})") from exc
    if isinstance(value, str):
        return str(value)
    raise DataError(path, f"{where}: expected text, found {type(value).__name__}")


def real_frames(features: np.ndarray) -> np.ndarray:
    """(N, L) bool: True where a frame has any value that is not exactly zero (NaN and inf count as real)."""
    real = np.empty(features.shape[:2], dtype=bool)
    for rows in row_chunks(features.shape[0]):
        real[rows] = np.any(features[rows] != 0, axis=2)
    return real


def lengths_from_trailing_zeros(features: np.ndarray) -> np.ndarray:
    """(N,) int64 lengths of right-padded sequences: frames up to the last real frame."""
    real = real_frames(features)
    last_from_end = np.argmax(real[:, ::-1], axis=1)
    return np.where(real.any(axis=1), features.shape[1] - last_from_end, 0).astype(np.int64)


def left_to_right_padded(features: np.ndarray) -> Sequences:
    """Left-padded (N, L, d) features as right-padded `Sequences`; works in place on a float32 copy.

    A sample's padding is its run of leading frames that are all exactly zero.
    """
    features = writable_float32(features)
    real = real_frames(features)
    first_real = np.argmax(real, axis=1)
    max_len = features.shape[1]
    lengths = np.where(real.any(axis=1), max_len - first_real, 0).astype(np.int64)
    for i, length in enumerate(lengths):
        if length < max_len:
            features[i, :length] = features[i, max_len - length :]
            features[i, length:] = 0.0
    return Sequences(features, lengths)
