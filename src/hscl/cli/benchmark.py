"""`hscl benchmark`: train a results suite (resumably) and write its page with pictures."""

from __future__ import annotations

import argparse

from hscl.cli._shared import add_override_argument, start_logging


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `hscl benchmark`."""
    from hscl.benchmark.suites import SUITES

    parser = sub.add_parser(
        "benchmark",
        help="run a results suite (resumable) and write its page",
        description="Train every (row, seed) of a suite that has not finished yet, then write "
        "its results page (mean ± std over seeds, paired tests, pictures).",
    )
    parser.add_argument("--suite", required=True, choices=sorted(SUITES), help="which suite")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the first seed only, with fewer epochs where the suite sets them (mosi-utterance: 2)",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="runs trained at once, each in its own process (e.g. several on one GPU)"
    )
    parser.add_argument("--out", help="runs directory (default: runs/benchmark-<suite>[-quick])")
    parser.add_argument(
        "--results",
        help="results page to write, with its .json summary beside it (default: docs/results/<suite>[-quick].md)",
    )
    add_override_argument(parser)
    parser.add_argument("--no-report", action="store_true", help="skip the pictures")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """`hscl benchmark`: run a suite (resumably) and write its results page with pictures."""
    from pathlib import Path

    start_logging()
    from hscl.benchmark.page import dump_summary, results_table, write_results_page
    from hscl.benchmark.runner import run_key_dir, run_suite
    from hscl.benchmark.suites import suite_by_name
    from hscl.report import make_report, report_markdown

    suite = suite_by_name(args.suite)
    name = f"{suite.name}{'-quick' if args.quick else ''}"
    out_dir = Path(args.out or f"runs/benchmark-{name}")
    results = run_suite(suite, out_dir, quick=args.quick, extra=args.set, jobs=args.jobs)
    page = Path(args.results or f"docs/results/{name}.md")
    dump_summary(results, out_dir / "summary.json")
    dump_summary(results, page.with_suffix(".json"))
    command = " ".join(
        [
            "hscl benchmark --suite",
            suite.name,
            *(["--quick"] if args.quick else []),
            *([f"--jobs {args.jobs}"] if args.jobs > 1 else []),
            *[f"--set {item}" for item in args.set or []],
        ]
    )
    images = ""
    if not args.no_report:
        run_dir = run_key_dir(out_dir, next(r for r in suite.rows if r.key == suite.report_row), results[0].seeds[0])
        pictures = make_report(run_dir, page.parent / "img" / name)
        images = report_markdown(run_dir, pictures, relative_to=page.parent)
    common = (*(suite.quick_overrides if args.quick else ()), *(args.set or []))
    write_results_page(suite, results, page, command, images, common)
    print(results_table(results), end="")
    print(f"results page: {page}; runs in {out_dir}")
    return 0
