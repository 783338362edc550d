"""`hscl tune`: an Optuna study on validation only, resumable, many workers; then, optionally, test once."""

from __future__ import annotations

import argparse

from hscl.cli._shared import add_override_argument, start_logging


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `hscl tune`."""
    parser = sub.add_parser(
        "tune",
        help="hyper-parameter search on validation only (Optuna), then optionally test once",
        description="Search a space of config values with Optuna. Each trial trains without the test split and "
        "is scored by the selected epoch's validation train.select_metric; each epoch's value feeds "
        "the pruner. Re-running the same command carries the study on. STUDY_DIR gets trials.csv, "
        "best.yaml (for `hscl train --config`) and pictures. With --final-seeds, best.yaml and the "
        "base config are trained over those seeds and scored once on test, into a results page.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="the base config: a shipped preset (see `hscl presets`)")
    source.add_argument("--config", help="the base config: a YAML config file")
    add_override_argument(parser)
    parser.add_argument(
        "--space",
        required=True,
        metavar="SPACE",
        help="search-space YAML file, or the name of a shipped space (demo, mosi-utterance); a path "
        "also given with --set is fixed, not searched",
    )
    parser.add_argument(
        "--trials",
        type=int,
        required=True,
        metavar="N",
        help="trials the study holds when done, whatever their state (all workers together; a trial lost with "
        "its worker and run again counts once)",
    )
    parser.add_argument("--out", required=True, metavar="STUDY_DIR", help="the study directory")
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage shared by the workers: sqlite:///FILE, postgresql://..., mysql+pymysql://... "
        "or journal:FILE (default: sqlite in STUDY_DIR)",
    )
    parser.add_argument("--study-name", help="the study's name in the storage (default: STUDY_DIR's name)")
    parser.add_argument("--jobs", type=int, default=1, metavar="J", help="worker processes on this machine")
    parser.add_argument("--timeout", type=float, metavar="S", help="each worker starts no new trial after S seconds")
    parser.add_argument(
        "--pruner",
        default="median",
        choices=("median", "hyperband", "none"),
        help="prunes trials on their per-epoch validation value",
    )
    parser.add_argument(
        "--sampler-seed",
        type=int,
        default=0,
        help="seed of the TPE sampler (mixed with the worker index and the trials so far)",
    )
    parser.add_argument(
        "--keep",
        default="metrics",
        choices=("metrics", "run"),
        help="what each trial keeps: its config and records (metrics) or also its model (run)",
    )
    parser.add_argument(
        "--heartbeat",
        type=int,
        default=60,
        metavar="S",
        help="seconds between a running trial's heartbeats; a trial silent for two is marked failed and run "
        "again (at once when its process is gone from this machine)",
    )
    parser.add_argument(
        "--final-seeds",
        type=int,
        nargs="+",
        metavar="SEED",
        help="then train best.yaml and the base config once per seed, score test once per run, "
        "and write the comparison page",
    )
    parser.add_argument(
        "--results",
        metavar="PAGE",
        help="results page of --final-seeds (default: STUDY_DIR/results.md), pictures beside it",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run or carry on the study, write its outputs, and with --final-seeds the test-once comparison."""
    from pathlib import Path

    start_logging()
    from hscl.errors import ConfigError, HSCLError
    from hscl.tune.outputs import write_outputs
    from hscl.tune.space import read_space
    from hscl.tune.study import TuneSettings, run_study

    settings = TuneSettings(
        space=read_space(args.space),
        out=Path(args.out),
        trials=args.trials,
        preset=args.preset,
        config_path=args.config,
        overrides=tuple(args.set),
        storage=args.storage,
        study_name=args.study_name,
        jobs=args.jobs,
        timeout=args.timeout,
        sampler_seed=args.sampler_seed,
        pruner=args.pruner,
        keep=args.keep,
        heartbeat=args.heartbeat,
    )
    if args.final_seeds and len(set(args.final_seeds)) != len(args.final_seeds):
        raise ConfigError(f"--final-seeds must be distinct; got {args.final_seeds}")
    if args.results and not args.final_seeds:
        raise ConfigError("--results names the page of --final-seeds; give --final-seeds too")
    page = Path(args.results) if args.results else settings.out / "results.md"
    if args.final_seeds:
        from hscl.tune.final import check_page
        from hscl.tune.study import validated

        check_page(validated(settings), page)  # before the first trial, as every other output
    args.interrupt_hint = "; the study is kept, run the same command to carry it on"
    study = run_study(settings)
    outputs = write_outputs(study, settings)
    states = {}
    for trial in study.trials:
        states[trial.state.name.lower()] = states.get(trial.state.name.lower(), 0) + 1
    print(
        f"study {settings.name!r}: {len(study.trials)} trials ({', '.join(f'{n} {s}' for s, n in states.items())}); "
        f"{outputs['trials']}"
    )
    if outputs["pictures"]:
        pictures = outputs["pictures"]
        print(f"pictures in {pictures[0].parent}: {', '.join(path.name for path in pictures)}")
    if outputs["best"] is None:
        raise HSCLError(f"no trial of study {settings.name!r} completed; see {outputs['trials']} for the reasons")
    print(
        f"best: trial {study.best_trial.number} (objective {study.best_value:.4f}); "
        f"train it with: hscl train --config {outputs['best']}"
    )
    if args.final_seeds:
        from hscl.tune.final import run_final

        run_final(study, settings, args.final_seeds, page, command_line(args))
        print(f"results page: {page}")
    return 0


def command_line(args: argparse.Namespace) -> str:
    """The `hscl tune` command that `args` came from, for the results page."""
    import shlex

    parts = [
        "hscl tune",
        f"--preset {args.preset}" if args.preset else f"--config {shlex.quote(args.config)}",
        *(f"--set {shlex.quote(item)}" for item in args.set),
        f"--space {shlex.quote(args.space)}",
        f"--trials {args.trials}",
        f"--out {shlex.quote(args.out)}",
    ]
    for flag, value, default in (
        ("--jobs", args.jobs, 1),
        ("--pruner", args.pruner, "median"),
        ("--sampler-seed", args.sampler_seed, 0),
        ("--keep", args.keep, "metrics"),
    ):
        if value != default:
            parts.append(f"{flag} {value}")
    parts.append("--final-seeds " + " ".join(map(str, args.final_seeds)))
    return " ".join(parts)
