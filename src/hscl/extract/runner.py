"""Extract many files: `jobs` processes, a progress bar, a per-file cache that makes a re-run resume,
and one report line for each file or utterance that could not be used (the rest carry on)."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hscl.extract.inputs import Utterance
from hscl.extract.media import FileFeatures, UtteranceFeatures
from hscl.extract.settings import ExtractSettings
from hscl.files import open_atomic


@dataclass
class Problem:
    """A file or utterance left out of the dataset, and why."""

    file: str
    id: str  # utterance id; empty when the whole file failed
    problem: str


@dataclass
class ExtractionResult:
    """The features of every usable utterance (by id), the problems, and how many files were reused."""

    features: dict[str, UtteranceFeatures] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    files_extracted: int = 0
    files_reused: int = 0


def run_extraction(
    plan: dict[Path, list[Utterance]], settings: ExtractSettings, cache_dir: Path, jobs: int = 1, progress: bool = True
) -> ExtractionResult:
    """Extract every file of `plan` whose cached features are missing or stale, then gather them all."""
    from tqdm.auto import tqdm

    cache_dir.mkdir(parents=True, exist_ok=True)
    keys = {path: cache_key(path, utterances, settings) for path, utterances in plan.items()}
    todo = [path for path in plan if not _cached(cache_file(cache_dir, path), keys[path])]
    result = ExtractionResult(files_reused=len(plan) - len(todo))
    failures: dict[Path, str] = {}
    with tqdm(total=len(todo), unit="file", desc="extracting", disable=not progress or not todo) as bar:
        for path, error in _map(todo, plan, settings, cache_dir, keys, jobs):
            if error:
                failures[path] = error
            else:
                result.files_extracted += 1
            bar.update()
    for path in plan:
        if path in failures:
            result.problems.append(Problem(str(path), "", failures[path]))
            continue
        features = load_cached(cache_file(cache_dir, path))
        result.features.update(features.utterances)
        result.problems.extend(Problem(str(path), uid, why) for uid, why in features.problems.items())
    return result


def _map(todo: list[Path], plan, settings, cache_dir, keys, jobs: int):
    """(path, error or '') for each file of `todo`, in this process (jobs=1) or in `jobs` spawned processes."""
    tasks = [(path, plan[path], settings, cache_file(cache_dir, path), keys[path]) for path in todo]
    if jobs == 1 or len(tasks) <= 1:
        yield from (extract_to_cache(*task) for task in tasks)
        return
    context = multiprocessing.get_context("spawn")  # MediaPipe and openSMILE hold native state; never fork it
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context) as pool:
        futures = [pool.submit(extract_to_cache, *task) for task in tasks]
        for future in as_completed(futures):
            yield future.result()


def extract_to_cache(
    path: Path, utterances: list[Utterance], settings: ExtractSettings, target: Path, key: str
) -> tuple[Path, str]:
    """Extract one file into its cache file; returns (path, '') or (path, why the file is unusable)."""
    from hscl.extract.media import extract_file

    try:
        features = extract_file(path, utterances, settings)
    # a broken file (or a library failing on it) is one report line, never the end of the batch
    except Exception as error:
        return path, f"{type(error).__name__}: {error}".replace("\n", " ")
    save_cached(target, features, key)
    return path, ""


def cache_key(path: Path, utterances: list[Utterance], settings: ExtractSettings) -> str:
    """Digest of what decides a file's features: the settings and versions, the file's identity, the spans."""
    stat = path.stat()
    spans = [(u.id, u.start, u.end) for u in utterances]
    text = json.dumps([settings.key(), str(path.resolve()), stat.st_size, stat.st_mtime_ns, spans])
    return hashlib.sha256(text.encode()).hexdigest()


def cache_file(cache_dir: Path, path: Path) -> Path:
    """Where the features of media file `path` are cached."""
    return cache_dir / f"{path.stem}-{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]}.npz"


def save_cached(target: Path, features: FileFeatures, key: str) -> None:
    """Write a file's features atomically (a killed run never leaves a half-written cache file)."""
    arrays: dict[str, np.ndarray] = {}
    stats = {}
    for i, (uid, item) in enumerate(features.utterances.items()):
        for name in ("audio", "visual"):
            if getattr(item, name) is not None:
                arrays[f"{name}{i}"] = getattr(item, name)
        stats[uid] = {k: v for k, v in asdict(item).items() if k not in ("audio", "visual")} | {"index": i}
    meta = {"key": key, "utterances": stats, "problems": features.problems}
    with open_atomic(target, binary=True) as handle:
        np.savez(handle, meta=np.array(json.dumps(meta)), **arrays)


def _cached(target: Path, key: str) -> bool:
    if not target.is_file():
        return False
    try:
        with np.load(target, allow_pickle=False) as archive:
            return json.loads(str(archive["meta"]))["key"] == key
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return False


def load_cached(target: Path) -> FileFeatures:
    """A file's features as `save_cached` wrote them."""
    with np.load(target, allow_pickle=False) as archive:
        meta = json.loads(str(archive["meta"]))
        result = FileFeatures(problems=meta["problems"])
        for uid, stats in meta["utterances"].items():
            i = stats.pop("index")
            result.utterances[uid] = UtteranceFeatures(
                audio=archive[f"audio{i}"] if f"audio{i}" in archive.files else None,
                visual=archive[f"visual{i}"] if f"visual{i}" in archive.files else None,
                **stats,
            )
    return result
