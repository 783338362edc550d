"""The MMIM release: a folder with `train.pkl`, `dev.pkl` and `test.pkl`.

Each file is a list of samples `((words, visual, acoustic, actual_words, vlen, alen), label, id)`:
`visual` (vlen, dv) and `acoustic` (alen, da) are unpadded frame arrays, `actual_words` is the
transcript as a list of words, `label` a (1, 1) array and `id` a string. `words` is not used.
`dev` becomes `valid`; each split is right-padded to its own longest sequence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hscl.data.readers._common import SPLIT_ALIASES, numeric_array, to_text
from hscl.data.safe_pickle import load_pickle
from hscl.data.types import MSADataset, Sequences, SplitData
from hscl.errors import DataError

SPLIT_FILES: tuple[str, ...] = ("train.pkl", "dev.pkl", "test.pkl")


def detect(path: str | Path) -> bool:
    """True for a folder holding `train.pkl`, `dev.pkl` and `test.pkl` (or one of those files)."""
    folder = _folder(Path(path))
    return folder.is_dir() and all((folder / name).is_file() for name in SPLIT_FILES)


def read(path: str | Path) -> MSADataset:
    """Read an MMIM folder (or one of its three pickles) into an `MSADataset`."""
    folder = _folder(Path(path))
    missing = [name for name in SPLIT_FILES if not (folder / name).is_file()]
    if missing:
        raise DataError(folder, f"missing {missing}; an MMIM folder holds {list(SPLIT_FILES)}")
    splits = {SPLIT_ALIASES[name.removesuffix(".pkl")]: _read_split(folder / name) for name in SPLIT_FILES}
    return MSADataset(splits=splits, source=str(folder), format="mmim")


def _folder(path: Path) -> Path:
    return path.parent if path.is_file() and path.name in SPLIT_FILES else path


def _read_split(path: Path) -> SplitData:
    samples = load_pickle(path)
    if not isinstance(samples, (list, tuple)):
        raise DataError(path, f"expected a list of samples, found {type(samples).__name__}")
    ids, texts, labels, visual, acoustic = [], [], [], [], []
    for index, sample in enumerate(samples):
        sample_id, text, label, vis, aco = _read_sample(sample, path, f"sample {index}")
        ids.append(sample_id)
        texts.append(text)
        labels.append(label)
        visual.append(vis)
        acoustic.append(aco)
    return SplitData(
        ids=ids,
        texts=texts,
        labels=np.array(labels, dtype=np.float32),
        audio=Sequences.from_frames(acoustic, _common_dim(acoustic, ids, path, "acoustic")),
        visual=Sequences.from_frames(visual, _common_dim(visual, ids, path, "visual")),
    )


def _read_sample(sample: Any, path: Path, where: str) -> tuple[str, str, float, np.ndarray, np.ndarray]:
    """(id, text, label, visual, acoustic) of one sample, each checked."""
    if not isinstance(sample, (tuple, list)) or len(sample) != 3:
        raise DataError(path, f"{where}: expected ((words, visual, acoustic, actual_words, vlen, alen), label, id)")
    features, label, raw_id = sample
    sample_id = to_text(raw_id, path, f"{where}.id")
    where = f"{where} (id {sample_id!r})"
    if not isinstance(features, (tuple, list)) or len(features) != 6:
        raise DataError(path, f"{where}: expected 6 fields (words, visual, acoustic, actual_words, vlen, alen)")
    _, visual, acoustic, words, vlen, alen = features
    visual = numeric_array(visual, path, f"{where}.visual", ndim=2)
    acoustic = numeric_array(acoustic, path, f"{where}.acoustic", ndim=2)
    for name, frames, length in (("vlen", visual, vlen), ("alen", acoustic, alen)):
        if not isinstance(length, (int, np.integer)):
            raise DataError(path, f"{where}: {name} must be an integer, found {type(length).__name__}")
        if length != frames.shape[0]:
            raise DataError(path, f"{where}: {name} is {length} but the array has {frames.shape[0]} frames")
    if not isinstance(words, (list, tuple, np.ndarray)):
        raise DataError(path, f"{where}.actual_words: expected a list of words, found {type(words).__name__}")
    text = " ".join(to_text(word, path, f"{where}.actual_words") for word in words)
    label_array = numeric_array(label, path, f"{where}.label", ndim=None)
    if label_array.size != 1:
        raise DataError(path, f"{where}.label: expected one number, found shape {label_array.shape}")
    return sample_id, text, float(label_array.reshape(())), visual, acoustic


def _common_dim(frames: list[np.ndarray], ids: list[str], path: Path, name: str) -> int:
    """The feature size shared by every sample of a split; a `DataError` naming the first that differs."""
    if not frames:
        return 0
    dim = frames[0].shape[1]
    for sample_id, sample in zip(ids, frames):
        if sample.shape[1] != dim:
            raise DataError(
                path, f"id {sample_id!r}: {name} has {sample.shape[1]} features but earlier samples have {dim}"
            )
    return dim
