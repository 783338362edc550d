"""What to extract: media files, their utterances (segments CSV, SRT cues or whole files) and transcripts.

Everything here is checked before any media is decoded, and every problem is one `DataError` naming
the file, the line and what is allowed. The module imports no torch (`hscl.data.types` is imported
where it is used), so extraction worker processes, which need `Utterance`, start quickly.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

from hscl.errors import DataError
from hscl.files import file_problem

MEDIA_SUFFIXES: frozenset[str] = frozenset(
    [
        ".mp4",
        ".mkv",
        ".avi",
        ".mov",
        ".webm",
        ".m4v",
        ".mpg",
        ".mpeg",
        ".wav",
        ".flac",
        ".mp3",
        ".m4a",
        ".ogg",
        ".opus",
        ".aac",
    ]
)
SEGMENT_COLUMNS: tuple[str, ...] = ("id", "file", "start", "end")
TRANSCRIPT_HELP = (
    "supply it with --transcripts: a CSV with columns id,text (optionally label,split) or an SRT "
    "file named like the media file"
)
_SRT_TIME = re.compile(r"(\d+):(\d{2}):(\d{2})[,.](\d{1,3})")


@dataclass(frozen=True)
class Utterance:
    """One sample: a time span of a media file with its transcript (label and split when known)."""

    id: str
    start: float  # seconds
    end: float | None  # seconds; None: to the end of the file
    text: str = ""
    label: float | None = None
    split: str | None = None


@dataclass(frozen=True)
class Transcript:
    """A transcript row: text, and the label and split if the file has them."""

    text: str
    label: float | None = None
    split: str | None = None


def find_media(paths: list[str]) -> list[Path]:
    """The media files named by `paths` (files, or folders searched recursively), sorted, stems unique."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            raise DataError(path, "no such file or folder")
    if not found:
        raise DataError(", ".join(paths), f"no media files found (looked for {' '.join(sorted(MEDIA_SUFFIXES))})")
    by_stem: dict[str, Path] = {}
    for path in found:
        if path.stem in by_stem and by_stem[path.stem].resolve() != path.resolve():
            raise DataError(path, f"has the same name without extension as {by_stem[path.stem]}; ids must be unique")
        by_stem[path.stem] = path
    return [by_stem[stem] for stem in sorted(by_stem)]


def read_segments(path: Path, media: list[Path]) -> dict[Path, list[tuple[str, float, float]]]:
    """Segments CSV rows `id, file, start, end` grouped by media file (matched by name, with or without extension)."""
    names = {p.name: p for p in media} | {p.stem: p for p in media}
    grouped: dict[Path, list[tuple[str, float, float]]] = {}
    seen: set[str] = set()
    for line, row in _csv_rows(path, SEGMENT_COLUMNS):
        where = f"line {line}"
        file = names.get(Path(row["file"]).name) or names.get(Path(row["file"]).stem)
        if file is None:
            raise DataError(path, f"{where}: file {row['file']!r} is not among the media given")
        start, end = _seconds(row["start"], path, where, "start"), _seconds(row["end"], path, where, "end")
        if not 0 <= start < end:
            raise DataError(path, f"{where}: start {start:g} and end {end:g} must satisfy 0 <= start < end")
        if not row["id"] or row["id"] in seen:
            raise DataError(path, f"{where}: id {row['id']!r} is empty or repeats an earlier id")
        seen.add(row["id"])
        grouped.setdefault(file, []).append((row["id"], start, end))
    if not grouped:
        raise DataError(path, "holds no segments")
    return grouped


def read_transcripts(path: Path) -> dict[str, Transcript]:
    """Transcripts CSV `id, text[, label][, split]` by id; label and split are all-or-nothing per column."""
    from hscl.data.types import SPLITS

    transcripts: dict[str, Transcript] = {}
    for line, row in _csv_rows(path, ("id", "text")):
        where = f"line {line}"
        if not row["id"] or row["id"] in transcripts:
            raise DataError(path, f"{where}: id {row['id']!r} is empty or repeats an earlier id")
        label = _label(row["label"], path, where) if row.get("label") else None
        split = row.get("split") or None
        if split is not None and split not in SPLITS:
            raise DataError(path, f"{where}: split {split!r} must be one of {', '.join(SPLITS)}")
        if split is not None and label is None:
            why = "its label cell is empty" if "label" in row else "the file has no label column"
            raise DataError(path, f"{where}: the row has a split but {why}; a split needs a label (for training)")
        transcripts[row["id"]] = Transcript(row["text"], label, split)
    if not transcripts:
        raise DataError(path, "holds no transcripts")
    return transcripts


def read_srt(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, text) of each cue of an SubRip file, in file order."""
    try:
        blocks = re.split(r"\n\s*\n", path.read_text(encoding="utf-8-sig").replace("\r\n", "\n").strip())
    except UnicodeDecodeError as error:
        raise DataError(path, f"not UTF-8 text: {error}") from error
    cues = []
    for number, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        timing = next((i for i, text in enumerate(lines) if "-->" in text), None)
        if timing is None:
            raise DataError(path, f"cue {number}: no 'HH:MM:SS,mmm --> HH:MM:SS,mmm' line")
        start, end = (_srt_seconds(part, path, number) for part in lines[timing].split("-->"))
        if not start < end:
            raise DataError(path, f"cue {number}: start {start:g} s is not before end {end:g} s")
        cues.append((start, end, " ".join(text.strip() for text in lines[timing + 1 :]).strip()))
    return cues


def plan_utterances(
    media: list[Path],
    segments: Path | None = None,
    transcripts: list[Path] | None = None,
    texts: dict[str, str] | None = None,
    how_to_supply: str = TRANSCRIPT_HELP,
) -> dict[Path, list[Utterance]]:
    """Every media file's utterances with their transcripts, or a `DataError` for the first problem.

    Utterances come from the segments CSV, else from SRT cues (one SRT per media file, same name), else
    one per file with the file name (no extension) as id. Texts come from `texts` (by id), a transcripts
    CSV, or the SRT cues; a missing one is an error saying how to supply it (`how_to_supply`).
    """
    transcripts = transcripts or []
    srts = [p for p in transcripts if p.suffix.lower() == ".srt"]
    csvs = [p for p in transcripts if p.suffix.lower() != ".srt"]
    if len(csvs) > 1:
        raise DataError(csvs[1], "only one transcripts CSV may be given")
    if srts and (csvs or segments is not None):
        raise DataError(
            srts[0], "SRT cues define the utterances; give SRT files without --segments or a transcripts CSV"
        )
    table = read_transcripts(csvs[0]) if csvs else {}
    table |= {key: Transcript(value) for key, value in (texts or {}).items()}
    if srts:
        plan = _plan_from_srt(media, srts, how_to_supply)
    elif segments is not None:
        grouped = read_segments(segments, media)
        plan = {file: [Utterance(uid, start, end) for uid, start, end in rows] for file, rows in grouped.items()}
    else:
        plan = {file: [Utterance(file.stem, 0.0, None)] for file in media}
    if not srts:
        source = csvs[0] if csvs else None
        plan = {
            file: [_with_transcript(u, file, table, source, how_to_supply) for u in utterances]
            for file, utterances in plan.items()
        }
    _check_labels(plan, csvs[0] if csvs else None)
    return plan


def _plan_from_srt(media: list[Path], srts: list[Path], how_to_supply: str) -> dict[Path, list[Utterance]]:
    by_stem = {p.stem: p for p in media}
    plan: dict[Path, list[Utterance]] = {}
    for srt in srts:
        file = by_stem.get(srt.stem) or (media[0] if len(media) == 1 and len(srts) == 1 else None)
        if file is None:
            raise DataError(
                srt, f"no media file is named {srt.stem!r} (an SRT file goes with the media file of the same name)"
            )
        plan[file] = [
            Utterance(f"{file.stem}_{i}", start, end, text)
            for i, (start, end, text) in enumerate(read_srt(srt), start=1)
        ]
    missing = [p for p in media if p not in plan]
    if missing:
        raise DataError(missing[0], f"has no SRT file among the transcripts; {how_to_supply}")
    return plan


def _with_transcript(
    utterance: Utterance, file: Path, table: dict[str, Transcript], source: Path | None, how_to_supply: str
) -> Utterance:
    row = table.get(utterance.id)
    if row is None:
        where = f"no row with id {utterance.id!r}" if source else f"no transcript for id {utterance.id!r}"
        raise DataError(source or file, f"{where} (utterance of {file}); {how_to_supply}")
    return Utterance(utterance.id, utterance.start, utterance.end, row.text, row.label, row.split)


def _check_labels(plan: dict[Path, list[Utterance]], source: Path | None) -> None:
    """Either every utterance has a label or none has (a partly labelled set serves neither purpose)."""
    labels = [u.label is not None for utterances in plan.values() for u in utterances]
    if any(labels) and not all(labels):
        missing = next(u.id for utterances in plan.values() for u in utterances if u.label is None)
        raise DataError(
            source or "<transcripts>",
            f"id {missing!r} has no label (an empty label cell, or no row) while others have one; "
            "label every utterance or none",
        )


def _csv_rows(path: Path, required: tuple[str, ...]):
    """(line number, row dict) of a UTF-8 CSV whose header holds `required`; every cell stripped (empty ones "")."""
    if problem := file_problem(path):
        raise DataError(path, problem)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            if not set(required) <= set(header):
                raise DataError(path, f"header {header} must include the columns {list(required)}")
            for row in reader:
                if None in row or any(value is None for value in row.values()):
                    raise DataError(path, f"line {reader.line_num}: expected {len(header)} cells")
                yield reader.line_num, {k: v.strip() for k, v in row.items()}
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(path, f"cannot parse as UTF-8 CSV: {error}") from error


def _seconds(value: str, path: Path, where: str, column: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise DataError(path, f"{where}: {column} {value!r} is not a number of seconds") from None
    if not math.isfinite(seconds):
        raise DataError(path, f"{where}: {column} {value!r} is not a finite number of seconds")
    return seconds


def _label(value: str, path: Path, where: str) -> float:
    from hscl.data.types import LABEL_RANGE

    low, high = LABEL_RANGE
    try:
        label = float(value)
    except ValueError:
        raise DataError(path, f"{where}: label {value!r} is not a number in [{low:g}, {high:g}]") from None
    if not low <= label <= high:
        raise DataError(path, f"{where}: label {value!r} is not a number in [{low:g}, {high:g}]")
    return label


def _srt_seconds(text: str, path: Path, number: int) -> float:
    match = _SRT_TIME.search(text)
    if match is None:
        raise DataError(path, f"cue {number}: time {text.strip()!r} is not HH:MM:SS,mmm")
    hours, minutes, seconds, millis = match.groups()
    for field, value in (("minutes", minutes), ("seconds", seconds)):
        if int(value) > 59:
            raise DataError(
                path, f"cue {number}: time {match.group(0)!r} has {value} in its {field} field, which runs 00-59"
            )
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + int(millis.ljust(3, "0")) / 1000
