"""`hscl predict RUN --media ...`: extract new clips with exactly the settings of the run's training
data, then predict them."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from hscl.errors import ConfigError, HSCLError
from hscl.extract.dataset import build_dataset
from hscl.extract.inputs import TRANSCRIPT_HELP, find_media, plan_utterances
from hscl.extract.records import check_versions, run_extraction_record
from hscl.files import check_output_file, write_csv
from hscl.scores import COLUMNS

TEXT_HELP = f'give it with --text "..." (one media file), or {TRANSCRIPT_HELP.removeprefix("supply it with ")}'


def predict_media(
    run_dir: str | Path,
    media: list[str],
    out_csv: str | Path | None,
    text: str | None = None,
    transcripts: list[str] | None = None,
    segments: str | None = None,
    jobs: int = 1,
    device: str = "auto",
    progress: bool = True,
    engine: str = "torch",
) -> int:
    """Extract `media` as the run's training data was extracted, predict, and write `id, file, score, class7,
    polarity, raw` rows to `out_csv` (None: standard output); returns the row count. `engine`: torch or onnx
    (`Predictor.from_run`)."""
    from hscl.extract.runner import run_extraction
    from hscl.training.inference import Predictor
    from hscl.training.run_records import RunDir

    files = find_media(media)
    transcript_files = [Path(t) for t in transcripts or []]
    inputs = [*files, *transcript_files, segments, *RunDir(run_dir).records()]
    out = None if out_csv is None else check_output_file(out_csv, inputs)
    record = run_extraction_record(run_dir)
    check_versions(record, run_dir)
    texts = None
    if text is not None:
        if len(files) != 1 or transcripts or segments:
            raise ConfigError(
                f"--text goes with exactly one media file and no --transcripts/--segments; found {len(files)} files"
            )
        texts = {files[0].stem: text}
    plan = plan_utterances(
        files, Path(segments) if segments else None, transcript_files, texts, how_to_supply=TEXT_HELP
    )
    predictor = Predictor.from_run(run_dir, device, engine)
    with tempfile.TemporaryDirectory(prefix="hscl-media-") as scratch:
        result = run_extraction(plan, record.settings, Path(scratch), jobs=jobs, progress=progress)
    for problem in result.problems:
        print(
            f"hscl: skipped {problem.file}{' ' + problem.id if problem.id else ''}: {problem.problem}", file=sys.stderr
        )
    if not result.features:
        raise HSCLError(f"{', '.join(media)}: no utterance could be extracted (see the lines above)")
    split = build_dataset(plan, result, record.settings, "media", labelled=False).splits["test"]
    files_of = {u.id: file for file, utterances in plan.items() for u in utterances}
    scores = predictor.predict_split(split)
    write_csv(out, ["id", "file", *COLUMNS], ([uid, files_of[uid], *scores.row(i)] for i, uid in enumerate(split.ids)))
    return len(split.ids)
