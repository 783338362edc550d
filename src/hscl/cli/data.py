"""`hscl data inspect | convert | audit`: look at a dataset, write it in the safe, fast, pickle-free format, or
audit its features for leaks and breakage."""

from __future__ import annotations

import argparse

from hscl.cli._shared import FORMAT_HELP


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `hscl data` and its subcommands."""
    data = sub.add_parser(
        "data", help="inspect, convert or audit datasets", description="Inspect, convert or audit datasets."
    )
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    inspect = data_sub.add_parser(
        "inspect",
        help="splits, sizes, lengths, labels, problems",
        description="Print each split's size, feature sizes and lengths, the label histogram and any problems found.",
        epilog="`audio len min/median/max (L)`: the real frames per sample of the split (shortest, median, "
        "longest) and, in brackets, L, the padded length of the stored arrays. `d=` is the feature size of "
        "a modality. The label table counts each split's labels rounded to the 7 classes -3..3.",
    )
    convert = data_sub.add_parser(
        "convert",
        help="write the safe, fast, pickle-free format",
        description="Write a dataset in hscl's converted format (NumPy arrays, CSV texts, "
        "a JSON manifest), which loads fast and runs no code.",
    )
    audit = data_sub.add_parser(
        "audit",
        help="flag leaked or broken features (linear probe + label-free statistics)",
        description="For each feature source (every .npy file of an utterance folder, whatever the reader would "
        "refuse; the audio and visual modalities of other formats, mean-pooled; a TF-IDF control for the "
        "transcripts), fit a ridge probe on train and score it on valid, on test and by cross-validation "
        "within train (folds by video), and count constant, all-NaN, non-finite and extreme values, "
        "missing rows and rows duplicated across splits. A source is flagged when it is empty or "
        "constant; when its validation Acc-2 non0 or r is >= 0.90 (near perfect); when two of its three "
        "scores differ in sign AUC by >= 0.05 and >= 4 standard errors, in either direction; or "
        "when >= 1 percent of a split's rows repeat another split's rows. Exit status 0 (with --strict: "
        "1 when anything is flagged); 2 on an error. See README.md, 'Auditing features'.",
    )
    for parser in (inspect, convert, audit):
        parser.add_argument("path", nargs="?", help="dataset file or folder (none for --format synthetic)")
        parser.add_argument("--format", help=FORMAT_HELP)
        parser.add_argument(
            "--option",
            action="append",
            metavar="KEY=VALUE",
            default=[],
            help="reader option, e.g. audio_file=audio.npy (an unknown option is refused and the "
            "format's options listed)",
        )
    convert.add_argument("--out", required=True, help="folder to write (new or empty)")
    audit.add_argument("--json", metavar="FILE", help="also write the report as JSON to FILE")
    audit.add_argument("--strict", action="store_true", help="exit with status 1 when anything is flagged (for CI)")
    audit.set_defaults(func=run_audit)
    inspect.set_defaults(func=run_inspect)
    convert.set_defaults(func=run_convert)


def _options(args: argparse.Namespace) -> dict:
    """The reader options of `--option KEY=VALUE` (values parsed as YAML)."""
    from hscl.config import apply_overrides

    return apply_overrides({}, args.option, flag="--option")


def _load(args: argparse.Namespace):
    from hscl.data.loading import load_dataset

    return load_dataset(args.path, args.format, **_options(args))


def run_inspect(args: argparse.Namespace) -> int:
    """Print the inspection report (an unlabelled `hscl extract` dataset included: it serves prediction)."""
    from hscl.data.convert import inspect_dataset
    from hscl.data.loading import load_for_prediction

    if args.path is None:
        print(inspect_dataset(_load(args)))
    else:
        print(inspect_dataset(load_for_prediction(args.path, args.format, **_options(args))))
    return 0


def run_convert(args: argparse.Namespace) -> int:
    """Write the converted dataset."""
    from pathlib import Path

    from hscl.data.convert import check_writable, write_converted
    from hscl.data.loading import data_inputs
    from hscl.files import check_output_folder

    check_writable(Path(args.out))
    check_output_folder(args.out, data_inputs(args.path, _options(args)))
    out = write_converted(_load(args), args.out)
    print(f"wrote converted dataset to {out}")
    return 0


def run_audit(args: argparse.Namespace) -> int:
    """Print the audit report (and write it as JSON); 1 under --strict when something is flagged."""
    import json

    from hscl.data.audit import audit_dataset, format_report
    from hscl.data.loading import data_inputs
    from hscl.files import check_output_file, write_text

    options = _options(args)
    # before the audit's work; never over (or into) the dataset it reads
    json_out = check_output_file(args.json, data_inputs(args.path, options)) if args.json else None
    report = audit_dataset(args.path, args.format, **options)
    print(format_report(report))
    if json_out is not None:
        write_text(json_out, json.dumps(report.to_dict(), indent=2))
    return 1 if args.strict and report.flagged else 0
