"""Synthetic files in the exact on-disk structures of the MulT, MMIM and MMSA pickle releases.

`make_utterances` builds the ground truth (unpadded frames, ids, texts, labels); the `*_payload`
functions lay it out as each release does, and the `write_*` functions put it on disk. Tests can
change a payload before writing it to produce each kind of bad input.
"""

from __future__ import annotations

import csv
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SPLIT_SIZES = {"train": 6, "valid": 3, "test": 4}
AUDIO_DIM, VISUAL_DIM = 5, 4
MAX_AUDIO, MAX_VISUAL = 7, 9
MMSA_ALIGNED_LEN = 50
CSV_MODE = {"train": "train", "valid": "dev", "test": "test"}  # the MMSA label CSVs say "dev"


@dataclass
class Utterance:
    """Ground truth for one sample, before any padding."""

    video: str
    clip: str
    text: str
    label: float  # a float32 value
    audio: np.ndarray  # (len, AUDIO_DIM) float32; may hold -inf
    visual: np.ndarray  # (len, VISUAL_DIM) float32

    @property
    def id(self) -> str:
        return f"{self.video}_{self.clip}"


Splits = dict[str, list[Utterance]]


def make_utterances(seed: int = 0) -> Splits:
    """Random utterances per split, with the edge cases every reader must handle.

    train[0] has no audio frames; train[1] has a full-length visual sequence; train[2] has one -inf
    audio value; train[3] starts with an all -inf audio frame (real, not padding); labels include
    exactly -3 and 3; one text needs CSV quoting and one is non-ASCII; video ids contain `_` and `-`.
    """
    rng = np.random.default_rng(seed)
    splits: Splits = {}
    for split, size in SPLIT_SIZES.items():
        rows = []
        for i in range(size):
            audio = rng.standard_normal((int(rng.integers(1, MAX_AUDIO)), AUDIO_DIM)).astype(np.float32)
            visual = rng.standard_normal((int(rng.integers(1, MAX_VISUAL)), VISUAL_DIM)).astype(np.float32)
            label = float(np.float32(rng.integers(-15, 16) / 5))
            words = " ".join(rng.choice(["good", "bad", "movie", "plot", "really", "um"], size=int(rng.integers(1, 6))))
            rows.append(
                Utterance(
                    video=f"{split[:2]}_v-{i // 2}",
                    clip=str(i % 2 + 1),
                    text=words,
                    label=label,
                    audio=audio,
                    visual=visual,
                )
            )
        splits[split] = rows
    train = splits["train"]
    train[0].audio = np.zeros((0, AUDIO_DIM), dtype=np.float32)
    train[1].visual = rng.standard_normal((MAX_VISUAL, VISUAL_DIM)).astype(np.float32)
    train[2].audio[0, 1] = -np.inf
    train[3].audio[0, :] = -np.inf
    train[0].label, train[1].label = 3.0, -3.0
    train[4].text = 'a "quoted", comma text'
    splits["test"][0].text = "café déjà vu"
    return splits


def expected_frames(frames: np.ndarray) -> np.ndarray:
    """What a reader plus validation returns for `frames`: non-finite values replaced by 0."""
    return np.where(np.isfinite(frames), frames, 0.0).astype(np.float32)


def non_finite_count(utterances: list[Utterance], modality: str) -> int:
    """How many non-finite values the utterances hold in `modality`."""
    return sum(int(np.count_nonzero(~np.isfinite(getattr(u, modality)))) for u in utterances)


def write_pickle(path: Path, payload: Any, protocol: int = pickle.HIGHEST_PROTOCOL) -> Path:
    """Pickle `payload` to `path` (creating folders) and return `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(payload, protocol=protocol))
    return path


def left_padded(frames: list[np.ndarray], max_len: int, dim: int) -> np.ndarray:
    """(N, max_len, dim) float32, each sequence at the end after leading zero frames."""
    out = np.zeros((len(frames), max_len, dim), dtype=np.float32)
    for i, f in enumerate(frames):
        out[i, max_len - len(f) :] = f
    return out


def right_padded(frames: list[np.ndarray], max_len: int, dim: int) -> np.ndarray:
    """(N, max_len, dim) float32, each sequence at the start followed by zero frames."""
    out = np.zeros((len(frames), max_len, dim), dtype=np.float32)
    for i, f in enumerate(frames):
        out[i, : len(f)] = f
    return out


# --- MulT: mosi_data_noalign.pkl / mosei_senti_data_noalign.pkl + MOSI-label.csv / MOSEI-label.csv


def mult_payload(
    splits: Splits, with_ids: bool = True, audio_len: int = MAX_AUDIO + 2, visual_len: int = MAX_VISUAL + 1
) -> dict:
    """The MulT pickle: per split `vision`, `audio` (left-padded), `text`, `labels` (N, 1, 1), `id` (N, 3) bytes."""
    payload = {}
    for split, rows in splits.items():
        n = len(rows)
        part = {
            "vision": left_padded([u.visual for u in rows], visual_len, VISUAL_DIM),
            "audio": left_padded([u.audio for u in rows], audio_len, AUDIO_DIM),
            "text": np.zeros((n, 50, 300), dtype=np.float32),
            "labels": np.array([u.label for u in rows], dtype=np.float32).reshape(n, 1, 1),
        }
        if with_ids:
            part["id"] = np.array([[u.id.encode(), b"0.0", f"{i}.5".encode()] for i, u in enumerate(rows)])
        payload[split] = part
    return payload


def write_label_csv(
    path: Path, splits: Splits, order: str = "shuffled", label_shift: dict[str, float] | None = None
) -> Path:
    """The MMSA-style label CSV: video_id, clip_id, text, label, mode, plus an unused column.

    `order="shuffled"` mixes all rows; `order="interleaved"` mixes the splits but keeps each split's
    rows in pickle order (what matching by position needs). `label_shift` adds to some ids' labels.
    """
    rows = [(split, u) for split, utterances in splits.items() for u in utterances]
    if order == "shuffled":
        rows = [rows[i] for i in np.random.default_rng(1).permutation(len(rows))]
    else:
        queues = {split: [(split, u) for u in utterances] for split, utterances in splits.items()}
        rows = []
        while any(queues.values()):
            for queue in queues.values():
                if queue:
                    rows.append(queue.pop(0))
    shift = label_shift or {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video_id", "clip_id", "text", "label", "annotation", "mode"])
        for split, u in rows:
            writer.writerow([u.video, u.clip, u.text, repr(u.label + shift.get(u.id, 0.0)), "Neutral", CSV_MODE[split]])
    return path


def write_mult(folder: Path, splits: Splits, variant: str = "mosi") -> Path:
    """A MulT folder: the pickle of `variant` (`mosi` with ids, `mosei` without) and its label CSV."""
    if variant == "mosi":
        write_label_csv(folder / "MOSI-label.csv", splits)
        return write_pickle(folder / "mosi_data_noalign.pkl", mult_payload(splits))
    write_label_csv(folder / "MOSEI-label.csv", splits, order="interleaved")
    return write_pickle(folder / "mosei_senti_data_noalign.pkl", mult_payload(splits, with_ids=False))


# --- MMIM: train.pkl / dev.pkl / test.pkl, lists of ((words, visual, acoustic, actual_words, vlen, alen), label, id)


def mmim_sample(u: Utterance, id_as_bytes: bool = False) -> tuple:
    """One MMIM sample; `acoustic` is float64 as in the release, `visual` float32."""
    actual_words = u.text.split(" ")
    words = np.arange(len(actual_words), dtype=np.int64)
    features = (words, u.visual, u.audio.astype(np.float64), actual_words, len(u.visual), len(u.audio))
    return features, np.array([[u.label]], dtype=np.float32), (u.id.encode() if id_as_bytes else u.id)


def mmim_payload(rows: list[Utterance]) -> list[tuple]:
    """One MMIM split file's content; every second id is stored as bytes."""
    return [mmim_sample(u, id_as_bytes=i % 2 == 1) for i, u in enumerate(rows)]


def write_mmim(folder: Path, splits: Splits) -> Path:
    """An MMIM folder with train.pkl, dev.pkl and test.pkl."""
    for split, name in (("train", "train.pkl"), ("valid", "dev.pkl"), ("test", "test.pkl")):
        write_pickle(folder / name, mmim_payload(splits[split]))
    return folder


# --- MMSA: aligned_50.pkl / unaligned_50.pkl


def mmsa_payload(splits: Splits, aligned: bool) -> dict:
    """The MMSA pickle: right-padded `audio`, `vision`; object arrays `raw_text`, `id` ("v$_$c"); labels.

    Unaligned data also stores `audio_lengths` (a list) and `vision_lengths` (an int64 array).
    """
    audio_len = MMSA_ALIGNED_LEN if aligned else MAX_AUDIO + 1
    visual_len = MMSA_ALIGNED_LEN if aligned else MAX_VISUAL + 3
    payload = {}
    for split, rows in splits.items():
        n = len(rows)
        part = {
            "raw_text": np.array([u.text for u in rows], dtype=object),
            "audio": right_padded([u.audio for u in rows], audio_len, AUDIO_DIM),
            "vision": right_padded([u.visual for u in rows], visual_len, VISUAL_DIM),
            "text_bert": np.zeros((n, 3, MMSA_ALIGNED_LEN), dtype=np.float32),
            "id": np.array([f"{u.video}$_${u.clip}" for u in rows], dtype=object),
            "regression_labels": np.array([u.label for u in rows], dtype=np.float32),
            "classification_labels": np.array([np.sign(u.label) + 1 for u in rows], dtype=np.float32),
        }
        if not aligned:
            part["audio_lengths"] = [len(u.audio) for u in rows]
            part["vision_lengths"] = np.array([len(u.visual) for u in rows], dtype=np.int64)
        payload[split] = part
    return payload


def write_mmsa(folder: Path, splits: Splits, aligned: bool = False) -> Path:
    """`aligned_50.pkl` or `unaligned_50.pkl` in `folder`; returns the file."""
    name = "aligned_50.pkl" if aligned else "unaligned_50.pkl"
    return write_pickle(folder / name, mmsa_payload(splits, aligned))


# --- hostile pickles


class Reduce:
    """Pickles as a call `func(*args)`: what a hostile file does to run code when unpickled."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args
