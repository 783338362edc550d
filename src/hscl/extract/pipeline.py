"""`hscl extract` from start to end: check the inputs, extract (resumably), write the dataset."""

from __future__ import annotations

from pathlib import Path

from hscl.extract.dataset import (
    CACHE_DIR,
    REPORT_FILE,
    assign_splits,
    build_dataset,
    check_output,
    is_labelled,
    write_dataset,
)
from hscl.extract.inputs import find_media, plan_utterances
from hscl.extract.runner import run_extraction
from hscl.extract.settings import ExtractSettings


def extract(
    media: list[str],
    out: Path,
    settings: ExtractSettings,
    segments: str | None = None,
    transcripts: list[str] | None = None,
    jobs: int = 1,
    progress: bool = True,
) -> str:
    """Extract `media` into the dataset folder `out` and return a short summary.

    Every input (media, segments, transcripts, settings, the output folder) is checked before any file
    is decoded or written; files that cannot be used are listed in `out/extraction_report.csv`.
    """
    files = find_media(media)
    transcript_files = [Path(t) for t in transcripts or []]
    check_output(out, [*files, *transcript_files, segments])
    plan = plan_utterances(files, Path(segments) if segments else None, transcript_files)
    check_installed(settings)
    if all(u.label is not None for utterances in plan.values() for u in utterances):
        assign_splits([(file, u) for file, utterances in plan.items() for u in utterances], str(out))
    result = run_extraction(plan, settings, out / CACHE_DIR, jobs=jobs, progress=progress)
    dataset = build_dataset(plan, result, settings, str(out))
    write_dataset(out, dataset, result, settings, files=len(plan))
    sizes = ", ".join(f"{split} {len(data)}" for split, data in dataset.splits.items())
    labelled = "labelled" if is_labelled(dataset) else "unlabelled: for prediction only"
    return (
        f"wrote {out} ({labelled}; {sizes}); {result.files_extracted} files extracted, "
        f"{result.files_reused} reused; {len(result.problems)} left out, listed in {out / REPORT_FILE}"
    )


def check_installed(settings: ExtractSettings) -> None:
    """A `ConfigError` naming the extra to install when a package these settings need is missing."""
    from hscl.errors import ConfigError
    from hscl.extract.settings import package_versions

    versions = package_versions()
    needed = (
        ["av"]
        + (["opensmile"] if settings.audio_set != "none" else [])
        + (["mediapipe"] if settings.face_set != "none" else [])
    )
    missing = [name for name in needed if versions.get(name) is None]
    if missing:
        raise ConfigError(f"extraction needs the package(s) {', '.join(missing)}: pip install 'hscl[extract]'")
