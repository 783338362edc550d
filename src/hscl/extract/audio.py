"""Frame-level acoustic descriptors from openSMILE (eGeMAPS v02 or ComParE 2016 low-level descriptors)."""

from __future__ import annotations

from functools import cache

import numpy as np

from hscl.extract.settings import LLD_RATE

# hscl's name of each set -> the openSMILE FeatureSet member (low-level descriptors, 10 ms hop).
OPENSMILE_SETS: dict[str, str] = {"egemaps": "eGeMAPSv02", "compare": "ComParE_2016"}
SILENCE_RMS = 1e-4  # below this root-mean-square amplitude (about -80 dBFS) a segment counts as silent


@cache
def _smile(audio_set: str):
    import opensmile

    return opensmile.Smile(
        feature_set=getattr(opensmile.FeatureSet, OPENSMILE_SETS[audio_set]),
        feature_level=opensmile.FeatureLevel.LowLevelDescriptors,
    )


def feature_names(audio_set: str) -> list[str]:
    """openSMILE's names of the descriptors of `audio_set`, in column order."""
    return list(_smile(audio_set).feature_names)


def is_silent(signal: np.ndarray) -> bool:
    """True for an empty signal or one whose RMS amplitude is below `SILENCE_RMS`."""
    return signal.size == 0 or float(np.sqrt(np.mean(np.square(signal, dtype=np.float64)))) < SILENCE_RMS


def audio_features(signal: np.ndarray, sample_rate: int, audio_set: str, rate: int) -> np.ndarray:
    """(T, d) float32 descriptors of a mono signal at `rate` frames per second.

    openSMILE gives one frame per 10 ms; groups of `100 / rate` consecutive frames are averaged
    (a last, incomplete group is averaged over the frames it has).
    """
    frames = _smile(audio_set).process_signal(signal, sample_rate).to_numpy(dtype=np.float32)
    return pool_frames(frames, LLD_RATE // rate)


def pool_frames(frames: np.ndarray, group: int) -> np.ndarray:
    """Means of consecutive groups of `group` rows of `frames` (T, d); the last group may be shorter."""
    if group == 1 or len(frames) == 0:
        return np.ascontiguousarray(frames, dtype=np.float32)
    starts = np.arange(0, len(frames), group)
    sums = np.add.reduceat(frames.astype(np.float64), starts, axis=0)
    counts = np.minimum(group, len(frames) - starts)[:, None]
    return (sums / counts).astype(np.float32)
