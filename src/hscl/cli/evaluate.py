"""`hscl evaluate`: reload a run's selected model and score one split."""

from __future__ import annotations

import argparse

from hscl.cli._shared import DEVICE_HELP, FORMAT_HELP, METRICS_LEGEND, start_logging


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `hscl evaluate`."""
    parser = sub.add_parser(
        "evaluate",
        help="reload a run and score a split",
        description="Reload the selected model of a finished run and score one split.",
        epilog=METRICS_LEGEND,
    )
    parser.add_argument("run_dir", help="a run directory written by `hscl train`")
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"], help="split to score")
    parser.add_argument("--data", help="another dataset path (default: the run's own)")
    parser.add_argument("--format", help=f"format of --data: {FORMAT_HELP}")
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument("--json", action="store_true", help="also print the metrics as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the split's metrics."""
    import json

    start_logging()
    from hscl.metrics import format_metrics
    from hscl.training.inference import evaluate_run

    if args.data is not None:  # the same check as `hscl predict --data`: features made like the run's
        from hscl.extract.records import check_same_extraction

        check_same_extraction(args.run_dir, args.data)

    metrics = evaluate_run(args.run_dir, split=args.split, data=args.data, format=args.format, device=args.device)
    print(f"{args.split}: {format_metrics(metrics)}")
    if args.json:
        print(json.dumps(metrics))
    return 0
