"""Media the tests make themselves: scikit-image's astronaut photo moved and scaled into a short video,
blank frames where a face must not be found, and a synthetic voice-like audio track (numpy only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000


def voice(seconds: float, pitch: float = 140.0, seed: int = 0) -> np.ndarray:
    """A voiced-speech-like mono signal: a harmonic tone with vibrato, amplitude-modulated at syllable rate, and
    noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = pitch * (1 + 0.05 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    harmonics = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    return (0.2 * harmonics * envelope + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def face_frames(count: int, size: int = 192, blank: frozenset[int] = frozenset()) -> list[np.ndarray]:
    """`count` RGB frames of the astronaut's face drifting and zooming; frames in `blank` are flat grey (no face)."""
    from skimage import data, transform

    photo = data.astronaut()
    frames = []
    for i in range(count):
        if i in blank:
            frames.append(np.full((size, size, 3), 128, dtype=np.uint8))
            continue
        zoom = 1.0 + 0.15 * i / max(count - 1, 1)
        half = int(150 / zoom)
        top, left = 120 - half + i % 5, 235 - half + 2 * (i % 4)
        crop = photo[max(top, 0) : top + 2 * half, max(left, 0) : left + 2 * half]
        frames.append((transform.resize(crop, (size, size), anti_aliasing=True) * 255).astype(np.uint8))
    return frames


def write_clip(
    path: Path,
    seconds: float = 1.0,
    fps: int = 10,
    audio: np.ndarray | None = None,
    video: bool = True,
    blank: frozenset[int] = frozenset(),
    size: int = 192,
) -> Path:
    """An MP4 (MPEG-4 video, AAC audio) or, without video, a WAV file; `audio=None` writes `voice(seconds)`."""
    import av

    signal = voice(seconds) if audio is None else audio
    with av.open(str(path), "w") as container:
        vstream = None
        if video:
            vstream = container.add_stream("mpeg4", rate=fps)
            vstream.width = vstream.height = size
            vstream.pix_fmt = "yuv420p"
        astream = container.add_stream("aac" if video else "pcm_s16le", rate=SAMPLE_RATE, layout="mono")
        if video:
            for image in face_frames(int(seconds * fps), size, blank):
                container.mux(vstream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            container.mux(vstream.encode(None))
        samples = signal if video else (np.clip(signal, -1, 1) * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt" if video else "s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        container.mux(astream.encode(frame))
        container.mux(astream.encode(None))
    return path
