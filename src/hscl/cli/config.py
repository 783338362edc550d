"""`hscl config show | schema`: the resolved configuration as YAML, or its JSON Schema."""

from __future__ import annotations

import argparse

from hscl.cli._shared import add_override_argument


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `hscl config` and its subcommands."""
    config = sub.add_parser(
        "config",
        help="show the resolved config, or write its JSON Schema",
        description="Show a resolved configuration, or write the JSON Schema of all configs.",
    )
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="SUBCOMMAND")
    show = config_sub.add_parser(
        "show",
        help="print the resolved config as YAML",
        description="Print the config a run would use, every field resolved, as YAML "
        "(a file `hscl train --config` accepts as is).",
    )
    source = show.add_mutually_exclusive_group()
    source.add_argument("--preset", help="a shipped preset (default: the built-in defaults)")
    source.add_argument("--config", help="a YAML config file")
    add_override_argument(show)
    show.set_defaults(func=run_show)
    schema = config_sub.add_parser(
        "schema",
        help="write the JSON Schema of a config file",
        description="Write the JSON Schema of hscl's YAML config files, for editors that "
        "validate and complete YAML (see docs/CONFIG.md).",
    )
    schema.add_argument("--out", help="file to write (default: standard output)")
    schema.set_defaults(func=run_schema)


def run_show(args: argparse.Namespace) -> int:
    """Print the resolved config."""
    from hscl.config import config_yaml, load_config

    print(config_yaml(load_config(preset=args.preset, path=args.config, overrides=args.set)), end="")
    return 0


def run_schema(args: argparse.Namespace) -> int:
    """Write the JSON Schema."""
    import json
    from pathlib import Path

    from hscl.config import config_schema
    from hscl.files import check_output_file, write_text

    text = json.dumps(config_schema(), indent=2) + "\n"
    if args.out:
        write_text(check_output_file(Path(args.out)), text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0
