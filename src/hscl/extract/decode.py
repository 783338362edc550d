"""Decode media files with PyAV (FFmpeg's libraries from the wheel; no system ffmpeg needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np


class DecodeError(Exception):
    """A file that cannot be decoded; the message says why (reported per file, never fatal)."""


def read_audio(path: Path, sample_rate: int) -> np.ndarray | None:
    """The first audio stream as mono float32 samples at `sample_rate`, or None if the file has none."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            chunks = []
            for frame in container.decode(stream):
                chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
            chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise DecodeError(f"cannot decode audio: {error}") from error
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, dtype=np.float32)


def has_video(path: Path) -> bool:
    """True if the file holds a video stream."""
    import av

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.video)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise DecodeError(f"cannot open: {error}") from error


def sample_video(path: Path, fps: float) -> Iterator[tuple[float, np.ndarray]]:
    """(time in seconds, RGB uint8 frame (H, W, 3)) at most `fps` times a second, in order.

    A decoded frame is kept when its time reaches the next sampling instant k / fps, so a source
    slower than `fps` gives every one of its frames and a faster one is thinned evenly.
    """
    import av

    step = 1.0 / fps
    next_time = 0.0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DecodeError("no video stream")
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                if frame.time is None:
                    raise DecodeError("video frames carry no timestamps")
                time = float(frame.time)
                if time + 1e-6 < next_time:
                    continue
                yield time, frame.to_ndarray(format="rgb24")
                next_time = (np.floor(time / step + 1e-6) + 1) * step
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise DecodeError(f"cannot decode video: {error}") from error
