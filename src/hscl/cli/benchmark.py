"""`hscl benchmark`: train a results suite (resumably) and write its page with pictures."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from hscl.cli._shared import add_override_argument, start_logging

if TYPE_CHECKING:
    from hscl.benchmark.suites import Suite


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
        metavar="PAGE.md",
        help="results page to write, with its .json summary and img/<suite>[-quick]/ pictures beside it; the "
        "shipped pages are regenerated with --results docs/results/<suite>.md (default: OUT/results.md)",
    )
    add_override_argument(parser)
    parser.add_argument("--no-report", action="store_true", help="skip the pictures")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """`hscl benchmark`: run a suite (resumably) and write its results page with pictures."""
    start_logging()
    from hscl.benchmark.page import dump_summary, results_table, write_results_page
    from hscl.benchmark.runner import run_key_dir, run_suite
    from hscl.benchmark.suites import suite_by_name
    from hscl.report import make_report, report_markdown

    suite = suite_by_name(args.suite)
    name = f"{suite.name}{'-quick' if args.quick else ''}"
    out_dir = Path(args.out or f"runs/benchmark-{name}")
    page = Path(args.results) if args.results else out_dir / "results.md"
    pictures_dir = page.parent / "img" / name
    check_outputs(suite, out_dir, page, None if args.no_report else pictures_dir, args.quick, args.set)
    results = run_suite(suite, out_dir, quick=args.quick, extra=args.set, jobs=args.jobs)
    dump_summary(results, out_dir / "summary.json")
    dump_summary(results, page.with_suffix(".json"))
    command = " ".join(
        [
            "hscl benchmark --suite",
            suite.name,
            *(["--quick"] if args.quick else []),
            *([f"--jobs {args.jobs}"] if args.jobs > 1 else []),
            *[f"--set {item}" for item in args.set or []],
            *([f"--results {args.results}"] if args.results else []),
        ]
    )
    images = ""
    if not args.no_report:
        run_dir = run_key_dir(out_dir, next(r for r in suite.rows if r.key == suite.report_row), results[0].seeds[0])
        pictures = make_report(run_dir, pictures_dir)
        images = report_markdown(run_dir, pictures, relative_to=page.parent)
    common = (*(suite.quick_overrides if args.quick else ()), *(args.set or []))
    write_results_page(suite, results, page, command, images, common)
    print(results_table(results), end="")
    print(f"results page: {page}; runs in {out_dir}")
    return 0


def check_outputs(
    suite: Suite, out_dir: Path, page: Path, pictures: Path | None, quick: bool, extra: list[str]
) -> None:
    """Every output of the suite checked before its first run trains: the runs folder, the page, its .json and its
    pictures folder; none may be or hold what the suite reads (its data, its text models, its runs' records)."""
    from hscl.benchmark.runner import run_key_dir
    from hscl.config import load_config
    from hscl.errors import ConfigError
    from hscl.files import check_output_file, check_output_folder
    from hscl.training.run_records import RunDir

    if page.suffix != ".md":
        raise ConfigError(f"--results {page}: a results page is Markdown; give a file name ending in .md")
    sources: list[str | None] = []
    records: list[Path] = []
    for row in suite.rows:
        config = load_config(
            preset=suite.preset, overrides=[*(suite.quick_overrides if quick else ()), *extra, *row.overrides]
        )
        sources += [config.data.path, config.check_text_model().path]
        for seed in suite.seeds:
            records += RunDir(run_key_dir(out_dir, row, seed)).records()
    check_output_folder(out_dir, sources)
    check_output_file(page, [*sources, *records])
    check_output_file(page.with_suffix(".json"), [*sources, *records])
    if pictures is not None:
        check_output_folder(pictures, [*sources, *records])
