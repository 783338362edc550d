"""`hscl extract`: features from video or audio files, written as a dataset `hscl train` reads."""

from __future__ import annotations

import argparse

from hscl.extract.settings import AUDIO_RATES, AUDIO_SETS, FACE_SETS, ExtractSettings

DEFAULTS = ExtractSettings()


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `hscl extract`."""
    parser = sub.add_parser(
        "extract",
        help="extract audio and face features from media into a dataset",
        description="Decode video or audio files (PyAV), compute openSMILE acoustic descriptors and MediaPipe "
        "face features per frame, and write a dataset that `hscl train`, `hscl data inspect` and "
        "`hscl predict --data` read. Re-running with the same --out skips files already done.",
    )
    parser.add_argument("media", nargs="+", help="media files, or folders searched recursively")
    parser.add_argument(
        "--out", required=True, help="dataset folder to write (new, empty, or an earlier extract to resume)"
    )
    parser.add_argument(
        "--segments",
        help="CSV with columns id,file,start,end (seconds): one row per utterance; "
        "without it every file is one utterance whose id is its name without extension",
    )
    parser.add_argument(
        "--transcripts",
        action="append",
        default=[],
        metavar="FILE",
        help="CSV with columns id,text and optionally label (-3..3) and split (train/valid/test), "
        "or an SRT file named like a media file (each cue one utterance; repeat the flag for "
        "several); without labels the dataset serves prediction only",
    )
    parser.add_argument(
        "--audio-set",
        default=DEFAULTS.audio_set,
        choices=AUDIO_SETS,
        help="openSMILE low-level descriptors: egemaps (25, eGeMAPS v02), compare (65, ComParE 2016) "
        "or none (default: %(default)s)",
    )
    parser.add_argument(
        "--audio-rate",
        type=int,
        default=DEFAULTS.audio_rate,
        choices=AUDIO_RATES,
        metavar="HZ",
        help="audio frames per second, a divisor of 100 (default: %(default)s)",
    )
    parser.add_argument(
        "--face-set",
        default=DEFAULTS.face_set,
        choices=FACE_SETS,
        help="MediaPipe face features: geometry (20: head pose and expression), landmarks "
        "(1434: 478 normalised x,y,z) or none (default: %(default)s)",
    )
    parser.add_argument(
        "--fps",
        type=float,
        default=DEFAULTS.fps,
        help="video frames per second sampled for the face (default: %(default)s)",
    )
    parser.add_argument(
        "--max-frames",
        type=int,
        default=DEFAULTS.max_frames,
        help="longest sequence kept per modality; longer ones are cut and counted (default: %(default)s)",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="files extracted at once, in separate processes (default: %(default)s)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check every input, extract what is not cached yet, write the dataset and its report."""
    from pathlib import Path

    from hscl.errors import ConfigError
    from hscl.extract.pipeline import extract

    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs} must be at least 1")
    settings = ExtractSettings(
        audio_set=args.audio_set,
        audio_rate=args.audio_rate,
        face_set=args.face_set,
        fps=args.fps,
        max_frames=args.max_frames,
    )
    summary = extract(
        args.media,
        Path(args.out),
        settings,
        segments=args.segments,
        transcripts=args.transcripts,
        jobs=args.jobs,
        progress=not args.no_progress,
    )
    print(summary)
    return 0
