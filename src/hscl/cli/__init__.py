"""The `hscl` command. Each subcommand lives in its own module of this package, registered the same way.

A subcommand module defines `add_parser(subparsers)`, which adds its parser and sets `func`, and imports
nothing heavy at module level: torch, transformers and the rest are imported inside the function that
runs the command, so `hscl --help` and the light subcommands start at once.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys

from hscl.cli._shared import Parser, VersionAction
from hscl.errors import HSCLError

# Subcommands in the order `hscl --help` lists them; each name is a module of this package.
COMMANDS: tuple[str, ...] = (
    "train",
    "evaluate",
    "predict",
    "export",
    "report",
    "benchmark",
    "tune",
    "presets",
    "config",
    "data",
    "extract",
)
INTERRUPTED = 130  # exit status after Ctrl-C, as a shell reports SIGINT
BROKEN_PIPE = 141  # exit status when the reader of standard output went away (`| head`), as a shell reports SIGPIPE


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `hscl` command, every subcommand registered."""
    parser = Parser(
        prog="hscl",
        description="Hierarchical Supervised Contrastive Learning for multimodal sentiment analysis. "
        "`hscl COMMAND --help` describes a command, its options and their defaults.",
    )
    parser.add_argument("--version", action=VersionAction, help="print the versions of hscl, Python and torch")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(f"hscl.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and exit status 2; Ctrl-C exits with 130; a closed
    standard output (`hscl ... | head`) ends the command quietly with 141."""
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["hscl", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except HSCLError as err:
        print(f"hscl: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hscl: interrupted{getattr(args, 'interrupt_hint', '')}", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return BROKEN_PIPE
