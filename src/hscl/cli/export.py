"""`hscl export`: write a run's selected model in another form (ONNX, for `--engine onnx`)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `hscl export`."""
    parser = sub.add_parser(
        "export",
        help="write a run's model as ONNX, for --engine onnx",
        description="Write the selected model of a run as an ONNX file (torch's dynamo exporter; any batch size "
        "and sequence length), checked against the torch model on a sample batch before it is written. "
        "`hscl predict --engine onnx` reads it from RUN/model/model.onnx, and refuses a file exported from "
        "another model; the file is dropped when the run selects another model (a resumed run), so export again "
        "then. Needs the onnx extra (onnx, onnxscript, onnxruntime).",
    )
    parser.add_argument("run_dir", help="a run directory written by `hscl train`")
    form = parser.add_mutually_exclusive_group(required=True)
    form.add_argument("--onnx", action="store_true", help="export as ONNX (the one form so far)")
    parser.add_argument(
        "--out",
        help="file to write (a new file, or one to replace; never one of the run's records or model files) "
        "(default: RUN/model/model.onnx, where --engine onnx looks)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export and say where to."""
    from hscl.cli._shared import start_logging

    start_logging()
    from hscl.training.export import export_run_onnx

    out = export_run_onnx(args.run_dir, args.out)
    print(f"wrote {out}")
    return 0
