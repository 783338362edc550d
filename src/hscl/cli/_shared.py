"""Argument helpers and run-time setup shared by several subcommands (light: no heavy imports)."""

from __future__ import annotations

import argparse
import logging
import sys

DEVICE_HELP = "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps"
FORMAT_HELP = "dataset format (default: detect from the path): mult, mmim, mmsa, utterance, csd, converted or synthetic"


def add_override_argument(parser: argparse.ArgumentParser) -> None:
    """`--set KEY=VALUE`, repeatable, with help that says what it accepts."""
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        default=[],
        help="override one config field by its dotted path, the value parsed as YAML, e.g. "
        "--set train.lr_main=2e-4 --set loss.w1=0.1 --set model.modalities=audio; repeatable. "
        "`hscl config show` prints every field, `hscl config schema` their types and ranges",
    )


def start_logging() -> None:
    """Log lines on stdout and no advisory noise from transformers (for commands that load models)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    # torch's loggers inherit that INFO level until torch finishes importing; interrupted before then, its exit
    # hooks would print "FakeTensor cache stats" lines
    logging.getLogger("torch").setLevel(logging.WARNING)
    from hscl.training.runtime import quiet_transformers

    quiet_transformers()
