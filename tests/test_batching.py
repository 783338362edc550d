"""Batches cut from an encoded split: gather, truncation, masks."""

from __future__ import annotations

import numpy as np
import torch

from hscl.data.batching import EncodedSequences
from hscl.data.types import Sequences


def test_gather_truncates_to_the_longest_sample_and_masks_the_rest():
    features = np.arange(3 * 4 * 2, dtype=np.float32).reshape(3, 4, 2)
    seq = EncodedSequences.from_numpy(Sequences(features, np.array([1, 3, 0], dtype=np.int64)))
    gathered, mask = seq.gather(torch.tensor([0, 2]))
    assert gathered.shape == (2, 1, 2) and mask.tolist() == [[True], [False]]
    gathered, mask = seq.gather(torch.tensor([1, 0]))
    assert torch.equal(gathered, torch.from_numpy(features[[1, 0], :3]))
    assert mask.tolist() == [[True, True, True], [True, False, False]]


def test_sequences_without_any_frame_still_give_one_masked_frame():
    seq = EncodedSequences.from_numpy(Sequences(np.zeros((2, 0, 3), np.float32), np.zeros(2, np.int64)))
    gathered, mask = seq.gather(torch.tensor([0, 1]))
    assert gathered.shape == (2, 1, 3) and not mask.any()
