"""`hscl report`: plots of a finished run."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `hscl report RUN_DIR [--out DIR] [--markdown FILE]`."""
    parser = sub.add_parser("report", help="plot a finished run (needs pip install hscl[report])",
                            description="Learning curves, prediction scatter, confusion matrix and embedding plots "
                                        "of a finished run, as PNG files.")
    parser.add_argument("run_dir", help="a finished run directory")
    parser.add_argument("--out", help="folder for the PNGs (default RUN_DIR/report)")
    parser.add_argument("--markdown", metavar="FILE", help="also write a Markdown snippet embedding the PNGs")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the pictures (and the snippet)."""
    from pathlib import Path

    from hscl.report import make_report, report_markdown

    images = make_report(args.run_dir, args.out)
    for image in images:
        print(f"wrote {image}")
    if args.markdown:
        target = Path(args.markdown)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(report_markdown(args.run_dir, images, target.parent), encoding="utf-8")
        print(f"wrote {target}")
    return 0
