"""Pick the reader for a path (by name or by detection), read it, validate it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hscl.data.readers import converted, csd, mmim, mmsa, mult, synthetic, utterance
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
    "csd": csd.read,
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
    "csd": csd.detect,
}


# The names that mark each layout in a folder, and whether it needs all of them or any one.
LAYOUT_FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "converted": ("all", (converted.MANIFEST_FILE,)),
    "utterance": ("all", (utterance.SEGMENTS_FILE,)),
    "mmim": ("all", mmim.SPLIT_FILES),
    "mmsa": ("any", mmsa.PICKLE_FILES),
    "mult": ("any", tuple(mult.PICKLE_TO_CSV)),
}


def detect_format(path: str | Path) -> str:
    """The one format whose layout `path` matches; a `DataError` if none or several match.

    When none matches but a folder holds some of a layout's names, the error says which of its files
    are missing or are not files.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such file or directory")
    matches = [name for name, detect in DETECTORS.items() if detect(path)]
    if len(matches) != 1:
        found = "no known layout" if not matches else f"several layouts ({', '.join(matches)})"
        hints = _layout_hints(path) if not matches else []
        found += f" ({'; '.join(hints)})" if hints else ""
        raise DataError(path, f"{found}; pass format= one of {sorted(READERS)}")
    return matches[0]


def _layout_hints(folder: Path) -> list[str]:
    """For each layout some of whose names `folder` holds: which of its files are not files or missing."""
    hints = []
    for layout, (needs, names) in LAYOUT_FILES.items():
        present = [name for name in names if (folder / name).exists()] if folder.is_dir() else []
        if not present:
            continue
        problems = [
            f"{name} is a {'folder' if (folder / name).is_dir() else 'special file'}, not a file"
            for name in present
            if not (folder / name).is_file()
        ]
        missing = [name for name in names if name not in present] if needs == "all" else []
        if missing:
            problems.append(f"{', '.join(missing)} missing")
        hints.append(f"looks like {layout} but {' and '.join(problems)}")
    return hints


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
        raise DataError(
            path if path is not None else "<none>", f"unknown format {format!r}; expected one of {sorted(READERS)}"
        )
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


def data_inputs(path: str | Path | None, options: dict[str, Any] | None = None) -> list[Path]:
    """What reading the dataset at `path` reads, for the output checks (`hscl.files.check_not_input`): the folder
    or file itself, and the label CSVs that a MulT pickle is read with (named by `label_csv`, or beside it)."""
    if path is None:
        return []
    path = Path(path)
    found = [path]
    label_csv = (options or {}).get("label_csv")
    if label_csv:
        found.append(Path(label_csv))
    if path.is_file() and path.name in mult.PICKLE_TO_CSV:
        found += [path.parent / name for name in sorted(set(mult.PICKLE_TO_CSV.values()))]
    return found


def load_for_prediction(path: str | Path, format: str | None = None, **options: Any) -> MSADataset:
    """`load_dataset`, except that an unlabelled `hscl extract` dataset (legitimate for prediction and inspection:
    every sample in test, labels NaN) is read as it is."""
    if (
        format in (None, "converted")
        and converted.detect(path)
        and not converted.read_manifest(Path(path) / converted.MANIFEST_FILE).labelled
    ):
        return converted.read(path, allow_unlabelled=True)
    return load_dataset(path, format, **options)


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
        raise DataError(
            path if path is not None else "<none>",
            f"format {format!r} takes no option(s) {unknown}; accepted: {accepted or 'none'}",
        )
