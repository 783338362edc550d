"""Turn a split into tensors once (tokenising its texts once), then cut batches by indexing.

No per-sample Python work happens per batch: a batch is a gather of rows followed by a truncation
to the longest sample in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from hscl.data.types import Batch, Sequences, SplitData


@dataclass
class EncodedSequences:
    """Right-padded features as tensors, with lengths."""

    features: torch.Tensor  # (N, L, d) float32
    lengths: torch.Tensor  # (N,) long

    @classmethod
    def from_numpy(cls, seq: Sequences) -> EncodedSequences:
        """Wrap a `Sequences` (without copying, unless it has no frame at all: then one zero frame)."""
        features = np.ascontiguousarray(seq.features, dtype=np.float32)
        if features.shape[1] == 0:  # `gather` always returns at least one (masked) frame
            features = np.zeros((features.shape[0], 1, features.shape[2]), dtype=np.float32)
        return cls(torch.from_numpy(features), torch.from_numpy(np.asarray(seq.lengths, dtype=np.int64)))

    def gather(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows `index`, truncated to their longest length, and their True-on-real mask."""
        lengths = self.lengths[index]
        width = max(int(lengths.max()), 1)
        features = self.features[index, :width]
        mask = torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)
        return features, mask


@dataclass
class EncodedSplit:
    """A split with texts tokenised once and every array a tensor."""

    input_ids: torch.Tensor  # (N, Lt) long, right-padded with the tokenizer's pad id
    text_lengths: torch.Tensor  # (N,) long
    labels: torch.Tensor  # (N,) float32
    audio: EncodedSequences | None
    visual: EncodedSequences | None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batch(self, index: torch.Tensor) -> Batch:
        """The batch made of rows `index` (a 1-D long tensor)."""
        lengths = self.text_lengths[index]
        width = int(lengths.max())
        attention_mask = torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)
        audio, audio_mask = self.audio.gather(index) if self.audio is not None else (None, None)
        visual, visual_mask = self.visual.gather(index) if self.visual is not None else (None, None)
        return Batch(
            input_ids=self.input_ids[index, :width],
            attention_mask=attention_mask,
            labels=self.labels[index],
            audio=audio,
            audio_mask=audio_mask,
            visual=visual,
            visual_mask=visual_mask,
        )


def encode_split(split: SplitData, tokenizer, max_text_len: int = 50) -> EncodedSplit:
    """Tokenise every text of `split` once (truncating to `max_text_len` tokens) and tensorise it."""
    if len(split) == 0:
        raise ValueError("cannot encode an empty split")
    tokens = tokenizer(
        list(split.texts), padding="longest", truncation=True, max_length=max_text_len, return_tensors="pt"
    )
    return EncodedSplit(
        input_ids=tokens["input_ids"].long(),
        text_lengths=tokens["attention_mask"].sum(dim=1).long(),
        labels=torch.from_numpy(np.asarray(split.labels, dtype=np.float32)),
        audio=None if split.audio is None else EncodedSequences.from_numpy(split.audio),
        visual=None if split.visual is None else EncodedSequences.from_numpy(split.visual),
    )


def batch_indices(
    n: int, batch_size: int, shuffle: bool, generator: torch.Generator | None = None, drop_last: bool = False
) -> list[torch.Tensor]:
    """The row indices of each batch of one epoch, in order."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    chunks = list(torch.split(order, batch_size))
    if drop_last and len(chunks) > 1 and len(chunks[-1]) < batch_size:
        chunks.pop()
    return chunks


def iter_batches(
    encoded: EncodedSplit,
    batch_size: int,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[Batch]:
    """Batches covering `encoded` once, shuffled with `generator` when `shuffle`."""
    for index in batch_indices(len(encoded), batch_size, shuffle, generator, drop_last):
        yield encoded.batch(index)
