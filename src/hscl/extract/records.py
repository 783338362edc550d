"""The extraction record (settings, package versions, feature names) that `hscl extract` writes into a dataset's
manifest and every run trained on it keeps: reading it from either, and checking that two of them match."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hscl.data.readers.converted import EXTRACTION_FIELD, MANIFEST_FILE
from hscl.errors import ConfigError, DataError
from hscl.extract.settings import FEATURE_PACKAGES, ExtractSettings, package_versions


@dataclass(frozen=True)
class Extraction:
    """How a dataset was extracted: its settings, the package versions and the feature names."""

    settings: ExtractSettings
    packages: dict[str, str | None]
    features: dict[str, list[str]]  # modality -> names of the feature columns


def parse_extraction(raw: Any, where: str | Path) -> Extraction:
    """An extraction record (a manifest's field, or a run's copy of it) as an `Extraction`; a `DataError` naming
    `where` if it is malformed."""
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), dict) for k in ("settings", "packages", "features")):
        raise DataError(where, f"field {EXTRACTION_FIELD!r} must hold 'settings', 'packages' and 'features' objects")
    settings = ExtractSettings.from_dict(raw["settings"], str(where))
    return Extraction(settings, dict(raw["packages"]), {k: list(v) for k, v in raw["features"].items()})


def read_extraction(path: str | Path) -> Extraction | None:
    """The extraction record of a dataset folder, or None if `hscl extract` did not write it."""
    manifest = Path(path) / MANIFEST_FILE
    if not manifest.is_file():
        return None
    try:
        raw: Any = json.loads(manifest.read_text(encoding="utf-8")).get(EXTRACTION_FIELD)
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError) as error:
        raise DataError(manifest, f"not a valid manifest: {error}") from error
    return None if raw is None else parse_extraction(raw, manifest)


def run_extraction_record(run_dir: str | Path) -> Extraction:
    """How the run's training data was extracted: the copy of the record the run keeps (`extraction.json`)."""
    from hscl.training.run_records import EXTRACTION_FILE, RUN_CONFIG_FILE, RunDir, is_run

    if not is_run(Path(run_dir)):
        raise DataError(run_dir, f"not an hscl run directory (no {RUN_CONFIG_FILE}); give a folder `hscl train` wrote")
    raw = RunDir(run_dir).read_extraction()
    if raw is None:
        raise DataError(
            run_dir,
            "was not trained on `hscl extract` output (it has no extraction.json), so it cannot "
            "predict extracted media or data; train it on a dataset `hscl extract` wrote",
        )
    return parse_extraction(raw, Path(run_dir) / EXTRACTION_FILE)


def check_versions(record: Extraction, run_dir: str | Path) -> None:
    """Refuse to extract when a package that computes the run's features has another version here."""
    installed = package_versions()
    for modality in record.settings.modalities:
        for package in FEATURE_PACKAGES[modality]:
            if installed[package] != record.packages.get(package):
                raise ConfigError(
                    f"{run_dir}: its {modality} features were extracted with {package} {record.packages.get(package)}, "
                    f"this environment has {installed[package]}; "
                    f"install {package}=={record.packages.get(package)} to predict with it"
                )


def check_same_extraction(run_dir: str | Path, data: str | Path) -> None:
    """Refuse `--data` extracted with other settings or package versions than the run's training data."""
    theirs = read_extraction(data)
    if theirs is None:
        return
    ours = run_extraction_record(run_dir)
    for what, mine, other in (
        ("settings", ours.settings.to_dict(), theirs.settings.to_dict()),
        ("packages", _feature_packages(ours), _feature_packages(theirs)),
    ):
        if mine != other:
            changed = sorted(key for key in set(mine) | set(other) if mine.get(key) != other.get(key))
            detail = ", ".join(f"{key} {other.get(key)!r} (run: {mine.get(key)!r})" for key in changed)
            raise DataError(
                data,
                f"was extracted with other {what} than the run's training data: {detail}; "
                f"re-extract it with the run's settings",
            )


def _feature_packages(record: Extraction) -> dict[str, str | None]:
    return {p: record.packages.get(p) for m in record.settings.modalities for p in FEATURE_PACKAGES[m]}
