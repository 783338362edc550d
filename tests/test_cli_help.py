"""`hscl --version`, every `--help` showing its options' defaults the same way, and the legends of the output."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

import pytest

import hscl
from hscl.cli import build_parser, main
from hscl.cli._shared import HelpFormatter


def every_parser(parser: argparse.ArgumentParser, name: str = "hscl"):
    """(command name, parser) for `parser` and every subcommand below it."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from every_parser(sub, f"{name} {sub_name}")


PARSERS = list(every_parser(build_parser()))


def shows_default(action: argparse.Action) -> bool:
    default = action.default
    return not (default is None or default is False or default == [] or default == argparse.SUPPRESS)


@pytest.mark.parametrize(("name", "parser"), PARSERS, ids=[name for name, _ in PARSERS])
def test_every_help_shows_each_default_the_same_way(name, parser):
    assert parser.formatter_class is HelpFormatter, name
    text = " ".join(parser.format_help().split())  # unwrapped
    for action in parser._actions:
        if action.option_strings and shows_default(action) and action.help != argparse.SUPPRESS:
            assert f"(default: {action.default})" in text, (name, action.option_strings)
    assert not re.search(r"\(default [^:]|, default \S", text), f"{name}: a default written another way"


def test_the_formatter_adds_defaults_only_where_there_is_one():
    parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
    parser.add_argument("--jobs", type=int, default=1, help="processes")
    parser.add_argument("--zero", type=float, default=0.0, help="a zero default")
    parser.add_argument("--out", help="folder")
    parser.add_argument("--flag", action="store_true", help="a switch")
    parser.add_argument("--set", action="append", default=[], help="overrides")
    parser.add_argument("--mode", default="a", help="mode (default: a, or b when --flag)")
    text = " ".join(parser.format_help().split())
    assert "processes (default: 1)" in text and "a zero default (default: 0.0)" in text
    assert "folder --flag" in text and "a switch --set" in text and "overrides --mode" in text
    assert text.count("(default:") == 3


def test_epilog_legends_keep_their_indented_lines():
    parser = argparse.ArgumentParser(
        formatter_class=HelpFormatter, epilog="A long paragraph " * 12 + "\n\nLegend:\n  a    first\n  bb   second"
    )
    text = parser.format_help()
    assert "\n  a    first\n  bb   second" in text
    assert max(len(line) for line in text.split("\n\nLegend")[0].splitlines()) <= 80


def test_version(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(
        rf"hscl {re.escape(hscl.__version__)}(, commit [0-9a-f]+(\+changes)?)?; Python [\d.]+, torch \S+", line
    ), line


def test_version_runs_as_a_command():
    done = subprocess.run([sys.executable, "-m", "hscl.cli", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith(f"hscl {hscl.__version__}")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["train", "--help"], ["epoch 3/5", "ta / tv", "fusion", "*", "has0", "non0", "audio+visual"]),
        (["evaluate", "--help"], ["has0", "non0", "acc7"]),
        (["data", "inspect", "--help"], ["(L)", "padded length"]),
    ],
)
def test_help_epilogs_explain_the_output(argv, words, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    text = capsys.readouterr().out
    for word in words:
        assert word in text, (argv, word)


def test_a_closed_standard_output_ends_the_command_quietly():
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: the first write fails, as behind `| head` once head has exited
    try:
        done = subprocess.run(
            [sys.executable, "-m", "hscl.cli", "presets"], stdout=write_end, stderr=subprocess.PIPE, text=True
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")
