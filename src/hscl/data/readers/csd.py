"""The official CMU release: a folder of CMU-MultimodalSDK computational sequences (`.csd`, HDF5).

Each file holds one root group named after its sequence, with `data/<video_id>/intervals` (n, 2)
float start and end times in seconds, `data/<video_id>/features` (n, d), and `metadata/<key>` strings
(`dataset name` among them; bytes in older copies). Four roles, each a file found by name unless an
option names it: words (`*TimestampedWords*`: (n, 1) byte strings, `sp` marks silence), audio
(`*COVAREP*`), visual (`*Facet*42*`, else `*Facet*41*`, `*Facet*`, `*OpenFace*`) and labels
(`*Opinion*Labels*`, else `*LabelsSentiment*`, else `*Labels*` but not emotions): one row per opinion
segment, sentiment in column `label_column`.

Each labelled segment `k` of a video becomes the utterance `video[k]` (the SDK's name for it): its
transcript is the words, `sp` dropped, that overlap the segment (by more than `overlap_tolerance`
seconds, the rule of `hscl.data.intervals`); its label is the segment's. Audio and visual follow
`alignment`:

- `word` (the SDK recipe: `align` to the words with an averaging collapse function, `impute`, then
  `align` to the labels): one row per word of the transcript, the mean of the frames overlapping that
  word; a word that no frame overlaps gets a row of zeros, which is what the SDK's `impute` gives it
  (counted in the notes). NaN and infinite frames propagate into the mean as with `numpy.average`,
  and the dataset checks then zero sparse ones and note them, as for every format. One difference
  from the SDK, on purpose: the SDK re-cuts each modality's word rows at the segment edges by the
  span of the frames that met the word, so a word straddling an edge can lose its audio row but keep
  its text; here every modality keeps exactly the transcript's words.
- `none`: the frames overlapping the segment, in time order; with `max_frames`, a longer segment
  keeps that many evenly spaced frames (the middle frame of each of `max_frames` equal runs).

The split comes from `folds`: the standard folds of the dataset the files' metadata names (`auto`),
`mosi`, `mosei` (shipped as data, `hscl.data.folds`), or a JSON fold file. Fold videos absent from
the labels file, and labelled videos in no fold, are left out and counted in the notes. Everything
is checked before a dataset is returned: a file that is not HDF5 or lacks its groups, intervals not
(n, 2), not finite or running backwards, a feature row count that differs from its intervals, a
labelled video that a modality file lacks, a segment with no words: each is one `DataError` naming
the file, the video and the problem (`drop_incomplete=True` leaves the last two out instead, as the
SDK's `unify` and `hard_unify` do, and counts them).
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hscl.config.data import CsdOptions
from hscl.data.folds import STANDARD_FOLDS, read_fold_file, standard_folds
from hscl.data.intervals import interval_means, overlapping
from hscl.data.types import SPLITS, MSADataset, Sequences, SplitData
from hscl.errors import DataError

SUFFIX = ".csd"
SILENCE = "sp"
ROLES: tuple[str, ...] = ("words", "labels", "audio", "visual")
# role -> tiers of name fragments (lower case, letters and digits only); the first tier that matches one file wins
NAME_TIERS: dict[str, tuple[str, ...]] = {
    "words": ("timestampedwords",),
    "audio": ("covarep",),
    "visual": ("facet42", "facet41", "facet", "openface"),
    "labels": ("opinionlabels", "labelssentiment", "labels"),
}
NAME_EXCLUDES: dict[str, tuple[str, ...]] = {"labels": ("emotion",)}
PADDED_LIMIT_BYTES = 8 * 2**30
"""Largest padded float32 array of one modality of one split; beyond it `alignment: none` needs `max_frames`."""


def detect(path: str | Path) -> bool:
    """True for a folder holding at least one `.csd` file."""
    path = Path(path)
    return path.is_dir() and any(_is_csd(child) for child in path.iterdir())


def read(
    path: str | Path,
    words_file: str = "auto",
    audio_file: str | None = "auto",
    visual_file: str | None = "auto",
    labels_file: str = "auto",
    alignment: str = "word",
    max_frames: int | None = None,
    folds: str = "auto",
    label_column: int = 0,
    overlap_tolerance: float = 1e-3,
    drop_incomplete: bool = False,
) -> MSADataset:
    """Read a folder of computational sequences into an `MSADataset`; see the module docstring."""
    options = CsdOptions(
        words_file=words_file,
        audio_file=audio_file,
        visual_file=visual_file,
        labels_file=labels_file,
        alignment=alignment,
        max_frames=max_frames,
        folds=folds,
        label_column=label_column,
        overlap_tolerance=overlap_tolerance,
        drop_incomplete=drop_incomplete,
    )
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(folder, f"expected a folder of CMU-MultimodalSDK {SUFFIX} files")
    files = choose_files(folder, options)
    with ExitStack() as stack:
        sequences = {role: stack.enter_context(CsdFile.open(file)) for role, file in files.items()}
        return _read(folder, sequences, options)


def choose_files(folder: Path, options: CsdOptions) -> dict[str, Path]:
    """The file of each role in use: named by an option, or found by name."""
    given = {
        "words": options.words_file,
        "labels": options.labels_file,
        "audio": options.audio_file,
        "visual": options.visual_file,
    }
    present = sorted(child for child in folder.iterdir() if _is_csd(child))
    files: dict[str, Path] = {}
    for role in ROLES:
        name = given[role]
        if name is None:
            continue
        if name != "auto":
            file = folder / name
            if not file.is_file():
                raise DataError(file, f"no such file ({role}_file={name!r}, relative to the data folder)")
            files[role] = file
            continue
        files[role] = _find_by_name(folder, role, present)
    roles_of: dict[Path, list[str]] = {}
    for role, file in files.items():
        roles_of.setdefault(file.resolve(), []).append(role)
    shared = next((roles for roles in roles_of.values() if len(roles) > 1), None)
    if shared:
        raise DataError(folder, f"{' and '.join(shared)} would read the same file; name each with its *_file option")
    return files


def _find_by_name(folder: Path, role: str, present: list[Path]) -> Path:
    excludes = NAME_EXCLUDES.get(role, ())
    for fragment in NAME_TIERS[role]:
        matches = [
            file
            for file in present
            if fragment in _squashed(file.name) and not any(word in _squashed(file.name) for word in excludes)
        ]
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = ", ".join(file.name for file in matches)
            raise DataError(folder, f"several {role} files match *{fragment}*: {names}; pass {role}_file=NAME")
    wanted = " or ".join(f"*{fragment}*" for fragment in NAME_TIERS[role])
    found = ", ".join(file.name for file in present) or "none"
    off = " (or null for none)" if role in ("audio", "visual") else ""
    raise DataError(folder, f"no {role} file ({wanted}{SUFFIX}) here; .csd files: {found}; pass {role}_file=NAME{off}")


def _squashed(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _is_csd(path: Path) -> bool:
    return path.suffix.lower() == SUFFIX and path.is_file()


@dataclass
class CsdFile:
    """One open computational sequence file and the checks on its entries."""

    path: Path
    handle: h5py.File
    data: h5py.Group
    metadata: dict[str, str]
    dim: int | None = None  # feature size, fixed by the first entry read

    @classmethod
    def open(cls, path: Path) -> CsdFile:
        """Open `path` and check its root group, `data` group and metadata."""
        try:
            handle = h5py.File(path, "r")
        except OSError as error:
            raise DataError(path, f"not a readable HDF5 computational sequence ({error})") from None
        try:
            roots = list(handle.keys())
            if len(roots) != 1 or not isinstance(handle[roots[0]], h5py.Group):
                raise DataError(path, f"expected one root group named after the sequence, found {roots}")
            root = handle[roots[0]]
            data = root.get("data")
            if not isinstance(data, h5py.Group):
                raise DataError(path, f"missing group '{roots[0]}/data' (one subgroup per video)")
            metadata = _metadata(root.get("metadata"))
        except Exception:
            handle.close()
            raise
        return cls(path=path, handle=handle, data=data, metadata=metadata)

    def __enter__(self) -> CsdFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()

    @property
    def videos(self) -> set[str]:
        """The video ids of the file."""
        return set(self.data.keys())

    def entry(self, video: str) -> tuple[np.ndarray, np.ndarray]:
        """(intervals (n, 2) float64, features) of one video, with shapes and times checked."""
        group = self.data.get(video)
        where = f"video {video!r}"
        if not isinstance(group, h5py.Group):
            raise DataError(self.path, f"{where}: expected a group with 'intervals' and 'features'")
        arrays = {}
        for name in ("intervals", "features"):
            dataset = group.get(name)
            if not isinstance(dataset, h5py.Dataset):
                raise DataError(self.path, f"{where}: missing dataset '{name}'")
            try:
                arrays[name] = dataset[()]
            except (OSError, TypeError, ValueError) as error:
                raise DataError(self.path, f"{where}: cannot read '{name}' ({error})") from None
        intervals, features = arrays["intervals"], arrays["features"]
        if intervals.dtype.kind not in "iuf" or intervals.ndim != 2 or intervals.shape[1] != 2:
            raise DataError(self.path, f"{where}: intervals are {intervals.dtype} {intervals.shape}, expected (n, 2)")
        intervals = intervals.astype(np.float64, copy=False)
        bad = np.flatnonzero(~np.isfinite(intervals).all(axis=1))
        if bad.size:
            raise DataError(self.path, f"{where}: interval {bad[0]} is {intervals[bad[0]].tolist()}, not finite")
        backwards = np.flatnonzero(intervals[:, 1] < intervals[:, 0])
        if backwards.size:
            row = int(backwards[0])
            start, end = intervals[row]
            raise DataError(self.path, f"{where}: interval {row} runs backwards ({start:g} s to {end:g} s)")
        if features.ndim == 0 or features.shape[0] != len(intervals):
            raise DataError(
                self.path, f"{where}: features have shape {features.shape} but there are {len(intervals)} intervals"
            )
        return intervals, features

    def frames(self, video: str) -> tuple[np.ndarray, np.ndarray]:
        """(intervals, (n, d) numeric features) of an audio or visual entry; d is the same for every video."""
        intervals, features = self.entry(video)
        if features.dtype.kind not in "biuf" or features.ndim != 2 or features.shape[1] == 0:
            raise DataError(
                self.path, f"video {video!r}: features are {features.dtype} {features.shape}, expected (n, d) numbers"
            )
        if self.dim is None:
            self.dim = int(features.shape[1])
        elif features.shape[1] != self.dim:
            raise DataError(
                self.path, f"video {video!r}: {features.shape[1]} features per row, earlier videos have {self.dim}"
            )
        return intervals, features

    def words(self, video: str) -> tuple[np.ndarray, list[str]]:
        """(intervals, tokens) of a words entry."""
        intervals, features = self.entry(video)
        if features.dtype.kind not in "SOU" or features.ndim > 2 or (features.ndim == 2 and features.shape[1] != 1):
            raise DataError(
                self.path, f"video {video!r}: words are {features.dtype} {features.shape}, expected (n, 1) strings"
            )
        tokens = []
        for row, value in enumerate(features.reshape(-1)):
            if isinstance(value, bytes):
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError:
                    raise DataError(self.path, f"video {video!r}: word {row} is not UTF-8 text") from None
            elif not isinstance(value, str):
                raise DataError(self.path, f"video {video!r}: word {row} is {type(value).__name__}, not text")
            tokens.append(value.strip())
        return intervals, tokens

    def labels(self, video: str, column: int) -> tuple[np.ndarray, np.ndarray]:
        """(segment intervals, (n,) float64 labels) of a labels entry."""
        intervals, features = self.entry(video)
        if features.dtype.kind not in "biuf" or features.ndim != 2 or features.shape[1] <= column:
            raise DataError(
                self.path,
                f"video {video!r}: labels are {features.dtype} {features.shape}; expected (segments, k) numbers "
                f"with k > label_column={column}",
            )
        return intervals, features[:, column].astype(np.float64)


def _metadata(group: Any) -> dict[str, str]:
    """The metadata strings (absent in some copies: then empty)."""
    if not isinstance(group, h5py.Group):
        return {}
    metadata = {}
    for key, dataset in group.items():
        if not isinstance(dataset, h5py.Dataset):
            continue
        try:
            value = dataset[()]
        except (OSError, TypeError, ValueError):
            continue
        if isinstance(value, np.ndarray):
            value = value.reshape(-1)[0] if value.size else ""
        metadata[key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return metadata


def dataset_name(metadata: dict[str, str]) -> str | None:
    """`mosi` or `mosei` when the metadata's `dataset name` names one of them."""
    squashed = re.sub(r"[^a-z]", "", metadata.get("dataset name", "").lower())
    if "mosei" in squashed:
        return "mosei"
    if "mosi" in squashed:
        return "mosi"
    return None


def _choose_folds(folder: Path, sequences: dict[str, CsdFile], choice: str) -> tuple[dict[str, list[str]], str]:
    """The folds and a description of where they came from."""
    if choice in STANDARD_FOLDS:
        return standard_folds(choice), f"the standard {choice} folds (hscl/data/folds/{choice}.json)"
    if choice != "auto":
        return read_fold_file(choice), f"the fold file {choice}"
    named = {seq.path.name: dataset_name(seq.metadata) for seq in sequences.values()}
    found = sorted({name for name in named.values() if name is not None})
    if len(found) > 1:
        says = "; ".join(f"{file} says {name}" for file, name in named.items() if name)
        raise DataError(folder, f"the files disagree on the dataset ({says}); pass folds=mosi, mosei or a fold file")
    if not found:
        names = {seq.path.name: seq.metadata.get("dataset name") for seq in sequences.values()}
        raise DataError(
            folder,
            f"no file's metadata 'dataset name' names CMU-MOSI or CMU-MOSEI (found {names}); "
            "pass folds=mosi, folds=mosei or folds=<a JSON fold file>",
        )
    name = found[0]
    return standard_folds(name), f"the standard {name} folds (from the metadata; hscl/data/folds/{name}.json)"


@dataclass
class _Split:
    """One split's utterances as they are built."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    labels: list[float] = field(default_factory=list)
    frames: dict[str, list[np.ndarray]] = field(default_factory=lambda: {"audio": [], "visual": []})


def _read(folder: Path, sequences: dict[str, CsdFile], options: CsdOptions) -> MSADataset:
    labels = sequences["labels"]
    modalities = [role for role in ("audio", "visual") if role in sequences]
    folds, fold_source = _choose_folds(folder, sequences, options.folds)
    notes = [_files_note(sequences, options)]
    videos = _fold_videos(folds, sequences, fold_source, notes, options.drop_incomplete)
    counts = {"sp": 0, "words": 0, "dropped segments": 0, **{f"{m} empty": 0 for m in modalities}}
    splits = {split: _Split() for split in SPLITS}
    for split in SPLITS:
        for video in videos[split]:
            _read_video(video, sequences, modalities, options, splits[split], counts)
    _count_notes(counts, modalities, options, notes)
    data = {}
    for split in SPLITS:
        built = splits[split]
        if not built.ids:
            raise DataError(labels.path, f"{split}: no segment left to read (of {len(videos[split])} videos)")
        sequences_of = {m: _sequences(built.frames[m], sequences[m], split) for m in modalities}
        data[split] = SplitData(
            ids=built.ids,
            texts=built.texts,
            labels=np.asarray(built.labels, dtype=np.float32),
            audio=sequences_of.get("audio"),
            visual=sequences_of.get("visual"),
        )
    feature_files = {m: str(sequences[m].path) for m in modalities}
    return MSADataset(splits=data, source=str(folder), format="csd", notes=notes, feature_files=feature_files)


def _files_note(sequences: dict[str, CsdFile], options: CsdOptions) -> str:
    roles = ", ".join(f"{role} {seq.path.name}" for role, seq in sequences.items())
    if options.alignment == "word":
        how = (
            "alignment word: one audio/visual row per word, the mean of the frames overlapping it by more than "
            f"{options.overlap_tolerance:g} s"
        )
    else:
        limit = f", at most {options.max_frames} evenly spaced" if options.max_frames else ""
        how = f"alignment none: the frames overlapping each segment by more than {options.overlap_tolerance:g} s{limit}"
    return f"csd files: {roles} (label column {options.label_column}); {how}"


def _fold_videos(
    folds: dict[str, list[str]], sequences: dict[str, CsdFile], source: str, notes: list[str], drop: bool
) -> dict[str, list[str]]:
    """Each split's videos that have labels and every modality file; what is left out goes into the notes."""
    labels = sequences["labels"]
    labelled = labels.videos
    anywhere = set().union(*(seq.videos for seq in sequences.values()))
    sizes = ", ".join(f"{split} {len(folds[split])}" for split in SPLITS)
    notes.append(f"split by {source}: {sizes} videos listed")
    videos: dict[str, list[str]] = {}
    for split in SPLITS:
        listed = folds[split]
        videos[split] = [video for video in listed if video in labelled]
        nowhere = [video for video in listed if video not in anywhere]
        unlabelled = [video for video in listed if video in anywhere and video not in labelled]
        if nowhere:
            notes.append(f"{split}: {len(nowhere)} of {len(listed)} fold videos are in no file (e.g. {nowhere[0]!r})")
        if unlabelled:
            notes.append(
                f"{split}: {len(unlabelled)} fold videos have no labels in {labels.path.name} and are left out "
                f"(e.g. {unlabelled[0]!r})"
            )
    in_folds = {video for listed in folds.values() for video in listed}
    no_fold = sorted(labelled - in_folds)
    if no_fold:
        notes.append(f"{len(no_fold)} labelled videos are in no fold and are left out (e.g. {no_fold[0]!r})")
    for role, seq in sequences.items():
        if role == "labels":
            continue
        have = seq.videos
        missing = [video for split in SPLITS for video in videos[split] if video not in have]
        if not missing:
            continue
        if not drop:
            raise DataError(
                seq.path,
                f"video {missing[0]!r} has labels ({labels.path.name}) but no {role} entry here "
                f"({len(missing)} such videos); pass drop_incomplete=true to leave them out as the SDK's unify does",
            )
        gone = set(missing)
        for split in SPLITS:
            videos[split] = [video for video in videos[split] if video not in gone]
        notes.append(f"drop_incomplete: left out {len(missing)} videos without {role} (e.g. {missing[0]!r})")
    return videos


def _read_video(
    video: str,
    sequences: dict[str, CsdFile],
    modalities: list[str],
    options: CsdOptions,
    out: _Split,
    counts: dict[str, int],
) -> None:
    """Append the segments of one video to `out`."""
    tolerance = options.overlap_tolerance
    segments, values = sequences["labels"].labels(video, options.label_column)
    word_intervals, tokens = sequences["words"].words(video)
    spoken = np.array([token not in (SILENCE, "") for token in tokens], dtype=bool)  # empty words hold no text
    counts["sp"] += tokens.count(SILENCE)
    word_intervals = word_intervals[spoken]
    tokens = [token for token, keep in zip(tokens, spoken) if keep]
    in_segment = overlapping(word_intervals, segments, tolerance)
    kept = []
    for k in range(len(segments)):
        if in_segment.rows(k).size:
            kept.append(k)
            continue
        if not options.drop_incomplete:
            start, end = segments[k]
            raise DataError(
                sequences["words"].path,
                f"video {video!r}: segment {k} ({start:g} s to {end:g} s) holds no words ({SILENCE} aside); pass "
                "drop_incomplete=true to leave such segments out as the SDK's hard_unify does",
            )
        counts["dropped segments"] += 1
    used = np.unique(np.concatenate([in_segment.rows(k) for k in kept])) if kept else np.zeros(0, dtype=np.int64)
    position = np.full(len(tokens), -1, dtype=np.int64)
    position[used] = np.arange(len(used))
    per_modality = {}
    for modality in modalities:
        intervals, features = sequences[modality].frames(video)
        if options.alignment == "word":
            found = overlapping(intervals, word_intervals[used], tolerance)
            counts[f"{modality} empty"] += int(np.count_nonzero(found.counts() == 0))
            per_modality[modality] = interval_means(features, found)
        else:
            per_modality[modality] = (features, overlapping(intervals, segments, tolerance))
    counts["words"] += len(used)
    for k in kept:
        rows = in_segment.rows(k)
        out.ids.append(f"{video}[{k}]")
        out.texts.append(" ".join(tokens[i] for i in rows))
        out.labels.append(float(values[k]))
        for modality in modalities:
            if options.alignment == "word":
                out.frames[modality].append(per_modality[modality][position[rows]].astype(np.float32))
            else:
                features, found = per_modality[modality]
                frames = found.rows(k)
                if not frames.size:
                    counts[f"{modality} empty"] += 1
                out.frames[modality].append(features[subsample(frames, options.max_frames)].astype(np.float32))


def subsample(rows: np.ndarray, limit: int | None) -> np.ndarray:
    """`rows`, or `limit` of them evenly spaced (the middle one of each of `limit` equal runs) when longer."""
    if limit is None or len(rows) <= limit:
        return rows
    return rows[((2 * np.arange(limit) + 1) * len(rows)) // (2 * limit)]


def _count_notes(counts: dict[str, int], modalities: list[str], options: CsdOptions, notes: list[str]) -> None:
    notes.append(f"words: {counts['words']} in segments; {counts['sp']} '{SILENCE}' silence markers dropped")
    if counts["dropped segments"]:
        notes.append(f"drop_incomplete: left out {counts['dropped segments']} segments that hold no words")
    for modality in modalities:
        empty = counts[f"{modality} empty"]
        if not empty:
            continue
        if options.alignment == "word":
            notes.append(
                f"{modality}: {empty} of {counts['words']} words overlap no frame; their rows are zeros "
                "(what the SDK's impute gives)"
            )
        else:
            notes.append(f"{modality}: {empty} segments overlap no frame (empty sequences)")


def _sequences(frames: list[np.ndarray], seq: CsdFile, split: str) -> Sequences:
    """Right-padded float32 sequences of one modality, refused when the padded array would be too large."""
    dim = seq.dim or 0
    longest = max((len(f) for f in frames), default=0)
    size = len(frames) * longest * dim * 4
    if size > PADDED_LIMIT_BYTES:
        raise DataError(
            seq.path,
            f"{split}: {len(frames)} segments padded to {longest} frames of {dim} values would take "
            f"{size / 2**30:.1f} GiB; pass max_frames (e.g. 500) or use alignment word",
        )
    return Sequences.from_frames(frames, dim)
