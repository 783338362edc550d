"""`hscl report`: plots of a finished run."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `hscl report RUN_DIR [--out DIR] [--markdown FILE]`."""
    parser = sub.add_parser(
        "report",
        help="plot a finished run (needs pip install hscl[report])",
        description="Learning curves, prediction scatter, confusion matrix and embedding plots "
        "of a finished run, as PNG files.",
    )
    parser.add_argument("run_dir", help="a finished run directory")
    parser.add_argument("--out", metavar="DIR", help="folder for the PNGs, created if needed (default: RUN_DIR/report)")
    parser.add_argument(
        "--markdown",
        metavar="FILE",
        help="also write a Markdown snippet with the test metrics and the PNGs, linked relative to FILE",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the pictures (and the snippet)."""
    from pathlib import Path

    from hscl.files import check_output_file, write_text
    from hscl.report import IMAGES, make_report, report_markdown
    from hscl.training.run_records import RunDir

    run = RunDir(args.run_dir)
    folder = Path(args.out) if args.out else run.path / "report"
    reads = [*run.records(), *(folder / name for name in IMAGES)]  # nor may the snippet replace a picture
    target = check_output_file(args.markdown, reads) if args.markdown else None
    images = make_report(args.run_dir, args.out)
    for image in images:
        print(f"wrote {image}")
    if target is not None:
        write_text(target, report_markdown(args.run_dir, images, target.parent))
        print(f"wrote {target}")
    return 0
