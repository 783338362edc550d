"""`hscl data inspect | convert`: look at a dataset, or write it in the safe, fast, pickle-free format."""
from __future__ import annotations

import argparse

FORMAT_HELP = ("dataset format (default: detect from the path): mult, mmim, mmsa, utterance, converted or synthetic")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `hscl data` and its subcommands."""
    data = sub.add_parser("data", help="inspect or convert datasets", description="Inspect or convert datasets.")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    inspect = data_sub.add_parser("inspect", help="splits, sizes, lengths, labels, problems",
                                  description="Print each split's size, feature sizes and lengths, the label "
                                              "histogram and any problems found.")
    convert = data_sub.add_parser("convert", help="write the safe, fast, pickle-free format",
                                  description="Write a dataset in hscl's converted format (NumPy arrays, CSV texts, "
                                              "a JSON manifest), which loads fast and runs no code.")
    for parser in (inspect, convert):
        parser.add_argument("path", nargs="?", help="dataset file or folder (none for --format synthetic)")
        parser.add_argument("--format", help=FORMAT_HELP)
        parser.add_argument("--option", action="append", metavar="KEY=VALUE", default=[],
                            help="reader option, e.g. audio_file=audio.npy (an unknown option is refused and the "
                                 "format's options listed)")
    convert.add_argument("--out", required=True, help="folder to write (new or empty)")
    inspect.set_defaults(func=run_inspect)
    convert.set_defaults(func=run_convert)


def _load(args: argparse.Namespace):
    from hscl.config import apply_overrides
    from hscl.data.loading import load_dataset

    return load_dataset(args.path, args.format, **apply_overrides({}, args.option))


def run_inspect(args: argparse.Namespace) -> int:
    """Print the inspection report."""
    from hscl.data.convert import inspect_dataset

    print(inspect_dataset(_load(args)))
    return 0


def run_convert(args: argparse.Namespace) -> int:
    """Write the converted dataset."""
    from pathlib import Path

    from hscl.data.convert import check_writable, write_converted

    check_writable(Path(args.out))
    out = write_converted(_load(args), args.out)
    print(f"wrote converted dataset to {out}")
    return 0
