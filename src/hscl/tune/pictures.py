"""A study's pictures, drawn with matplotlib from its trials: optimisation history, per-epoch validation curves,
parameter slices, parallel coordinates and parameter importances.

Every axis that shows the objective names it ("validation MAE, lower is better"), trial numbers are integers,
log-scaled parameters get a few readable ticks, and the colours stay dark enough to read on white. A picture
that would say nothing is left out with a note (`picture_notes`): the per-epoch curves when every trial ran one
epoch, the importances with fewer than two complete trials; with too few trials per searched field the
importances carry a warning in their title.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hscl.metric_names import LOWER_IS_BETTER, PERCENT_KEYS
from hscl.report import new_figure, require_matplotlib, save_figure

if TYPE_CHECKING:
    import optuna

    from hscl.tune.space import Param, SearchSpace

PICTURES = ("history", "epochs", "slice", "parallel", "importance")
TRIALS_PER_PARAM = 10  # fewer complete trials than this per searched field: importances are noise (said so)
CMAP = "viridis"
CMAP_RANGE = (0.0, 0.85)  # viridis' last yellows are too pale on white
METRIC_NAMES = {"mae": "MAE", "corr": "Pearson r", "acc7": "Acc-7", "acc5": "Acc-5", "acc2_has0": "Acc-2 has0"}
METRIC_NAMES |= {"f1_has0": "F1 has0", "acc2_non0": "Acc-2 non0", "f1_non0": "F1 non0"}


def objective_label(metric: str) -> str:
    """The objective as an axis names it, e.g. 'validation MAE, lower is better' ('... %' for accuracies)."""
    unit = " (%)" if metric in PERCENT_KEYS else ""
    better = "lower" if metric in LOWER_IS_BETTER else "higher"
    return f"validation {METRIC_NAMES.get(metric, metric)}{unit}, {better} is better"


def _scale(metric: str) -> float:
    return 100.0 if metric in PERCENT_KEYS else 1.0


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    import optuna

    return [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None]


def searched(study: optuna.Study, space: SearchSpace) -> SearchSpace:
    """`space` less the fields no trial drew (fixed by `--set`)."""
    drawn = {path for trial in study.trials for path in trial.params}
    return space.without({param.path for param in space.params if param.path not in drawn})


def picture_notes(study: optuna.Study, space: SearchSpace) -> dict[str, str]:
    """Per picture left out or qualified, why: a sentence the study's page prints with its pictures."""
    space = searched(study, space)
    notes = {}
    epochs = max((len(t.intermediate_values) for t in study.trials), default=0)
    if epochs <= 1:
        notes["epochs"] = (
            "No per-epoch curves: every trial ran at most one epoch, so each has a single validation value, "
            "which the optimisation history shows."
        )
    complete = len(_finished(study))
    if complete < 2:
        notes["importance"] = f"No parameter importances: {complete} complete trial(s), at least 2 are needed."
    elif complete < TRIALS_PER_PARAM * len(space.params):
        notes["importance"] = (
            f"The parameter importances come from {complete} complete trials for {len(space.params)} searched "
            f"fields, fewer than {TRIALS_PER_PARAM} per field: they describe these trials and mean nothing beyond."
        )
    return notes


def write_pictures(study: optuna.Study, space: SearchSpace, folder: Path) -> list[Path]:
    """The study's pictures as PNG files in `folder` (a picture left out is removed there, so none goes stale)."""
    require_matplotlib()
    metric = study.user_attrs["hscl"]["metric"]
    space = searched(study, space)
    notes = picture_notes(study, space)
    drawers = {
        "history": plot_history,
        "epochs": plot_epochs,
        "slice": plot_slices,
        "parallel": plot_parallel,
        "importance": plot_importance,
    }
    written = []
    for name in PICTURES:
        path = folder / f"{name}.png"
        skipped = name in notes and (name == "epochs" or notes[name].startswith("No "))
        if skipped:
            path.unlink(missing_ok=True)
            continue
        written.append(save_figure(drawers[name](study, space, metric, notes.get(name)), path))
    return written


def _colours(values: list[float]) -> tuple[Any, Any]:
    """A colormap and normalisation for `values` (dark to light, never near-white)."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap, Normalize

    base = colormaps[CMAP]
    cmap = ListedColormap(base(np.linspace(*CMAP_RANGE, 256)))
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    return cmap, Normalize(vmin=low, vmax=high if high > low else low + 1e-9)


def plot_history(study: optuna.Study, space: SearchSpace, metric: str, note: str | None) -> Any:
    """Each trial's objective by trial number, complete ones as dots, the best so far as a step line."""
    from matplotlib.ticker import MaxNLocator

    scale, lower = _scale(metric), metric in LOWER_IS_BETTER
    figure = new_figure(8.0, 4.4)
    ax = figure.subplots()
    done = _finished(study)
    x = [t.number for t in done]
    y = [scale * t.value for t in done]
    ax.plot(x, y, "o", color="tab:blue", label="complete trial")
    best, line = None, []
    for value in y:
        best = value if best is None or (value < best if lower else value > best) else best
        line.append(best)
    if done:
        ax.step(x, line, where="post", color="tab:red", label="best so far")
        winner = x[y.index(line[-1])]
        ax.annotate(f"best: trial {winner}", (winner, line[-1]), textcoords="offset points", xytext=(6, 8), fontsize=8)
    others = [t for t in study.trials if t not in done]
    if others:
        low = min(y) if y else 0.0
        ax.plot([t.number for t in others], [low] * len(others), "x", color="0.45", label="pruned / failed / running")
    ax.set_xlabel("trial number")
    ax.set_ylabel(objective_label(metric))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"Optimisation history: {len(study.trials)} trials, {len(done)} complete", fontsize=11)
    return figure


def plot_epochs(study: optuna.Study, space: SearchSpace, metric: str, note: str | None) -> Any:
    """Each trial's validation objective per epoch (what the pruner saw), coloured by its last value."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.ticker import MaxNLocator

    scale = _scale(metric)
    trials = [t for t in study.trials if t.intermediate_values]
    last = [scale * t.intermediate_values[max(t.intermediate_values)] for t in trials]
    cmap, norm = _colours(last)
    figure = new_figure(8.0, 4.4)
    ax = figure.subplots()
    for trial, value in zip(trials, last):
        steps = sorted(trial.intermediate_values)
        style = "-" if trial.state.name == "COMPLETE" else "--"
        ax.plot(
            steps,
            [scale * trial.intermediate_values[s] for s in steps],
            style,
            marker="o",
            markersize=3,
            color=cmap(norm(value)),
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel(objective_label(metric))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="last value")
    ax.set_title("Validation objective per epoch, one line per trial (dashed: pruned or failed)", fontsize=10)
    return figure


def _axis_values(param: Param, trials: list[optuna.trial.FrozenTrial]) -> list[Any]:
    return [t.params.get(param.path) for t in trials]


def _short(value: Any) -> str:
    """A tick label in a few characters: 3e-04, 0.15, 128."""
    if isinstance(value, float) and value == 0:
        return "0"
    if isinstance(value, float):
        return f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e") if abs(value) < 1e-2 else f"{value:.3g}"
    return str(value)


def _log_ticks(low: float, high: float) -> list[float]:
    """A few round values in [low, high] for a log axis: the decades inside it, with 3 x where they fit."""
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for mantissa in (1, 3):
            value = mantissa * 10.0**exponent
            if low * 0.999 <= value <= high * 1.001:
                ticks.append(value)
    return ticks if len(ticks) >= 2 else [low, high]


def plot_slices(study: optuna.Study, space: SearchSpace, metric: str, note: str | None) -> Any:
    """One panel per searched field: each complete trial's objective against the value it drew, coloured by trial."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.ticker import MaxNLocator, NullLocator

    done = _finished(study)
    scale = _scale(metric)
    params = list(space.params)
    ncols = min(4, len(params))
    nrows = math.ceil(len(params) / ncols)
    figure = new_figure(3.3 * ncols + 1.0, 2.8 * nrows + 0.6)
    axes = figure.subplots(nrows, ncols, squeeze=False, sharey=True).ravel()
    cmap, norm = _colours([float(t.number) for t in done])
    y = [scale * t.value for t in done]
    for ax, param in zip(axes, params):
        values = _axis_values(param, done)
        if param.kind == "categorical":
            positions = {json_key(c): i for i, c in enumerate(param.choices)}
            x = [positions[json_key(v)] for v in values]
            ax.set_xticks(range(len(param.choices)), [_short(c) for c in param.choices])
            ax.set_xlim(-0.5, len(param.choices) - 0.5)
        else:
            x = values
            if param.log:
                ticks = _log_ticks(param.low, param.high)
                ax.set_xscale("log")
                ax.set_xticks(ticks, [_short(v) for v in ticks])
                ax.xaxis.set_minor_locator(NullLocator())
                ax.set_xlim(param.low / 1.15, param.high * 1.15)
            else:
                ax.xaxis.set_major_locator(MaxNLocator(4, integer=param.kind == "int"))
                span = (param.high - param.low) * 0.04
                ax.set_xlim(param.low - span, param.high + span)
        ax.scatter(x, y, c=[t.number for t in done], cmap=cmap, norm=norm, s=28, edgecolors="0.2", linewidths=0.4)
        ax.set_title(param.path, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[len(params) :]:
        ax.set_visible(False)
    for row in range(nrows):
        axes[row * ncols].set_ylabel(objective_label(metric), fontsize=8)
    bar = figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes.tolist(), shrink=0.8, label="trial number")
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    figure.suptitle(f"Objective against each searched field ({len(done)} complete trials)", fontsize=11)
    return figure


def json_key(value: Any) -> str:
    """A categorical choice as a comparable key (1 and 1.0 and True differ)."""
    import json

    return json.dumps(value)


def plot_parallel(study: optuna.Study, space: SearchSpace, metric: str, note: str | None) -> Any:
    """Parallel coordinates: one vertical axis per searched field (scaled to its range, log where searched so), one
    line per complete trial coloured by its objective, the best trial drawn thick and red."""
    from matplotlib.cm import ScalarMappable

    done = _finished(study)
    scale, lower = _scale(metric), metric in LOWER_IS_BETTER
    params = list(space.params)
    figure = new_figure(max(8.0, 1.5 * len(params) + 2.5), 5.6)
    ax = figure.subplots()
    positions = []
    for param in params:
        values = _axis_values(param, done)
        if param.kind == "categorical":
            index = {json_key(c): i for i, c in enumerate(param.choices)}
            count = max(len(param.choices) - 1, 1)
            positions.append([index[json_key(v)] / count for v in values])
        elif param.log:
            low, high = math.log(param.low), math.log(param.high)
            positions.append([(math.log(v) - low) / (high - low) for v in values])
        else:
            positions.append([(v - param.low) / (param.high - param.low) for v in values])
    y = [scale * t.value for t in done]
    cmap, norm = _colours(y)
    if not lower:  # the best trials darkest either way
        cmap = cmap.reversed()
    order = sorted(range(len(done)), key=lambda i: y[i], reverse=lower)  # best drawn last, on top
    best = order[-1] if order else None
    x = list(range(len(params)))
    for i in order:
        line = [positions[p][i] for p in x]
        if i == best:
            ax.plot(x, line, color="tab:red", linewidth=2.6, zorder=3)
        else:
            ax.plot(x, line, color=cmap(norm(y[i])), linewidth=1.3, alpha=0.9)
    for p, param in enumerate(params):
        ax.axvline(p, color="0.3", linewidth=0.8)
        for value, label in _axis_labels(param):
            ax.text(
                p + 0.04,
                value,
                label,
                fontsize=7.5,
                va="center",
                ha="left",
                color="0.1",
                zorder=4,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 0.6},
            )
    ax.set_xticks(x, [param.path.replace(".", ".\n", 1) for param in params], fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlim(-0.2, len(params) - 0.5)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=objective_label(metric), shrink=0.9)
    ax.set_title(
        f"Parallel coordinates of the {len(done)} complete trials (each axis spans the field's searched range)"
        + (f"; red: the best, trial {done[best].number}" if best is not None else ""),
        fontsize=10,
    )
    return figure


def _axis_labels(param: Param) -> list[tuple[float, str]]:
    """(height in [0, 1], label) of a parallel-coordinates axis: its bounds (and middle), or its choices."""
    if param.kind == "categorical":
        count = max(len(param.choices) - 1, 1)
        return [(i / count, _short(c)) for i, c in enumerate(param.choices)]
    if param.log:
        low, high = math.log(param.low), math.log(param.high)
        return [((math.log(v) - low) / (high - low), _short(v)) for v in _log_ticks(param.low, param.high)]
    middle = (param.low + param.high) / 2
    middle = round(middle) if param.kind == "int" else middle
    return [(0.0, _short(param.low)), (0.5, _short(middle)), (1.0, _short(param.high))]


def plot_importance(study: optuna.Study, space: SearchSpace, metric: str, note: str | None) -> Any:
    """fANOVA importances of the searched fields (Optuna's evaluator, seeded); the title warns when there are too
    few trials for them to mean anything."""
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        importances = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        )
    names = list(reversed(list(importances)))
    figure = new_figure(8.0, 1.2 + 0.42 * len(names) + (0.5 if note else 0.0))
    ax = figure.subplots()
    bars = ax.barh(names, [importances[n] for n in names], color="tab:blue")
    ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
    ax.set_xlabel(f"share of the variance of the {objective_label(metric).split(',')[0]} explained (fANOVA)")
    ax.tick_params(labelsize=8)
    ax.set_xlim(0, max(importances.values(), default=1.0) * 1.15 or 1.0)
    ax.grid(alpha=0.3, axis="x")
    title = f"Parameter importances from {len(_finished(study))} complete trials"
    if note:
        title += "\nTOO FEW TRIALS: descriptive of these trials only, not evidence"
    ax.set_title(title, fontsize=10, color="tab:red" if note else "black")
    return figure
