"""Pick the reader for a path (by name or by detection), read it, validate it."""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from hscl.data.readers import converted, mmim, mmsa, mult, synthetic, utterance
from hscl.data.types import MSADataset
from hscl.data.validate import validate_dataset
from hscl.errors import DataError

if TYPE_CHECKING:
    from hscl.config import DataConfig

Reader = Callable[..., MSADataset]

READERS: dict[str, Reader] = {
    "mult": mult.read,
    "mmim": mmim.read,
    "mmsa": mmsa.read,
    "utterance": utterance.read,
    "converted": converted.read,
    "synthetic": synthetic.read,
}

# Detection order matters only for documentation: each detector recognises its own layout alone.
DETECTORS: dict[str, Callable[[Path], bool]] = {
    "converted": converted.detect,
    "utterance": utterance.detect,
    "mmim": mmim.detect,
    "mmsa": mmsa.detect,
    "mult": mult.detect,
}


def detect_format(path: str | Path) -> str:
    """The one format whose layout `path` matches; a `DataError` if none or several match."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such file or directory")
    matches = [name for name, detect in DETECTORS.items() if detect(path)]
    if len(matches) != 1:
        found = "no known layout" if not matches else f"several layouts ({', '.join(matches)})"
        raise DataError(path, f"{found}; pass format= one of {sorted(READERS)}")
    return matches[0]


def load_dataset(path: str | Path | None = None, format: str | None = None, **options: Any) -> MSADataset:
    """Read a dataset in any supported format and validate it.

    `format=None` detects it from the path; `format="synthetic"` needs no path. Reader-specific
    `options` (for example `audio_file=` for `utterance`) are passed through.
    """
    if format is None:
        if path is None:
            raise DataError("<none>", "no data path given and no format to generate")
        format = detect_format(path)
    if format not in READERS:
        raise DataError(path if path is not None else "<none>", f"unknown format {format!r}; expected one of {sorted(READERS)}")
    if format != "synthetic":
        if path is None:
            raise DataError("<none>", f"format {format!r} needs a data path")
        path = Path(path)
        if not path.exists():
            raise DataError(path, "no such file or directory")
    reader = READERS[format]
    _check_options(reader, format, options, path)
    dataset = reader(path, **options) if format != "synthetic" else reader(**options)
    return validate_dataset(dataset)


def load_data(config: DataConfig) -> MSADataset:
    """The dataset a run's data config names (path, format and reader options)."""
    return load_dataset(config.path, config.format, **config.options)


def _check_options(reader: Reader, format: str, options: dict[str, Any], path: str | Path | None) -> None:
    """A `DataError` listing the accepted options when `options` holds one the reader does not take."""
    parameters = inspect.signature(reader).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [name for name in parameters if name != "path"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DataError(path if path is not None else "<none>",
                        f"format {format!r} takes no option(s) {unknown}; accepted: {accepted or 'none'}")
