"""What a study leaves in its directory: `trials.csv`, `best.yaml` and Optuna's matplotlib pictures."""

from __future__ import annotations

import csv
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from hscl.config import save_config
from hscl.files import open_atomic
from hscl.tune.study import TuneSettings, pinned_paths

if TYPE_CHECKING:
    import optuna

TRIALS_CSV = "trials.csv"
BEST_YAML = "best.yaml"
IMAGES_DIR = "img"
SIZES = {"history": (8, 4.5), "epochs": (8, 4.5), "importance": (8, 4.5), "parallel": (15, 6)}  # inches
STALE = "no result recorded: its worker was killed or lost (failed after two missed heartbeats)"


def trial_reason(trial: optuna.trial.FrozenTrial) -> str:
    """Why a trial ended as it did, in a few words (empty for a complete one)."""
    state = trial.state.name
    if state == "PRUNED":
        return f"pruned after epoch {trial.last_step}"
    if state == "FAIL":
        return str(trial.user_attrs.get("fail_reason", STALE))
    if state == "RUNNING":
        return "running, or killed and not yet failed (two heartbeats)"
    return ""


def write_trials_csv(study: optuna.Study, settings: TuneSettings) -> Path:
    """One row per trial: state, objective value, selected epoch, epochs run, seconds, the searched parameters (not
    those --set fixes), reason, run dir (HOST:PATH)."""
    path = settings.out / TRIALS_CSV
    pinned = set(pinned_paths(settings))
    params = [param.path for param in settings.space.params if param.path not in pinned]
    with open_atomic(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["number", "state", "value", "selected_epoch", "epochs_run", "seconds", *params, "reason", "run_dir"]
        )
        for trial in study.trials:
            seconds = "" if trial.duration is None else f"{trial.duration.total_seconds():.1f}"
            writer.writerow(
                [
                    trial.number,
                    trial.state.name,
                    "" if trial.value is None else repr(trial.value),
                    trial.user_attrs.get("selected_epoch", ""),
                    len(trial.intermediate_values),
                    seconds,
                    *(trial.params.get(name, "") for name in params),
                    trial_reason(trial),
                    trial.user_attrs.get("run_dir", ""),
                ]
            )
    return path


def completed(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's complete trials."""
    import optuna

    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def write_best(study: optuna.Study, settings: TuneSettings) -> Path | None:
    """`best.yaml`: the full config of the best complete trial (None when no trial completed)."""
    if not completed(study):
        return None
    path = settings.out / BEST_YAML
    save_config(settings.config_for(study.best_trial.params), path)
    return path


def write_pictures(study: optuna.Study, folder: Path) -> list[Path]:
    """Optimisation history, per-epoch validation curves, parallel coordinates, slices and (two or more
    complete trials) parameter importances, as PNG files in `folder`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import optuna
    from optuna.visualization import matplotlib as plots

    figures = {
        "history": lambda: plots.plot_optimization_history(study),
        "epochs": lambda: plots.plot_intermediate_values(study),
        "parallel": lambda: plots.plot_parallel_coordinate(study),
        "slice": lambda: plots.plot_slice(study),
    }
    if len(completed(study)) >= 2:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        figures["importance"] = lambda: plots.plot_param_importances(study, evaluator=evaluator)
    written = []
    logging.getLogger("matplotlib.category").setLevel(logging.WARNING)  # categorical axes are meant
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message=".*(tight_layout|identical low and high|No artists)")  # few trials
        for name, plot in figures.items():
            figure = np.atleast_1d(plot()).flat[0].figure
            if name in SIZES:  # plot_slice sizes its figure to its panels and places its colour bar itself
                figure.set_size_inches(*SIZES[name])
                figure.tight_layout()
            path = folder / f"{name}.png"
            with open_atomic(path, binary=True) as handle:
                figure.savefig(handle, dpi=100, format="png")
            plt.close(figure)
            written.append(path)
    return written


def write_outputs(study: optuna.Study, settings: TuneSettings) -> dict[str, Path | list[Path] | None]:
    """Every output of a study, from its storage: trials.csv, best.yaml, pictures."""
    return {
        "trials": write_trials_csv(study, settings),
        "best": write_best(study, settings),
        "pictures": write_pictures(study, settings.out / IMAGES_DIR),
    }
