"""`hscl predict`: write a run's predictions for a dataset as CSV."""
from __future__ import annotations

import argparse

from hscl.cli._shared import DEVICE_HELP, start_logging


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `hscl predict`."""
    parser = sub.add_parser("predict", help="write predictions of a run for a dataset",
                            description="Write the predictions of a run's selected model as CSV (id, split, "
                                        "prediction, label).")
    parser.add_argument("run_dir", help="a run directory written by `hscl train`")
    parser.add_argument("--data", required=True, help="dataset file or folder")
    parser.add_argument("--format", help="format of --data (default: detect; see `hscl data inspect --help`)")
    parser.add_argument("--split", default="test", choices=["train", "valid", "test", "all"], help="split(s) to predict")
    parser.add_argument("--out", required=True, help="CSV file to write (a new file, or one to replace; never the --data input)")
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Predict and say how many rows were written."""
    start_logging()
    from hscl.training.inference import predict_run

    rows = predict_run(args.run_dir, args.data, args.out, format=args.format, split=args.split, device=args.device)
    print(f"wrote {rows} predictions to {args.out}")
    return 0
