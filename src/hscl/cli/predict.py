"""`hscl predict`: write a run's predictions for a dataset, or for new media clips, as CSV."""

from __future__ import annotations

import argparse

from hscl.cli._shared import DEVICE_HELP, FORMAT_HELP, start_logging

COLUMNS_HELP = (  # the columns of hscl.scores.Scores, in words (here: no numpy at start-up)
    "score: the prediction clipped to [-3, 3]; class7: round(score), -3..3; polarity: positive when "
    "score >= 0, else negative (the has0 convention of Acc-2); raw: the model's output before clipping"
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `hscl predict`."""
    parser = sub.add_parser(
        "predict",
        help="write predictions of a run for a dataset or media files",
        description="Write the predictions of a run's selected model as CSV, to --out or to standard output: "
        "for a dataset (--data, or the run's own: id, split, score, class7, polarity, raw, label) or for "
        "video/audio files (--media: id, file, score, class7, polarity, raw), which are extracted with "
        f"exactly the settings of the run's training data. {COLUMNS_HELP}.",
    )
    parser.add_argument("run_dir", help="a run directory written by `hscl train`")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", help="dataset file or folder (default: the run's own dataset)")
    source.add_argument(
        "--media", nargs="+", help="media files or folders (the run must be trained on `hscl extract` output)"
    )
    parser.add_argument("--format", help=f"format of --data: {FORMAT_HELP}")
    parser.add_argument(
        "--split", default="test", choices=["train", "valid", "test", "all"], help="split(s) of --data to predict"
    )
    parser.add_argument("--text", help="the transcript of a single --media file")
    parser.add_argument(
        "--transcripts",
        action="append",
        default=[],
        metavar="FILE",
        help="for --media: a CSV with columns id,text, or an SRT file (repeatable), as for `hscl extract`",
    )
    parser.add_argument("--segments", help="for --media: CSV with columns id,file,start,end (as for `hscl extract`)")
    parser.add_argument(
        "--jobs", type=int, default=1, help="for --media: files extracted at once (default: %(default)s)"
    )
    parser.add_argument(
        "--out",
        help="CSV file to write (a new file, or one to replace; never an input); without it, the CSV goes to "
        "standard output",
    )
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument(
        "--engine",
        default="torch",
        choices=["torch", "onnx"],
        help="what runs the model: torch, or onnxruntime on the CPU (onnx: the run's export, written by "
        "`hscl export RUN --onnx`)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Predict and say how many rows were written."""
    from hscl.errors import ConfigError

    media_only = [
        flag
        for flag, value in (("--text", args.text), ("--transcripts", args.transcripts), ("--segments", args.segments))
        if value
    ]
    if args.media is None and media_only:
        raise ConfigError(f"{', '.join(media_only)} go(es) with --media, not with --data or the run's own dataset")
    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs} must be at least 1")
    start_logging()
    if args.media is not None:
        from hscl.extract.prediction import predict_media

        rows = predict_media(
            args.run_dir,
            args.media,
            args.out,
            text=args.text,
            transcripts=args.transcripts,
            segments=args.segments,
            jobs=args.jobs,
            device=args.device,
            engine=args.engine,
        )
    else:
        from hscl.extract.records import check_same_extraction
        from hscl.training.inference import predict_run

        if args.data is not None:
            check_same_extraction(args.run_dir, args.data)
        rows = predict_run(
            args.run_dir,
            args.data,
            args.out,
            format=args.format,
            split=args.split,
            device=args.device,
            engine=args.engine,
        )
    if args.out is not None:
        print(f"wrote {rows} predictions to {args.out}")
    return 0
