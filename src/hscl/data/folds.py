"""Fold files: which videos make up train, valid and test; the standard CMU-MOSI and CMU-MOSEI folds ship as data.

A fold file is a JSON object with three lists of video ids, `train`, `valid` and `test`, and optionally
the strings `dataset` and `source`. The shipped files (`hscl/data/folds/{mosi,mosei}.json`) are the
CMU-MultimodalSDK's standard folds, copied as facts: MOSI 52 / 10 / 31 videos, MOSEI 2249 / 300 / 678
(the PyPI copy of the SDK, `cmu-multimodal-sdk` 0.0.6, lists one more train video, `-NFrJFQijFE`,
which the current SDK removed; a release that has it leaves it in no fold, which the reader notes).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from hscl.data.types import SPLITS
from hscl.errors import DataError

STANDARD_FOLDS: tuple[str, ...] = ("mosi", "mosei")
_OPTIONAL_FIELDS: tuple[str, ...] = ("dataset", "source")


def standard_folds(name: str) -> dict[str, list[str]]:
    """The shipped standard folds of `mosi` or `mosei`: split -> video ids."""
    if name not in STANDARD_FOLDS:
        raise ValueError(f"no standard folds for {name!r}; shipped: {STANDARD_FOLDS}")
    source = resources.files("hscl.data").joinpath("folds").joinpath(f"{name}.json")
    return parse_folds(json.loads(source.read_text(encoding="utf-8")), f"hscl/data/folds/{name}.json")


def read_fold_file(path: str | Path) -> dict[str, list[str]]:
    """A user's fold file, checked: split -> video ids."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such fold file (expected JSON with lists 'train', 'valid' and 'test' of video ids)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(path, f"not valid UTF-8 JSON: {error}") from error
    return parse_folds(raw, path)


def parse_folds(raw: Any, where: str | Path) -> dict[str, list[str]]:
    """Check the shape of a fold object: the three splits, non-empty lists of distinct strings, no video twice."""
    if not isinstance(raw, dict):
        raise DataError(where, f"expected a JSON object with keys {list(SPLITS)}, found {type(raw).__name__}")
    unknown = sorted(set(raw) - set(SPLITS) - set(_OPTIONAL_FIELDS))
    missing = [split for split in SPLITS if split not in raw]
    if unknown or missing:
        problem = f"missing {missing}" if missing else f"unknown keys {unknown}"
        raise DataError(where, f"{problem}; a fold file has {list(SPLITS)} and optionally {list(_OPTIONAL_FIELDS)}")
    not_text = [field for field in _OPTIONAL_FIELDS if field in raw and not isinstance(raw[field], str)]
    if not_text:
        raise DataError(where, f"{not_text[0]!r} must be a string")
    folds: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for split in SPLITS:
        videos = raw[split]
        if not isinstance(videos, list) or not videos or not all(isinstance(v, str) and v for v in videos):
            raise DataError(where, f"{split!r} must be a non-empty list of video ids (non-empty strings)")
        for video in videos:
            if video in seen:
                place = "twice" if seen[video] == split else f"in both {seen[video]!r} and {split!r}"
                raise DataError(where, f"video {video!r} is listed {place}")
            seen[video] = split
        folds[split] = list(videos)
    return folds
