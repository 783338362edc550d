"""One media file to feature sequences: decode it once, then cut every utterance out of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hscl.extract.decode import DecodeError, has_video, read_audio, sample_video
from hscl.extract.inputs import Utterance
from hscl.extract.settings import SAMPLE_RATE, ExtractSettings

END_SLACK = 0.25  # seconds an utterance may end after the decoded media (codec padding, rounded end times)


@dataclass
class UtteranceFeatures:
    """One utterance's sequences and what happened to its frames."""

    audio: np.ndarray | None  # (T, d) float32
    visual: np.ndarray | None  # (T, d) float32: frames with a face only
    video_frames: int = 0  # sampled video frames in the span
    faceless_frames: int = 0  # of those, frames without a detected face (left out of `visual`)
    truncated: bool = False  # a sequence was longer than max_frames and was cut


@dataclass
class FileFeatures:
    """Features of every usable utterance of a file, and one line per utterance that could not be used."""

    utterances: dict[str, UtteranceFeatures] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # utterance id -> why it was left out


def extract_file(path: Path, utterances: list[Utterance], settings: ExtractSettings) -> FileFeatures:
    """Features of `utterances` of the media file `path`; a `DecodeError` when the file itself is unusable."""
    result = FileFeatures()
    signal = _audio(path) if settings.audio_set != "none" else None
    faces = _faces(path, settings) if settings.face_set != "none" else None
    duration = _duration(signal, faces)
    for utterance in utterances:
        end = duration if utterance.end is None else utterance.end
        if utterance.start >= duration:
            result.problems[utterance.id] = (
                f"starts at {utterance.start:g} s, after the end of the media ({duration:.3f} s)"
            )
            continue
        slack = END_SLACK + (0.0 if signal is not None else 1.0 / settings.fps)  # the last video frame lasts
        if utterance.end is not None and utterance.end > duration + slack:
            result.problems[utterance.id] = (
                f"ends at {utterance.end:g} s, after the end of the media ({duration:.3f} s): "
                "its span would be cut short; correct its end time"
            )
            continue
        features, problem = _utterance(utterance.start, end, signal, faces, settings)
        if problem:
            result.problems[utterance.id] = problem
        else:
            result.utterances[utterance.id] = features
    return result


def _audio(path: Path) -> np.ndarray:
    signal = read_audio(path, SAMPLE_RATE)
    if signal is None:
        raise DecodeError("no audio stream (use --audio-set none for silent video)")
    return signal


def _faces(path: Path, settings: ExtractSettings) -> list[tuple[float, np.ndarray | None]]:
    """(time, features or None) of each sampled frame."""
    from hscl.extract.face import face_features

    if not has_video(path):
        raise DecodeError("no video stream (use --face-set none for audio-only files)")
    return [(time, face_features(frame, settings.face_set)) for time, frame in sample_video(path, settings.fps)]


def _duration(signal: np.ndarray | None, faces: list[tuple[float, np.ndarray | None]] | None) -> float:
    spans = []
    if signal is not None:
        spans.append(len(signal) / SAMPLE_RATE)
    if faces:
        spans.append(faces[-1][0] + 1e-6)
    if not spans or max(spans) <= 0:
        raise DecodeError("holds no decodable audio samples or video frames")
    return max(spans)


def _utterance(
    start: float, end: float, signal: np.ndarray | None, faces: list | None, settings: ExtractSettings
) -> tuple[UtteranceFeatures | None, str]:
    """The features of the span [start, end), or (None, why it is unusable)."""
    from hscl.extract.audio import audio_features, is_silent

    features = UtteranceFeatures(audio=None, visual=None)
    if signal is not None:
        piece = signal[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]
        if is_silent(piece):
            return None, "silent audio (RMS below -80 dBFS)"
        audio = audio_features(piece, SAMPLE_RATE, settings.audio_set, settings.audio_rate)
        if len(audio) == 0:
            return None, f"audio too short for one openSMILE frame ({len(piece) / SAMPLE_RATE:.3f} s)"
        features.audio, cut = _cap(audio, settings.max_frames)
        features.truncated |= cut
    if faces is not None:
        span = [values for time, values in faces if start <= time < end]
        found = [values for values in span if values is not None]
        features.video_frames, features.faceless_frames = len(span), len(span) - len(found)
        if not found:
            return None, f"no face found in any of its {len(span)} sampled video frames"
        features.visual, cut = _cap(np.stack(found).astype(np.float32), settings.max_frames)
        features.truncated |= cut
    return features, ""


def _cap(frames: np.ndarray, max_frames: int) -> tuple[np.ndarray, bool]:
    return frames[:max_frames], len(frames) > max_frames
