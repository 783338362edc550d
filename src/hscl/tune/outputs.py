"""What a study leaves in its directory: `trials.csv`, `best.yaml` and its pictures (`hscl.tune.pictures`)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from hscl.config import save_config
from hscl.files import open_atomic
from hscl.tune.pictures import write_pictures
from hscl.tune.study import TuneSettings, pinned_paths

if TYPE_CHECKING:
    import optuna

TRIALS_CSV = "trials.csv"
BEST_YAML = "best.yaml"
IMAGES_DIR = "img"
STALE = "no result recorded: its worker was killed or lost (failed after two missed heartbeats)"


def trial_reason(trial: optuna.trial.FrozenTrial, retried_as: int | None = None) -> str:
    """Why a trial ended as it did, in a few words (empty for a complete one): `retried_as` is the trial that runs
    it again after its worker was lost."""
    state = trial.state.name
    again = f"retry of trial {trial.system_attrs['failed_trial']}" if "failed_trial" in trial.system_attrs else ""
    if state == "PRUNED":
        reason = f"pruned after epoch {trial.last_step}"
    elif state == "FAIL":
        reason = str(trial.user_attrs.get("fail_reason", STALE))
        if retried_as is not None:
            reason += f"; run again as trial {retried_as}, so it does not count toward --trials"
    elif state == "RUNNING":
        reason = "running, or killed and not yet failed (two heartbeats)"
    elif state == "WAITING":
        reason = "queued"
    else:
        reason = ""
    return "; ".join(part for part in (again, reason) if part)


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
        retried_as = {
            t.system_attrs["retry_history"][-1]: t.number for t in study.trials if "failed_trial" in t.system_attrs
        }
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
                    trial_reason(trial, retried_as.get(trial.number)),
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


def write_outputs(study: optuna.Study, settings: TuneSettings) -> dict[str, Path | list[Path] | None]:
    """Every output of a study, from its storage: trials.csv, best.yaml, pictures."""
    return {
        "trials": write_trials_csv(study, settings),
        "best": write_best(study, settings),
        "pictures": write_pictures(study, settings.space, settings.out / IMAGES_DIR),
    }
