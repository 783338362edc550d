"""The one in-memory dataset type every reader returns, and the typed batch the model consumes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

SPLITS: tuple[str, ...] = ("train", "valid", "test")
MODALITIES: tuple[str, ...] = ("audio", "visual")
LABEL_RANGE: tuple[float, float] = (-3.0, 3.0)
ROW_CHUNK = 1024  # rows per step when scanning large (N, L, d) arrays, to bound temporary memory


def row_chunks(rows: int) -> Iterator[slice]:
    """Consecutive slices of at most ROW_CHUNK rows covering `rows` rows."""
    for start in range(0, rows, ROW_CHUNK):
        yield slice(start, min(start + ROW_CHUNK, rows))


@dataclass
class Sequences:
    """A batch of variable-length feature sequences, stored right-padded.

    `features[i, :lengths[i]]` are sample i's real frames; frames past its length are zeros.
    """

    features: np.ndarray  # (N, L, d) float32
    lengths: np.ndarray  # (N,) int64, each in [0, L]

    @property
    def dim(self) -> int:
        """Feature size d."""
        return int(self.features.shape[2])

    @property
    def max_len(self) -> int:
        """Padded length L."""
        return int(self.features.shape[1])

    def select(self, index: np.ndarray) -> Sequences:
        """Rows `index`, as a new `Sequences`."""
        return Sequences(self.features[index], self.lengths[index])

    @classmethod
    def from_frames(cls, frames: list[np.ndarray], dim: int) -> Sequences:
        """Unpadded (len_i, dim) arrays, right-padded to the longest as float32."""
        lengths = np.array([len(f) for f in frames], dtype=np.int64)
        features = np.zeros((len(frames), int(lengths.max()) if len(frames) else 0, dim), dtype=np.float32)
        for i, sample in enumerate(frames):
            features[i, : len(sample)] = sample
        return cls(features, lengths)


@dataclass
class SplitData:
    """One split (train, valid or test) of a multimodal sentiment dataset."""

    ids: list[str]
    texts: list[str]
    labels: np.ndarray  # (N,) float32 in [-3, 3]
    audio: Sequences | None = None
    visual: Sequences | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def modality(self, name: str) -> Sequences | None:
        """`audio` or `visual` by name."""
        if name not in MODALITIES:
            raise KeyError(f"unknown modality {name!r}; expected one of {MODALITIES}")
        return getattr(self, name)

    def select(self, index: np.ndarray) -> SplitData:
        """Rows `index`, as a new `SplitData`."""
        index = np.asarray(index, dtype=np.int64)
        return SplitData(
            ids=[self.ids[i] for i in index],
            texts=[self.texts[i] for i in index],
            labels=self.labels[index],
            audio=None if self.audio is None else self.audio.select(index),
            visual=None if self.visual is None else self.visual.select(index),
        )


@dataclass
class MSADataset:
    """A multimodal sentiment dataset: the train/valid/test splits and where they came from."""

    splits: dict[str, SplitData]
    source: str = ""
    format: str = ""
    notes: list[str] = field(default_factory=list)
    feature_files: dict[str, str] = field(default_factory=dict)
    """The file each modality's features were read from, where that is not `source` (errors name it)."""
    extraction: dict[str, Any] | None = None
    """How `hscl extract` made the features (its manifest record); every run trained on them keeps a copy."""

    def __getitem__(self, split: str) -> SplitData:
        if split not in self.splits:
            raise KeyError(f"{self.source}: no split {split!r}; has {sorted(self.splits)}")
        return self.splits[split]

    @property
    def modalities(self) -> tuple[str, ...]:
        """The non-text modalities present (the same in every split)."""
        first = next(iter(self.splits.values()))
        return tuple(m for m in MODALITIES if first.modality(m) is not None)

    def feature_dim(self, modality: str) -> int | None:
        """Feature size of `audio` or `visual`, or None if the dataset lacks it."""
        seq = next(iter(self.splits.values())).modality(modality)
        return None if seq is None else seq.dim


@dataclass
class Batch:
    """A padded, masked mini-batch. Masks are True on real positions (Hugging Face convention)."""

    input_ids: torch.Tensor  # (B, Lt) long
    attention_mask: torch.Tensor  # (B, Lt) bool
    labels: torch.Tensor  # (B,) float32: the targets the loss reads
    audio: torch.Tensor | None = None  # (B, La, da) float32
    audio_mask: torch.Tensor | None = None  # (B, La) bool
    visual: torch.Tensor | None = None  # (B, Lv, dv) float32
    visual_mask: torch.Tensor | None = None  # (B, Lv) bool

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """The same batch with every tensor on `device`."""
        moved = {
            name: (None if value is None else value.to(device, non_blocking=non_blocking))
            for name, value in self.__dict__.items()
        }
        return Batch(**moved)
