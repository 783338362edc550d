"""`hscl presets`: list the shipped presets."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `hscl presets`."""
    sub.add_parser("presets", help="list the shipped presets").set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print each preset's name and description."""
    from hscl.config import preset_names, preset_summary

    for name in preset_names():
        print(f"{name:16s} {preset_summary(name)}")
    return 0
