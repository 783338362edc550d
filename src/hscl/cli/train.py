"""`hscl train`: one run, several seeds, or the resumption of an interrupted run."""

from __future__ import annotations

import argparse
from pathlib import Path

from hscl.cli._shared import DEVICE_HELP, TRAIN_LEGEND, add_override_argument, start_logging


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `hscl train`."""
    parser = sub.add_parser(
        "train",
        help="train (select on valid, test once); also under torchrun",
        description="Train HSCL: fit on train, select the epoch on valid, score test once.",
        epilog=TRAIN_LEGEND,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="a shipped preset (see `hscl presets`)")
    source.add_argument("--config", help="a YAML config file (see `hscl config show` for every field)")
    source.add_argument("--resume", metavar="RUN_DIR", help="carry on an interrupted run from its last checkpoint")
    add_override_argument(parser)
    parser.add_argument(
        "--seeds", type=int, nargs="+", metavar="SEED", help="train once per seed and summarise mean ± std"
    )
    parser.add_argument(
        "--out",
        help="run directory; must be new or empty, unless --overwrite (default: runs/<name>-<time>, a new "
        "folder each time)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run (or multi-seed runs) already in --out, once every check has passed",
    )
    parser.add_argument("--device", help=f"{DEVICE_HELP} (default: the config's train.device)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--log",
        choices=("files", "tensorboard"),
        help="tensorboard: also write TensorBoard event files to RUN_DIR/tensorboard (default: the config's "
        "train.log, files in every preset)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        metavar="N",
        help="write the resumable checkpoint every N epochs, and on every improvement "
        "(default: the config's train.checkpoint_every, 1 in every preset)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch CPU threads; results differ between thread counts, so a run records its count and is "
        "retrained exactly with the same one (default: torch's, one per core)",
    )
    parser.add_argument(
        "--drop-checkpoint",
        action="store_true",
        help="delete the resumable checkpoint.pt once the run has finished; it is three times the model's size "
        "(= train.keep_checkpoint=false)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train as asked and print the selected epoch's test metrics."""
    import time

    from hscl.config import load_config
    from hscl.errors import ConfigError

    config = None
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads {args.threads} must be at least 1")
    if args.seeds:
        from hscl.config.train import check_seeds

        check_seeds(args.seeds)  # before anything is loaded or trained: each seed needs a folder of its own
    if args.resume:
        if args.set or args.seeds or args.out or args.overwrite:
            raise ConfigError(
                "--resume carries on a run with the config saved in it; "
                "--set, --seeds, --out and --overwrite cannot be combined with it"
            )
    else:  # the whole config and the text model are checked before torch is even imported
        overrides = list(args.set)
        if args.device:
            overrides.append(f"train.device={args.device}")
        if args.no_progress:
            overrides.append("train.progress_bar=false")
        if args.log:
            overrides.append(f"train.log={args.log}")
        if args.checkpoint_every is not None:
            overrides.append(f"train.checkpoint_every={args.checkpoint_every}")
        if args.drop_checkpoint:
            overrides.append("train.keep_checkpoint=false")
        config = load_config(preset=args.preset, path=args.config, overrides=overrides)
        config.check_text_model()
    start_logging()
    import torch

    from hscl.metrics import format_metrics
    from hscl.training import distributed
    from hscl.training.run_records import RunDir
    from hscl.training.seeds import train_seeds
    from hscl.training.trainer import resume, train

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    command = getattr(args, "command_line", None)
    ctx = distributed.context_from_env()
    try:
        if config is None:
            args.interrupt_hint = f"; resume with: hscl train --resume {args.resume}"
            result = resume(
                args.resume,
                device=args.device,
                progress_bar=False if args.no_progress else None,
                log=args.log,
                checkpoint_every=args.checkpoint_every,
                keep_checkpoint=False if args.drop_checkpoint else None,
                command=command,
            )
        else:
            out = Path(args.out) if args.out else Path("runs") / f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
            try:
                if args.seeds:
                    if ctx.enabled:
                        raise ConfigError(
                            "--seeds runs one process; under torchrun start one run per seed (--set train.seed=N)"
                        )
                    train_seeds(config, args.seeds, out, overwrite=args.overwrite, command=command)
                    print(RunDir(out).read_summary_markdown(), end="")
                    print(f"runs in {out}")
                    return 0
                result = train(config, out, overwrite=args.overwrite, command=command)
            except KeyboardInterrupt:
                args.interrupt_hint = interrupted_hint(out, args.seeds)
                raise
    finally:
        distributed.teardown()
    if ctx.is_main:
        print(f"test (epoch {result.best_epoch} selected on valid): {format_metrics(result.test_metrics)}")
        print(f"run in {result.run_dir}  ({result.wall_seconds:.0f}s)")
    return 0


def interrupted_hint(out: Path, seeds: list[int] | None) -> str:
    """What to tell someone who stopped `hscl train`: the command that carries the interrupted run on, if any."""
    from hscl.training.run_records import RunDir
    from hscl.training.seeds import seed_dir

    runs = [RunDir(seed_dir(out, seed)) for seed in seeds] if seeds else [RunDir(out)]
    stopped = [run for run in runs if run.checkpoint_file.is_file() and not run.has_test_metrics()]
    if stopped:
        return f"; resume with: hscl train --resume {stopped[-1]}"
    return "; no epoch had finished, so there is nothing to resume: start the run again"
