"""Extraction throughput per modality as a multiple of real time, and the speed-up of `--jobs 2`.

Makes its own media (the astronaut photo drifting over 4-s clips at 25 frames/s, 320x320, with a
synthetic voice), then times, side by side in one run: audio decoding, openSMILE eGeMAPS and ComParE
descriptors, video decoding, and MediaPipe face features at 10 sampled frames/s; then whole
`hscl extract` runs over the clips with 1 and 2 processes (each a fresh command, start-up included).

    nice .venv/bin/python benchmarks/extract.py [--clips 6] [--seconds 4]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from _timing import format_table, load_line, machine_header  # noqa: E402
from hscl.extract import audio, decode, face  # noqa: E402
from hscl.extract.settings import SAMPLE_RATE  # noqa: E402
from media_fixtures import voice, write_clip  # noqa: E402


def timed(function, *args) -> tuple[float, object]:
    """Seconds `function(*args)` took, and what it returned."""
    start = time.perf_counter()
    value = function(*args)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    print(machine_header("extraction throughput (hscl extract)"))
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        clips = root / "clips"
        clips.mkdir()
        for i in range(args.clips):
            write_clip(
                clips / f"clip{i}.mp4",
                seconds=args.seconds,
                fps=25,
                size=320,
                audio=voice(args.seconds, 110 + 10 * i, seed=i),
            )
        (root / "t.csv").write_text("id,text\n" + "".join(f"clip{i},words\n" for i in range(args.clips)))
        media_seconds = args.clips * args.seconds
        face.face_features(decode.sample_video(clips / "clip0.mp4", 1).__next__()[1], "geometry")  # load the models
        audio.audio_features(voice(1.0), SAMPLE_RATE, "egemaps", 25)
        audio.audio_features(voice(1.0), SAMPLE_RATE, "compare", 25)
        stages = {
            name: 0.0
            for name in (
                "audio decode",
                "openSMILE eGeMAPS LLD",
                "openSMILE ComParE LLD",
                "video decode, 10 frames/s",
                "MediaPipe face geometry, 10 frames/s",
            )
        }
        faces = 0
        for clip in sorted(clips.iterdir()):
            seconds, signal = timed(decode.read_audio, clip, SAMPLE_RATE)
            stages["audio decode"] += seconds
            for feature_set, stage in (("egemaps", "openSMILE eGeMAPS LLD"), ("compare", "openSMILE ComParE LLD")):
                stages[stage] += timed(audio.audio_features, signal, SAMPLE_RATE, feature_set, 25)[0]
            seconds, frames = timed(lambda path: list(decode.sample_video(path, 10)), clip)
            stages["video decode, 10 frames/s"] += seconds
            seconds, found = timed(
                lambda images: [face.face_features(image, "geometry") for _, image in images], frames
            )
            stages["MediaPipe face geometry, 10 frames/s"] += seconds
            faces += sum(f is not None for f in found)
        rows = [(name, f"{seconds:.2f}", f"{media_seconds / seconds:.1f}x") for name, seconds in stages.items()]
        print(
            f"\n{args.clips} clips x {args.seconds:g} s = {media_seconds:g} s of media; "
            f"faces found in {faces} sampled frames"
        )
        print(format_table(["stage (one process)", "seconds", "x real time"], rows))
        walls = {}
        for jobs in (1, 2):  # each a fresh `hscl extract` process, so both pay their start-up
            command = [
                sys.executable,
                "-m",
                "hscl.cli",
                "extract",
                str(clips),
                "--transcripts",
                str(root / "t.csv"),
                "--out",
                str(root / f"out{jobs}"),
                "--jobs",
                str(jobs),
                "--no-progress",
            ]
            walls[jobs], _ = timed(partial(subprocess.run, check=True, capture_output=True), command)
        print("\nwhole `hscl extract` runs (eGeMAPS + face geometry, 10 frames/s), wall clock of a fresh process:")
        print(
            format_table(
                ["jobs", "seconds", "x real time"],
                [(str(j), f"{w:.2f}", f"{media_seconds / w:.1f}x") for j, w in walls.items()],
            )
        )
        print(f"speed-up of --jobs 2 over --jobs 1: {walls[1] / walls[2]:.2f}x")
    print(load_line())


if __name__ == "__main__":
    main()
