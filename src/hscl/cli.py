"""The `hscl` command: train, evaluate, predict, presets, data inspect/convert."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from hscl.errors import HSCLError
from hscl.report import add_report_command
from hscl.suite import add_benchmark_command
from hscl.training.runtime import quiet_transformers


def _cmd_presets(args: argparse.Namespace) -> int:
    from hscl.config import preset_names, preset_summary

    for name in preset_names():
        print(f"{name:16s} {preset_summary(name)}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from hscl.config import load_config
    from hscl.errors import ConfigError
    from hscl.metrics import format_metrics
    from hscl.training import distributed
    from hscl.training.seeds import train_seeds
    from hscl.training.trainer import resume, train

    ctx = distributed.context_from_env()
    try:
        if args.resume:
            if args.set or args.seeds or args.out:
                raise ConfigError("--resume carries on a run with the config saved in it; "
                                  "--set, --seeds and --out cannot be combined with it")
            result = resume(args.resume, device=args.device, progress=False if args.no_progress else None,
                            log=args.log, checkpoint_every=args.checkpoint_every)
        else:
            overrides = list(args.set or [])
            if args.device:
                overrides.append(f"train.device={args.device}")
            if args.no_progress:
                overrides.append("train.progress=false")
            if args.log:
                overrides.append(f"train.log={args.log}")
            if args.checkpoint_every:
                overrides.append(f"train.checkpoint_every={args.checkpoint_every}")
            config = load_config(preset=args.preset, path=args.config, overrides=overrides)
            out = Path(args.out) if args.out else Path("runs") / f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
            if args.seeds:
                if ctx.enabled:
                    raise ConfigError("--seeds runs one process; under torchrun start one run per seed "
                                      "(--set train.seed=N)")
                train_seeds(config, args.seeds, out)
                print((out / "summary.md").read_text(encoding="utf-8"), end="")
                print(f"runs in {out}")
                return 0
            result = train(config, out)
    finally:
        distributed.teardown()
    if ctx.is_main:
        print(f"test (epoch {result.best_epoch} selected on valid): {format_metrics(result.test_metrics)}")
        print(f"run in {result.run_dir}  ({result.wall_seconds:.0f}s)")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from hscl.metrics import format_metrics
    from hscl.training.inference import evaluate_run

    metrics = evaluate_run(args.run_dir, split=args.split, data=args.data, format=args.format, device=args.device)
    print(f"{args.split}: {format_metrics(metrics)}")
    if args.json:
        print(json.dumps(metrics))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from hscl.training.inference import predict_run

    rows = predict_run(args.run_dir, args.data, args.out, format=args.format, split=args.split, device=args.device)
    print(f"wrote {rows} predictions to {args.out}")
    return 0


def _reader_options(items: list[str] | None) -> dict:
    from hscl.config import apply_overrides

    return apply_overrides({}, list(items or []))


def _cmd_data_inspect(args: argparse.Namespace) -> int:
    from hscl.data.convert import inspect_dataset
    from hscl.data.loading import load_dataset

    print(inspect_dataset(load_dataset(args.path, args.format, **_reader_options(args.option))))
    return 0


def _cmd_data_convert(args: argparse.Namespace) -> int:
    from hscl.data.convert import write_converted
    from hscl.data.loading import load_dataset

    out = write_converted(load_dataset(args.path, args.format, **_reader_options(args.option)), args.out)
    print(f"wrote converted dataset to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `hscl` command."""
    from hscl.training.monitor import LOG_CHOICES

    parser = argparse.ArgumentParser(prog="hscl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("presets", help="list the shipped presets").set_defaults(func=_cmd_presets)

    train = sub.add_parser("train", help="train (select on valid, test once); also under torchrun")
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="a shipped preset (see `hscl presets`)")
    source.add_argument("--config", help="a YAML config file")
    source.add_argument("--resume", metavar="RUN_DIR", help="carry on an interrupted run from its last checkpoint")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="override, e.g. train.lr_main=2e-4")
    train.add_argument("--seeds", type=int, nargs="+", help="train once per seed and summarise mean ± std")
    train.add_argument("--out", help="run directory (default runs/<name>-<time>)")
    train.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--log", choices=LOG_CHOICES,
                       help="tensorboard: also write TensorBoard event files to RUN_DIR/tensorboard (= train.log)")
    train.add_argument("--checkpoint-every", type=int, metavar="N",
                       help="write the resumable checkpoint every N epochs, and on every improvement "
                            "(= train.checkpoint_every, default 1)")
    train.set_defaults(func=_cmd_train)

    evaluate = sub.add_parser("evaluate", help="reload a run and score a split")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--split", default="test", choices=["train", "valid", "test"])
    evaluate.add_argument("--data", help="another dataset path (default: the run's own)")
    evaluate.add_argument("--format", help="format of --data (default: detect)")
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--json", action="store_true", help="also print the metrics as JSON")
    evaluate.set_defaults(func=_cmd_evaluate)

    predict = sub.add_parser("predict", help="write predictions of a run for a dataset")
    predict.add_argument("run_dir")
    predict.add_argument("--data", required=True)
    predict.add_argument("--format")
    predict.add_argument("--split", default="test", help="train, valid, test or all")
    predict.add_argument("--out", required=True, help="CSV file to write")
    predict.add_argument("--device", default="auto")
    predict.set_defaults(func=_cmd_predict)

    add_report_command(sub)
    add_benchmark_command(sub)

    data = sub.add_parser("data", help="inspect or convert datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    inspect = data_sub.add_parser("inspect", help="splits, sizes, lengths, labels, problems")
    convert = data_sub.add_parser("convert", help="write the safe, fast, pickle-free format")
    for p in (inspect, convert):
        p.add_argument("path", nargs="?", help="file or folder (none for --format synthetic)")
        p.add_argument("--format", help="default: detect")
        p.add_argument("--option", action="append", metavar="KEY=VALUE", help="reader option, e.g. audio_file=audio.npy")
    convert.add_argument("--out", required=True)
    inspect.set_defaults(func=_cmd_data_inspect)
    convert.set_defaults(func=_cmd_data_convert)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    quiet_transformers()
    try:
        return args.func(args)
    except HSCLError as err:
        print(f"hscl: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
