"""Plots of a finished run: training curves, test predictions, 7-class confusion, embeddings before/after.

Matplotlib (`pip install hscl[report]`) is imported only when a figure is drawn, through its
object-oriented API and the Agg canvas, so neither `hscl` nor a caller's pyplot state depends on it.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hscl.errors import HSCLError
from hscl.files import check_output_folder, open_atomic
from hscl.training.run_records import PROJECTIONS_FINAL, PROJECTIONS_INITIAL, EpochRecord, RunDir

logger = logging.getLogger("hscl.report")

CURVES_PNG = "curves.png"
SCATTER_PNG = "scatter.png"
CONFUSION_PNG = "confusion.png"
EMBEDDING_PNG = "embedding.png"
IMAGES = (CURVES_PNG, SCATTER_PNG, CONFUSION_PNG, EMBEDDING_PNG)
CAPTIONS = {
    CURVES_PNG: "Mean training loss per term (the legend names each term) and validation MAE, Corr and Acc-2 "
    "(non0, in %) per epoch; the dotted line and the star mark the selected epoch.",
    SCATTER_PNG: "Predicted against true sentiment on the test split; the dashed line is y = x.",
    CONFUSION_PNG: "Seven-class confusion matrix on the test split (round(clip(., -3, 3)) on both sides), each row "
    "normalised to 100 % of its true class; every cell gives its share and its count.",
    EMBEDDING_PNG: "t-SNE of the test-split projections before and after training, coloured by label: "
    "unimodal level (z_t with z_a, z_v) and fusion level (z_at, z_vt), where present; the title says how many "
    "test samples are drawn.",
}

LOSS_TERMS = {  # what each training loss term of `HSCLLoss` is, for the curves' legend
    "total": "total = task + w1 (ta + tv) + w2 fusion",
    "task": "task: L1 of the predicted score",
    "ta": "ta: text-audio SupCR + alpha x similarity",
    "tv": "tv: text-visual SupCR + alpha x similarity",
    "fusion": "fusion: SupCR of z_at, z_vt",
}
# validation panels: metric key, title, y-axis label, scale (percentages as the command line prints them)
VALID_PANELS = (
    ("mae", "valid MAE", "MAE (label units, lower is better)", 1.0),
    ("corr", "valid Corr", "Pearson r (higher is better)", 1.0),
    ("acc2_non0", "valid Acc-2 (non0)", "accuracy % (higher is better)", 100.0),
)
LEVELS = (("unimodal", ("z_t", "z_a", "z_v")), ("fusion", ("z_at", "z_vt")))
VIEW_STYLE = {  # marker and legend label of each projection
    "z_t": ("o", "text  z_t"),
    "z_a": ("^", "audio  z_a"),
    "z_v": ("s", "visual  z_v"),
    "z_at": ("D", "audio-text  z_at"),
    "z_vt": ("P", "visual-text  z_vt"),
}
EMBED_MAX_POINTS = 600  # points per t-SNE: samples x views of the widest level
EMBED_MIN_SAMPLES = 5  # below this an embedding says nothing; the plot is skipped
EMBED_SEED = 0
LABEL_CMAP = "coolwarm"
DPI = 110


@dataclass
class EmbeddingPanel:
    """One t-SNE panel: several views (projection name -> (n, d)) of the same n samples."""

    stage: str  # "before" or "after" training
    level: str  # "unimodal" or "fusion"
    views: dict[str, np.ndarray]
    labels: np.ndarray  # (n,)


def confusion_counts(predictions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(7, 7) counts: row = true class -3..3, column = predicted class -3..3."""
    from hscl.metrics import SENTIMENT_CLASSES, sentiment_class_index

    if np.shape(predictions) != np.shape(labels):
        raise ValueError(f"predictions {np.shape(predictions)} and labels {np.shape(labels)} differ in shape")
    counts = np.zeros((SENTIMENT_CLASSES.size, SENTIMENT_CLASSES.size), dtype=np.int64)
    np.add.at(counts, (sentiment_class_index(labels), sentiment_class_index(predictions)), 1)
    return counts


def subsample(n: int, limit: int, seed: int = EMBED_SEED) -> np.ndarray:
    """A deterministic, sorted choice of min(n, limit) distinct rows out of n."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def tsne_perplexity(n_points: int) -> float:
    """sklearn's default 30, lowered for small sets so that 3 * perplexity < n_points."""
    return max(1.0, min(30.0, (n_points - 1) / 3.0))


def embed_2d(points: np.ndarray, seed: int = EMBED_SEED) -> np.ndarray:
    """t-SNE of L2-normalised rows (the cosine geometry the contrastive losses use) to (n, 2).

    Runs on one OpenMP thread: for a few hundred points the per-iteration work is too small to share,
    and on a busy machine the thread barriers made it about ten times slower (the result is identical).
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    norms = np.linalg.norm(points, axis=1, keepdims=True)
    unit = points / np.maximum(norms, 1e-12)
    tsne = TSNE(
        n_components=2, perplexity=tsne_perplexity(len(points)), init="pca", learning_rate="auto", random_state=seed
    )
    with threadpool_limits(limits=1, user_api="openmp"):
        return tsne.fit_transform(unit)


def embedding_panels(initial: dict[str, np.ndarray], final: dict[str, np.ndarray]) -> list[EmbeddingPanel]:
    """The before/after panels of each level whose projections exist, on one shared sample subset."""
    levels = [(level, [n for n in names if n in final]) for level, names in LEVELS]
    levels = [(level, names) for level, names in levels if names]
    if not levels:
        return []
    widest = max(len(names) for _, names in levels)
    rows = subsample(len(final["labels"]), EMBED_MAX_POINTS // widest)
    panels = []
    for level, names in levels:
        for stage, arrays in (("before", initial), ("after", final)):
            views = {name: arrays[name][rows] for name in names}
            panels.append(EmbeddingPanel(stage, level, views, final["labels"][rows]))
    return panels


def _check_same_test_set(initial: dict[str, np.ndarray], final: dict[str, np.ndarray], run_dir: Path) -> None:
    """Initial and final projections must describe the same samples with the same projections."""
    same_labels = initial["labels"].shape == final["labels"].shape and np.array_equal(
        initial["labels"], final["labels"]
    )
    if not same_labels or set(initial) != set(final):
        raise HSCLError(
            f"{run_dir}: {PROJECTIONS_INITIAL} and {PROJECTIONS_FINAL} describe "
            f"different test sets or projections ({sorted(initial)} vs {sorted(final)})"
        )


def require_matplotlib() -> None:
    """An `HSCLError` saying how to install matplotlib, unless it is importable."""
    try:
        import matplotlib.backends.backend_agg  # noqa: F401
    except ImportError as err:
        raise HSCLError("plotting a run needs matplotlib: pip install hscl[report]") from err


def new_figure(width: float, height: float) -> Any:
    """A Figure on its own Agg canvas (no pyplot, no change to the global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Any, path: Path) -> Path:
    with open_atomic(path, binary=True) as handle:
        figure.savefig(handle, dpi=DPI, format=path.suffix.lstrip(".") or "png")
    return path


def plot_curves(epochs: list[EpochRecord], best: int | None, path: Path) -> Path:
    """One panel per training loss term, then validation MAE, Corr and Acc-2 (non0, in %); the selected epoch
    `best` (None: none) marked. Every panel names its quantity and unit on the y axis; a legend says what each loss
    term is."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    terms = list(dict.fromkeys(term for e in epochs for term in e.train))
    panels = [
        (f"train {t}", "loss (mean over batches)", [e.train.get(t, math.nan) for e in epochs], "tab:blue")
        for t in terms
    ]
    panels += [
        (title, label, [scale * e.valid.get(key, math.nan) for e in epochs], "tab:green")
        for key, title, label, scale in VALID_PANELS
    ]
    x = [e.epoch for e in epochs]
    if best not in x:
        best = None
    ncols = min(4, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    figure = new_figure(3.4 * ncols, 2.7 * nrows + 0.7)
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (title, label, values, color) in zip(axes, panels):
        ax.plot(x, values, marker="o", markersize=3, color=color)
        if best is not None:
            ax.axvline(best, color="0.4", linestyle=":", linewidth=1)
            ax.plot([best], [values[x.index(best)]], marker="*", markersize=11, color="tab:red", linestyle="")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label, fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    handles = [Line2D([], [], linestyle="", label=LOSS_TERMS.get(t, t)) for t in terms]
    if best is not None:
        handles.append(
            Line2D([], [], marker="*", markersize=9, color="tab:red", linestyle=":", label=f"selected epoch {best}")
        )
    figure.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(len(handles), 3),
        fontsize=8,
        frameon=False,
        handlelength=1.0,
    )
    figure.suptitle("Training curves" + (f" (selected epoch {best}, marked *)" if best is not None else ""))
    return save_figure(figure, path)


def plot_scatter(projections: dict[str, np.ndarray], path: Path) -> Path:
    """Predicted vs true sentiment on test, with the y = x line and MAE / Corr in the title."""
    from hscl.metrics import regression_metrics

    labels, predictions = projections["labels"], projections["prediction"]
    metrics = regression_metrics(predictions, labels)
    figure = new_figure(5.2, 5.0)
    ax = figure.subplots()
    ax.scatter(labels, predictions, s=10, alpha=0.5, color="tab:blue", edgecolors="none")
    low = min(-3.0, float(predictions.min())) - 0.2
    high = max(3.0, float(predictions.max())) + 0.2
    ax.plot([low, high], [low, high], linestyle="--", color="0.3", linewidth=1, label="y = x")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal")
    ax.set_xlabel("true sentiment")
    ax.set_ylabel("predicted sentiment")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    ax.set_title(f"Test (N={labels.size}): MAE {metrics['mae']:.3f}, Corr {metrics['corr']:.3f}")
    return save_figure(figure, path)


def plot_confusion(projections: dict[str, np.ndarray], path: Path) -> Path:
    """The 7-class confusion matrix on test, each row normalised to its true class (colour and share) with the
    count of every cell written in it."""
    from hscl.metrics import SENTIMENT_CLASSES

    counts = confusion_counts(projections["prediction"], projections["labels"])
    totals = counts.sum(axis=1)
    shares = counts / np.maximum(totals, 1)[:, None]
    figure = new_figure(6.4, 5.4)
    ax = figure.subplots()
    image = ax.imshow(100 * shares, cmap="Blues", vmin=0, vmax=100)
    for row, col in np.ndindex(counts.shape):
        if totals[row] == 0:
            continue
        ax.text(
            col,
            row,
            f"{100 * shares[row, col]:.0f}%\n{counts[row, col]}",
            ha="center",
            va="center",
            fontsize=7.5,
            color="white" if shares[row, col] > 0.5 else "black",
        )
    ticks = range(SENTIMENT_CLASSES.size)
    ax.set_xticks(ticks, [str(c) for c in SENTIMENT_CLASSES])
    ax.set_yticks(ticks, [f"{c} (n={n})" for c, n in zip(SENTIMENT_CLASSES, totals)])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (samples)")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"Test 7-class confusion, N={counts.sum()} (Acc-7 {100 * accuracy:.1f}%)", fontsize=10)
    figure.colorbar(image, ax=ax, label="% of the true class (each row sums to 100)", shrink=0.8)
    return save_figure(figure, path)


def plot_embedding(panels: list[EmbeddingPanel], path: Path, total: int | None = None) -> Path:
    """A grid of t-SNE panels (rows: levels, columns: before / after), points coloured by label; the title says how
    many of the `total` test samples (default: those drawn) are drawn."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    levels = list(dict.fromkeys(p.level for p in panels))
    stages = list(dict.fromkeys(p.stage for p in panels))
    drawn = len(panels[0].labels)
    total = drawn if total is None else total
    figure = new_figure(5.2 * len(stages) + 1.0, 4.8 * len(levels))
    axes = figure.subplots(len(levels), len(stages), squeeze=False)
    cmap = colormaps[LABEL_CMAP]
    norm = Normalize(vmin=-3.0, vmax=3.0)
    for panel in panels:
        ax = axes[levels.index(panel.level), stages.index(panel.stage)]
        names = list(panel.views)
        xy = embed_2d(np.concatenate([panel.views[name] for name in names]))
        n = len(panel.labels)
        for i, name in enumerate(names):
            marker, _ = VIEW_STYLE[name]
            ax.scatter(
                xy[i * n : (i + 1) * n, 0],
                xy[i * n : (i + 1) * n, 1],
                c=panel.labels,
                cmap=cmap,
                norm=norm,
                marker=marker,
                s=16,
                alpha=0.8,
                linewidths=0.3,
                edgecolors="0.2",
            )
        handles = [
            Line2D(
                [],
                [],
                marker=VIEW_STYLE[name][0],
                linestyle="",
                color="0.5",
                markeredgecolor="0.2",
                label=VIEW_STYLE[name][1],
            )
            for name in names
        ]
        ax.legend(handles=handles, loc="best", fontsize=8, framealpha=0.7)
        views = ", ".join(names)
        ax.set_title(f"{panel.level} level ({views}), {panel.stage} training", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    figure.colorbar(
        ScalarMappable(norm=norm, cmap=cmap), ax=axes.ravel().tolist(), label="true sentiment label", shrink=0.8
    )
    of = f"{drawn} of {total} test samples, drawn at random" if total > drawn else f"all {total} test samples"
    figure.suptitle(
        f"t-SNE of the test-split projections z_*, before and after training\n({of}; colour: true sentiment "
        "label; one marker per sample and view)",
        fontsize=11,
    )
    return save_figure(figure, path)


def make_report(run_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Write curves.png, scatter.png, confusion.png and (when projections exist) embedding.png.

    Returns the images written, in that order. `out_dir` defaults to `run_dir/report`.
    """
    require_matplotlib()
    run = RunDir(run_dir)
    run_dir = run.path
    run.require_folder()
    out = check_output_folder(Path(out_dir) if out_dir is not None else run_dir / "report", run.records())
    epochs = run.read_epochs()
    final = run.read_projections(PROJECTIONS_FINAL)
    initial = run.read_projections(PROJECTIONS_INITIAL)
    _check_same_test_set(initial, final, run_dir)
    selected = run.selected_epoch()
    images = [
        plot_curves(epochs, selected, out / CURVES_PNG),
        plot_scatter(final, out / SCATTER_PNG),
        plot_confusion(final, out / CONFUSION_PNG),
    ]
    panels = embedding_panels(initial, final)
    if not panels:
        logger.warning("%s: no projections stored; embedding plot skipped", run_dir)
    elif len(final["labels"]) < EMBED_MIN_SAMPLES:
        logger.warning("%s: only %d test samples; embedding plot skipped", run_dir, len(final["labels"]))
    else:
        images.append(plot_embedding(panels, out / EMBEDDING_PNG, total=len(final["labels"])))
    return images


def report_markdown(run_dir: str | Path, images: list[Path], relative_to: str | Path) -> str:
    """A Markdown snippet: the run's test metrics, then each image with its caption.

    Image links are relative to `relative_to` (the folder the Markdown file will live in).
    """
    from hscl.metrics import format_metrics

    run_dir = Path(run_dir)
    test = RunDir(run_dir).read_test_metrics()
    lines = [f"**Run `{run_dir.name}`**, test: {format_metrics(test)}", ""]
    for image in images:
        link = Path(os.path.relpath(Path(image).resolve(), Path(relative_to).resolve())).as_posix()
        path = Path(image)
        lines += [f"![{path.stem}]({link})", f"*{CAPTIONS.get(path.name, path.stem)}*", ""]
    return "\n".join(lines)
