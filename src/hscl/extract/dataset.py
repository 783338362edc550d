"""Extracted features as an hscl dataset (the converted format plus an `extraction` record in its
manifest and a report of what was left out), and the record read back for `hscl predict --media`."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np

from hscl.data.readers.converted import EXTRACTION_FIELD
from hscl.data.types import SPLITS, MSADataset, Sequences, SplitData
from hscl.errors import DataError
from hscl.extract.inputs import Utterance
from hscl.extract.runner import ExtractionResult
from hscl.extract.settings import ExtractSettings, package_versions
from hscl.files import check_output_folder, open_atomic

CACHE_DIR = "extract_cache"  # per-file features kept next to the dataset, so a re-run resumes
REPORT_FILE = "extraction_report.csv"  # one row per file or utterance left out: file, id, problem
# Without a split column, a file's utterances all go to one split chosen by a hash of its name: 80/10/10.
HASH_SPLITS: tuple[str, ...] = ("train",) * 8 + ("valid", "test")


def check_output(out: Path, inputs: list[Path | str | None]) -> None:
    """`out` must be new, empty, or an earlier `hscl extract` output (which is resumed and replaced), writable,
    and hold none of the command's `inputs` (media, transcripts, segments)."""
    if out.exists() and not out.is_dir():
        raise DataError(out, "exists and is not a folder")
    check_output_folder(out, inputs)
    if out.is_dir() and any(out.iterdir()) and not (out / CACHE_DIR).is_dir():
        raise DataError(
            out, "folder is not empty and is not an earlier `hscl extract` output; choose a new or empty folder"
        )


def build_dataset(
    plan: dict[Path, list[Utterance]],
    result: ExtractionResult,
    settings: ExtractSettings,
    source: str,
    labelled: bool | None = None,
) -> MSADataset:
    """The usable utterances, in plan order, as a dataset: labelled splits, or every sample in test with NaN labels.

    `labelled=None` follows the transcripts (labelled when they have labels); False ignores any labels.
    """
    kept = [(file, u) for file, utterances in plan.items() for u in utterances if u.id in result.features]
    if not kept:
        raise DataError(
            source, f"no utterance could be extracted; see the {len(result.problems)} problems in {REPORT_FILE}"
        )
    if labelled is None:
        labelled = kept[0][1].label is not None
    groups = assign_splits(kept, source) if labelled else {"train": [], "valid": [], "test": [u for _, u in kept]}
    splits = {split: _split(groups[split], result, settings, labelled) for split in SPLITS}
    faceless = sum(f.faceless_frames for f in result.features.values())
    notes = [f"extracted by hscl extract: {len(kept)} utterances, {len(result.problems)} left out (see {REPORT_FILE})"]
    if faceless:
        notes.append(f"visual: {faceless} sampled frames without a detected face are left out of the sequences")
    return MSADataset(splits=splits, source=source, format="extracted", notes=notes)


def assign_splits(utterances: list[tuple[Path, Utterance]], source: str) -> dict[str, list[Utterance]]:
    """Labelled utterances by split: their split column, or all of a file's in the split its name hashes to.

    A `DataError` when some rows have a split and others not, or when a split would be empty.
    """
    if len({u.split is not None for _, u in utterances}) > 1:
        missing = next(u.id for _, u in utterances if u.split is None)
        raise DataError(source, f"id {missing!r} has no split while others have one; give every row a split or none")
    from hscl.data.validate import MIN_EVAL_SAMPLES

    groups: dict[str, list[Utterance]] = {split: [] for split in SPLITS}
    for file, u in utterances:
        groups[u.split or _hash_split(file.stem)].append(u)
    least = {"train": 1, "valid": MIN_EVAL_SAMPLES, "test": MIN_EVAL_SAMPLES}
    if short := [split for split in SPLITS if len(groups[split]) < least[split]]:
        sizes = ", ".join(f"{split} {len(groups[split])}" for split in SPLITS)
        how = (
            "the split column gives"
            if utterances[0][1].split is not None
            else "without a split column, the hash of each file's name (80/10/10 by file) gives"
        )
        raise DataError(
            source,
            f"{how} {sizes}; {' and '.join(short)} need(s) at least {least[short[0]]} "
            f"sample{'s' if least[short[0]] > 1 else ''}; give the transcripts a split column (train, valid, test)",
        )
    return groups


def _hash_split(stem: str) -> str:
    return HASH_SPLITS[hashlib.sha256(stem.encode()).digest()[0] % len(HASH_SPLITS)]


def _split(
    utterances: list[Utterance], result: ExtractionResult, settings: ExtractSettings, labelled: bool
) -> SplitData:
    features = [result.features[u.id] for u in utterances]
    sequences = {}
    for name, dim in feature_dims(settings).items():
        sequences[name] = Sequences.from_frames([getattr(f, name) for f in features], dim)
    labels = [u.label for u in utterances] if labelled else [np.nan] * len(utterances)
    return SplitData(
        ids=[u.id for u in utterances],
        texts=[u.text for u in utterances],
        labels=np.asarray(labels, dtype=np.float32),
        audio=sequences.get("audio"),
        visual=sequences.get("visual"),
    )


def feature_names(settings: ExtractSettings) -> dict[str, list[str]]:
    """Per modality, the names of the feature columns these settings produce."""
    from hscl.extract import audio, face

    names = {}
    if settings.audio_set != "none":
        names["audio"] = audio.feature_names(settings.audio_set)
    if settings.face_set != "none":
        names["visual"] = face.feature_names(settings.face_set)
    return names


def feature_dims(settings: ExtractSettings) -> dict[str, int]:
    """Per modality, the feature size these settings produce."""
    return {name: len(columns) for name, columns in feature_names(settings).items()}


def write_dataset(out: Path, ds: MSADataset, result: ExtractionResult, settings: ExtractSettings, files: int) -> Path:
    """Write the dataset, its extraction record and the report of what was left out, into `out`."""
    from hscl.data.convert import write_converted

    features = list(result.features.values())
    record = {
        "settings": settings.to_dict(),
        "packages": package_versions(),
        "features": feature_names(settings),
        "counts": {
            "files": files,
            "utterances": sum(len(data) for data in ds.splits.values()),
            "left_out": len(result.problems),
            "video_frames": sum(f.video_frames for f in features),
            "faceless_frames": sum(f.faceless_frames for f in features),
            "truncated": sum(f.truncated for f in features),
        },
        "report": REPORT_FILE,
    }
    write_converted(
        ds,
        out,
        manifest_extra={"labelled": is_labelled(ds), EXTRACTION_FIELD: record},
        keep=frozenset({CACHE_DIR, REPORT_FILE}),
    )
    write_report(out / REPORT_FILE, result)
    return out


def is_labelled(ds: MSADataset) -> bool:
    """False for a dataset built without labels (its samples are all in test, labelled NaN)."""
    return bool(np.isfinite(ds.splits["test"].labels).all())


def write_report(path: Path, result: ExtractionResult) -> None:
    """The extraction report: one CSV row (file, id, problem) per file or utterance left out."""
    with open_atomic(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "id", "problem"])
        writer.writerows((p.file, p.id, p.problem) for p in result.problems)
