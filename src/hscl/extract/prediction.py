"""`hscl predict RUN --media ...`: extract new clips with exactly the settings of the run's training
data, then predict them; and the check that a dataset given with `--data` was extracted the same way."""
from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

from hscl.errors import ConfigError, DataError, HSCLError
from hscl.extract.dataset import Extraction, build_dataset, parse_extraction, read_extraction
from hscl.extract.inputs import find_media, plan_utterances
from hscl.extract.settings import FEATURE_PACKAGES, package_versions


def run_extraction_record(run_dir: str | Path) -> Extraction:
    """How the run's training data was extracted: the copy of the record the run keeps (`extraction.json`)."""
    from hscl.training.run_records import EXTRACTION_FILE, RUN_CONFIG_FILE, RunDir, is_run

    if not is_run(Path(run_dir)):
        raise DataError(run_dir, f"not an hscl run directory (no {RUN_CONFIG_FILE}); give a folder `hscl train` wrote")
    raw = RunDir(run_dir).read_extraction()
    if raw is None:
        raise DataError(run_dir, "was not trained on `hscl extract` output (it has no extraction.json), so it cannot "
                                 "predict extracted media or data; train it on a dataset `hscl extract` wrote")
    return parse_extraction(raw, Path(run_dir) / EXTRACTION_FILE)


def check_versions(record: Extraction, run_dir: str | Path) -> None:
    """Refuse to extract when a package that computes the run's features has another version here."""
    installed = package_versions()
    for modality in record.settings.modalities:
        for package in FEATURE_PACKAGES[modality]:
            if installed[package] != record.packages.get(package):
                raise ConfigError(
                    f"{run_dir}: its {modality} features were extracted with {package} {record.packages.get(package)}, "
                    f"this environment has {installed[package]}; install {package}=={record.packages.get(package)} to predict with it")


def check_same_extraction(run_dir: str | Path, data: str | Path) -> None:
    """Refuse `--data` extracted with other settings or package versions than the run's training data."""
    theirs = read_extraction(data)
    if theirs is None:
        return
    ours = run_extraction_record(run_dir)
    for what, mine, other in (("settings", ours.settings.to_dict(), theirs.settings.to_dict()),
                              ("packages", _feature_packages(ours), _feature_packages(theirs))):
        if mine != other:
            changed = sorted(key for key in set(mine) | set(other) if mine.get(key) != other.get(key))
            detail = ", ".join(f"{key} {other.get(key)!r} (run: {mine.get(key)!r})" for key in changed)
            raise DataError(data, f"was extracted with other {what} than the run's training data: {detail}; "
                                  f"re-extract it with the run's settings")


def _feature_packages(record: Extraction) -> dict[str, str | None]:
    return {p: record.packages.get(p) for m in record.settings.modalities for p in FEATURE_PACKAGES[m]}


def predict_media(run_dir: str | Path, media: list[str], out_csv: str | Path, text: str | None = None,
                  transcripts: list[str] | None = None, segments: str | None = None, jobs: int = 1,
                  device: str = "auto", progress: bool = True) -> int:
    """Extract `media` as the run's training data was extracted, predict, write `id, file, prediction`; returns the row count."""
    from hscl.extract.runner import run_extraction
    from hscl.training.inference import Predictor

    record = run_extraction_record(run_dir)
    check_versions(record, run_dir)
    files = find_media(media)
    texts = None
    if text is not None:
        if len(files) != 1 or transcripts or segments:
            raise ConfigError(f"--text goes with exactly one media file and no --transcripts/--segments; found {len(files)} files")
        texts = {files[0].stem: text}
    plan = plan_utterances(files, Path(segments) if segments else None, [Path(t) for t in transcripts or []], texts)
    predictor = Predictor.from_run(run_dir, device)
    with tempfile.TemporaryDirectory(prefix="hscl-media-") as scratch:
        result = run_extraction(plan, record.settings, Path(scratch), jobs=jobs, progress=progress)
    for problem in result.problems:
        print(f"hscl: skipped {problem.file}{' ' + problem.id if problem.id else ''}: {problem.problem}", file=sys.stderr)
    if not result.features:
        raise HSCLError(f"{', '.join(media)}: no utterance could be extracted (see the lines above)")
    split = build_dataset(plan, result, record.settings, "media", labelled=False).splits["test"]
    files_of = {u.id: file for file, utterances in plan.items() for u in utterances}
    predictions = predictor.predict_split(split)
    with Path(out_csv).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "file", "prediction"])
        writer.writerows((uid, files_of[uid], f"{pred:.6f}") for uid, pred in zip(split.ids, predictions))
    return len(split.ids)
