"""`hscl predict RUN --media ...`: extract new clips with exactly the settings of the run's training
data, then predict them; and the check that a dataset given with `--data` was extracted the same way."""
from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

from hscl.errors import ConfigError, DataError, HSCLError
from hscl.extract.dataset import Extraction, build_dataset, read_extraction
from hscl.extract.inputs import find_media, plan_utterances
from hscl.extract.settings import FEATURE_PACKAGES, package_versions


def run_extraction_record(run_dir: str | Path) -> Extraction:
    """How the run's training data was extracted, read from that dataset's manifest."""
    from hscl.training.run_records import RunDir

    data_path = RunDir(run_dir).read_config().data.path
    if data_path is None or not Path(data_path).is_dir():
        raise DataError(run_dir, f"its training data {data_path!r} is not a folder here; a run's extraction settings "
                                 "are read from its training data's manifest, so it must stay where it was trained")
    record = read_extraction(data_path)
    if record is None:
        raise DataError(run_dir, f"was trained on {data_path}, which `hscl extract` did not write, so it cannot "
                                 "predict extracted media or data (train it on `hscl extract` output)")
    return record


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
