"""Argument helpers and run-time setup shared by several subcommands (light: no heavy imports)."""

from __future__ import annotations

import argparse
import logging
import sys

DEVICE_HELP = "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps"
FORMAT_HELP = "dataset format (default: detect from the path): mult, mmim, mmsa, utterance, csd, converted or synthetic"
METRICS_LEGEND = """Metrics: mae (mean absolute error) and corr (Pearson r) of the scores; acc7 / acc5 the accuracy
over the classes round(score) clipped to -3..3 / -2..2; acc2 and f1 (weighted F1) are binary, in
two conventions: has0 is negative against non-negative (0 counts as positive), non0 is negative
against positive with the samples labelled 0 left out. Accuracies and F1 are printed in percent."""
TRAIN_LEGEND = f"""What each epoch's line says (also in metrics.jsonl):
  epoch 3/5        the epoch and the number planned (early stopping may stop
                   sooner)
  train total ...  mean loss terms of the epoch: total = task + w1 (ta + tv)
                   + w2 fusion; task is the L1 loss of the score, ta / tv the
                   unimodal text-audio / text-visual terms (SupCR + alpha
                   times the similarity loss), fusion the SupCR term of the
                   fused views (absent when its modality or level is off)
  valid mae ...    validation metrics of the epoch (see below)
  *                the epoch improved train.select_metric: it is the
                   selected model now

model.modalities: text (text only: no fusion, no contrastive terms), audio or visual (text and that
one), audio+visual (all three, the paper's model).

{METRICS_LEGEND}"""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """`--help` of every hscl command: each option's default at the end of its help, "(default: X)", where it
    has one to show (not None, False or an empty list); description and epilog paragraphs wrapped, and a
    paragraph with indented lines (a legend) kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "(default" in text or default is None or default is False or default == [] or default == argparse.SUPPRESS:
            return text
        return text + " (default: %(default)s)"

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.split("\n\n"):
            if "\n  " in paragraph:
                paragraphs.append("\n".join(indent + line for line in paragraph.splitlines()))
            else:
                paragraphs.append(super()._fill_text(paragraph, width, indent))
        return "\n\n".join(paragraphs)


class Parser(argparse.ArgumentParser):
    """An argument parser whose help (and its subcommands') uses `HelpFormatter`."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


class VersionAction(argparse.Action):
    """`--version`: hscl's version and code commit, Python's and torch's (torch is not imported)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace, values, option_string=None) -> None:
        print(version_line())
        parser.exit()


def version_line() -> str:
    """hscl's version, the git commit it runs from (when it does), Python's and torch's versions."""
    import platform
    from importlib import metadata

    import hscl
    from hscl.provenance import code_version

    try:
        torch = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch = "not installed"
    code = code_version()
    commit = "" if code.startswith("hscl ") else f", commit {code}"
    return f"hscl {hscl.__version__}{commit}; Python {platform.python_version()}, torch {torch}"


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
