"""Small CMU-MultimodalSDK releases for the csd tests, written with the SDK's own writer (`mmsdk`, PyPI 0.0.6)."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

VOCAB = ["i", "loved", "this", "movie", "not", "really", "café", "bad", "the", "acting", "was", "great"]
NAMES = {
    "words": ("CMU_MOSI_TimestampedWords.csd", "words"),
    "audio": ("CMU_MOSI_COVAREP.csd", "COVAREP"),
    "visual": ("CMU_MOSI_Visual_Facet_42.csd", "FACET_4.2"),
    "labels": ("CMU_MOSI_Opinion_Labels.csd", "Opinion Segment Labels"),
}


def quiet():
    """Silence the SDK's coloured log lines and progress bars."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    return stack


def write_csd(path: Path, root: str, data: dict[str, dict[str, np.ndarray]], dataset: str = "CMU-MOSI") -> Path:
    """Write one computational sequence with the SDK's `computational_sequence.deploy`."""
    from mmsdk import mmdatasdk
    from mmsdk.mmdatasdk.configurations.metadataconfigs import featuresetMetadataTemplate

    with quiet():
        sequence = mmdatasdk.computational_sequence(root)
        sequence.setData(data, root)
        metadata = {key: f"test {key}" for key in featuresetMetadataTemplate}
        metadata.update({"root name": root, "dataset name": dataset})
        sequence.setMetadata(metadata, root)
        sequence.deploy(str(path))
    return path


@dataclass
class Release:
    """The arrays written to a release folder, per role and video."""

    folder: Path
    data: dict[str, dict[str, dict[str, np.ndarray]]] = field(default_factory=dict)

    def file(self, role: str) -> Path:
        return self.folder / NAMES[role][0]


def make_video(rng: np.random.Generator, n_segments: int, visual_start: float = 0.0, nonfinite: bool = True):
    """One video's words (on a 10 ms grid, `sp` in the gaps), COVAREP-like audio at 100 Hz, Facet-like visual at
    30 Hz (starting at `visual_start`), and segments whose edges are word edges."""
    t = round(float(rng.uniform(0.05, 0.3)), 2)
    words, intervals, segments = [], [], []
    for _ in range(n_segments):
        first = len(words)
        for _ in range(int(rng.integers(1, 6))):
            length = round(float(rng.uniform(0.1, 0.6)), 2)
            words.append(VOCAB[int(rng.integers(len(VOCAB)))])
            intervals.append((t, round(t + length, 2)))
            t = round(t + length, 2)
            if rng.random() < 0.3:
                gap = round(float(rng.uniform(0.05, 0.4)), 2)
                words.append("sp")
                intervals.append((t, round(t + gap, 2)))
                t = round(t + gap, 2)
        last = len(words) - 1 if words[-1] != "sp" else len(words) - 2
        segments.append((intervals[first][0], intervals[last][1]))
        t = round(t + 0.2, 2)
    end = t + 0.5
    audio_times = np.arange(0.0, end, 0.01)
    audio = rng.normal(size=(len(audio_times), 5))
    if nonfinite:
        audio[rng.random(len(audio)) < 0.01, 0] = -np.inf  # COVAREP's unvoiced frames
    visual_times = visual_start + np.arange(0, int((end - visual_start) * 30)) / 30
    visual = rng.normal(size=(len(visual_times), 4)).astype(np.float32)
    return {
        "words": {
            "intervals": np.array(intervals, dtype=np.float64),
            "features": np.array([[w.encode("utf-8")] for w in words]),
        },
        "audio": {"intervals": np.stack([audio_times, audio_times + 0.01], axis=1), "features": audio},
        "visual": {"intervals": np.stack([visual_times, visual_times + 1 / 30], axis=1), "features": visual},
        "labels": {
            "intervals": np.array(segments, dtype=np.float64),
            "features": np.round(rng.uniform(-3, 3, size=(n_segments, 1)), 4),
        },
    }


def make_release(
    folder: Path, videos: list[str], seed: int = 0, dataset: str = "CMU-MOSI", nonfinite: bool = True
) -> Release:
    """A MOSI-named release folder holding `videos`, written with the SDK's writer."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    release = Release(folder, {role: {} for role in NAMES})
    for i, video in enumerate(videos):
        parts = make_video(rng, int(rng.integers(1, 4)), visual_start=1.5 if i % 3 == 0 else 0.0, nonfinite=nonfinite)
        for role, entry in parts.items():
            release.data[role][video] = entry
    for role, (name, root) in NAMES.items():
        write_csd(folder / name, root, release.data[role], dataset)
    return release


def fold_file(path: Path, train: list[str], valid: list[str], test: list[str]) -> Path:
    """A JSON fold file."""
    import json

    path.write_text(json.dumps({"train": train, "valid": valid, "test": test}))
    return path
