"""`hscl tune`'s pictures, drawn from a study's trials without training: what each axis says, what is left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("matplotlib")

from matplotlib.colors import to_rgb  # noqa: E402

from hscl.tune import pictures  # noqa: E402
from hscl.tune.space import Param, SearchSpace  # noqa: E402

SPACE = SearchSpace(
    (
        Param("train.lr_main", "float", 3e-4, 3e-3, log=True),
        Param("model.dropout_prj", "float", 0.0, 0.3),
        Param("train.epochs", "int", 1, 20),
        Param("model.d_prjh", "categorical", choices=(64, 128, 256)),
        Param("train.patience", "int", 3, 10),  # fixed by --set: no trial draws it
    ),
    "test space",
)


def make_study(trials: int, epochs: int, metric: str = "mae") -> optuna.Study:
    """A study of `trials` finished trials with `epochs` intermediate values each (and one pruned, one failed)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize" if metric == "mae" else "maximize")
    study.set_user_attr("hscl", {"metric": metric})
    rng = np.random.default_rng(0)
    distributions = {p.path: optuna.distributions.FloatDistribution(p.low, p.high, log=p.log) for p in SPACE.params[:2]}
    distributions["train.epochs"] = optuna.distributions.IntDistribution(1, 20)
    distributions["model.d_prjh"] = optuna.distributions.CategoricalDistribution([64, 128, 256])
    for number in range(trials + 2):
        params = {
            "train.lr_main": float(np.exp(rng.uniform(np.log(3e-4), np.log(3e-3)))),
            "model.dropout_prj": float(rng.uniform(0, 0.3)),
            "train.epochs": int(rng.integers(1, 21)),
            "model.d_prjh": int(rng.choice([64, 128, 256])),
        }
        values = {step: float(rng.uniform(0.8, 1.2)) for step in range(1, epochs + 1)}
        state = optuna.trial.TrialState.COMPLETE
        if number == trials:
            state = optuna.trial.TrialState.PRUNED
        elif number == trials + 1:
            state, values = optuna.trial.TrialState.FAIL, {}
        study.add_trial(
            optuna.create_trial(
                state=state,
                params=params,
                distributions=distributions,
                value=values[epochs] if state == optuna.trial.TrialState.COMPLETE else None,
                intermediate_values=values,
            )
        )
    return study


@pytest.fixture
def drawn(monkeypatch):
    figures: dict[str, object] = {}

    def keep(figure, path):
        figures[Path(path).stem] = figure
        return Path(path)

    monkeypatch.setattr(pictures, "save_figure", keep)
    return figures


def axes_of(figure) -> list:
    return [ax for ax in figure.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def test_every_objective_axis_names_the_objective_and_trial_ticks_are_integers(drawn, tmp_path):
    study = make_study(trials=12, epochs=3)
    written = pictures.write_pictures(study, SPACE, tmp_path)
    assert [p.stem for p in written] == list(pictures.PICTURES)
    label = "validation MAE, lower is better"
    (history,) = axes_of(drawn["history"])
    assert history.get_ylabel() == label and history.get_xlabel() == "trial number"
    ticks = [t for t in history.get_xticks() if history.get_xlim()[0] <= t <= history.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    (epochs,) = axes_of(drawn["epochs"])[:1]
    assert epochs.get_ylabel() == label and all(float(t).is_integer() for t in epochs.get_xticks())
    slices = axes_of(drawn["slice"])
    assert [ax.get_title() for ax in slices[:4]] == [
        "train.lr_main",
        "model.dropout_prj",
        "train.epochs",
        "model.d_prjh",
    ]
    assert slices[0].get_ylabel() == label and slices[0].get_xscale() == "log"
    assert [t.get_text() for t in slices[0].get_xticklabels()] == ["3e-4", "1e-3", "3e-3"]  # short, no overlap
    assert [t.get_text() for t in slices[3].get_xticklabels()] == ["64", "128", "256"]
    colorbar = next(ax for ax in drawn["parallel"].axes if ax.get_label() == "<colorbar>")
    assert colorbar.get_ylabel() == label
    parallel = axes_of(drawn["parallel"])[0]
    assert "train.patience" not in " ".join(t.get_text() for t in parallel.get_xticklabels())  # never drawn
    colours = [line.get_color() for line in parallel.lines if line.get_linewidth() < 2]
    assert colours and all(sum(to_rgb(c)) / 3 < 0.8 for c in colours)  # no near-white lines
    importance = axes_of(drawn["importance"])[0]
    assert "TOO FEW TRIALS" in importance.get_title() and "validation MAE" in importance.get_xlabel()


def test_one_epoch_trials_get_no_per_epoch_plot_but_a_note(drawn, tmp_path):
    (tmp_path / "epochs.png").write_bytes(b"stale")
    study = make_study(trials=3, epochs=1, metric="acc2_non0")
    written = pictures.write_pictures(study, SPACE, tmp_path)
    assert "epochs" not in [p.stem for p in written] and not (tmp_path / "epochs.png").exists()
    notes = pictures.picture_notes(study, SPACE)
    assert notes["epochs"].startswith("No per-epoch curves: every trial ran at most one epoch")
    assert "3 complete trials for 4 searched fields" in notes["importance"]
    (history,) = axes_of(drawn["history"])
    assert history.get_ylabel() == "validation Acc-2 non0 (%), higher is better"
    assert max(history.lines[0].get_ydata()) > 1.0  # in percent


def test_a_study_with_enough_trials_has_importances_without_a_warning(drawn, tmp_path):
    study = make_study(trials=41, epochs=2)
    assert "importance" not in pictures.picture_notes(study, SPACE)
    pictures.write_pictures(study, SPACE, tmp_path)
    assert "TOO FEW" not in axes_of(drawn["importance"])[0].get_title()
    assert "No parameter importances" in pictures.picture_notes(make_study(trials=1, epochs=2), SPACE)["importance"]
