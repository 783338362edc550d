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


EXAMPLE_CLIPS = [  # (id, split, label, transcript): the README's worked example of `hscl extract`
    ("alice_1", "train", 2.4, "I really loved this movie"),
    ("alice_2", "train", -1.8, "the plot made no sense at all"),
    ("bob_1", "train", 1.2, "pretty good acting"),
    ("bob_2", "train", -2.6, "it was a waste of time"),
    ("carol_1", "valid", 2.0, "a wonderful story"),
    ("carol_2", "valid", -1.0, "too long and boring"),
    ("dave_1", "test", 1.6, "the best film this year"),
    ("dave_2", "test", -2.2, "awful from start to end"),
]


def write_example(clips: Path, transcripts: Path, extra: Path) -> None:
    """One-second example clips in `clips` (the astronaut's face, a voice whose pitch follows the label), their
    transcripts CSV, and one more clip `extra` that is not in it."""
    clips.mkdir(parents=True, exist_ok=True)
    rows = ["id,text,label,split"]
    for number, (clip_id, split, label, text) in enumerate(EXAMPLE_CLIPS):
        write_clip(clips / f"{clip_id}.mp4", audio=voice(1.0, 140 + 20 * label, seed=number), size=128)
        rows.append(f"{clip_id},{text},{label},{split}")
    transcripts.write_text("\n".join(rows) + "\n", encoding="utf-8")
    write_clip(extra, audio=voice(1.0, 180, seed=99), size=128)


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 4:
        sys.exit("usage: python tests/media_fixtures.py CLIPS_FOLDER TRANSCRIPTS_CSV EXTRA_CLIP")
    write_example(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
