"""`hscl report`: plots of a fake run directory, skipped panels, clear errors, and the confusion counts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from hscl.cli import main
from hscl.errors import HSCLError
from hscl.metrics import SENTIMENT_CLASSES, regression_metrics
from hscl.report import (
    EMBED_MAX_POINTS,
    EmbeddingPanel,
    confusion_counts,
    embedding_panels,
    make_report,
    report_markdown,
    subsample,
    tsne_perplexity,
)

matplotlib_image = pytest.importorskip("matplotlib.image")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ALL_VIEWS = ("z_t", "z_a", "z_v", "z_at", "z_vt")
TERMS = ("total", "task", "ta", "tv", "fusion")
SELECTED = (True, True, False, True, False)  # the kept checkpoint is epoch 4


def _projections(labels: np.ndarray, views: tuple[str, ...], rng: np.random.Generator, trained: bool) -> dict:
    """Random projections; after "training" they line up with the label, as HSCL should make them."""
    n = labels.size
    arrays = {"labels": labels.astype(np.float32), "prediction": (labels + rng.normal(0, 0.6, n)).astype(np.float32)}
    for name in views:
        z = rng.normal(size=(n, 8))
        if trained:
            z[:, 0] += 3 * labels
            z[:, 1] -= 3 * labels
        arrays[name] = np.maximum(z, 0).astype(np.float32)
    return arrays


def write_fake_run(run_dir: Path, views: tuple[str, ...] = ALL_VIEWS, n: int = 60, seed: int = 0) -> Path:
    """A run directory with every file `make_report` reads (plus selection.json and test_metrics.json)."""
    rng = np.random.default_rng(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / "metrics.jsonl").open("w", encoding="utf-8") as handle:
        for epoch, selected in enumerate(SELECTED, start=1):
            record = {
                "epoch": epoch,
                "train": {t: float(rng.uniform(0.5, 2) / epoch) for t in TERMS},
                "valid": regression_metrics(rng.uniform(-3, 3, 30), rng.uniform(-3, 3, 30)),
                "lr": {"text": 1e-5, "main": 1e-4},
                "seconds": 1.0,
                "selected": selected,
            }
            handle.write(json.dumps(record) + "\n")
    labels = np.round(rng.uniform(-3, 3, n) * 3) / 3
    initial = _projections(labels, views, rng, trained=False)
    final = _projections(labels, views, rng, trained=True)
    np.savez_compressed(run_dir / "projections_initial.npz", **initial)
    np.savez_compressed(run_dir / "projections_final.npz", **final)
    test = regression_metrics(final["prediction"], final["labels"])
    (run_dir / "test_metrics.json").write_text(json.dumps(test), encoding="utf-8")
    (run_dir / "selection.json").write_text(json.dumps({"epoch": 4, "metric": "mae", "valid": test}))
    return run_dir


def assert_png(path: Path) -> tuple[int, int]:
    """`path` is a decodable, non-trivial PNG; returns its (height, width) in pixels."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > 10_000, (path, len(data))
    pixels = matplotlib_image.imread(path)
    assert pixels.shape[0] >= 300 and pixels.shape[1] >= 300, pixels.shape
    assert pixels[..., :3].std() > 0.01, f"{path} is blank"
    return pixels.shape[0], pixels.shape[1]


@pytest.fixture(scope="module")
def full_report(tmp_path_factory) -> Path:
    """A fake audio+visual run, reported once through the CLI wiring, with a Markdown snippet."""
    run_dir = write_fake_run(tmp_path_factory.mktemp("run") / "mosi-seed1")
    assert main(["report", str(run_dir), "--markdown", str(run_dir.parent / "docs" / "results.md")]) == 0
    return run_dir


def test_every_png_is_written_and_valid(full_report):
    names = ["curves.png", "scatter.png", "confusion.png", "embedding.png"]
    assert sorted(p.name for p in (full_report / "report").iterdir()) == sorted(names)
    for name in names:
        assert_png(full_report / "report" / name)


def test_markdown_embeds_the_images_relative_to_its_folder(full_report):
    text = (full_report.parent / "docs" / "results.md").read_text(encoding="utf-8")
    for name in ("curves.png", "scatter.png", "confusion.png", "embedding.png"):
        assert f"](../mosi-seed1/report/{name})" in text
    assert text.count("![") == 4
    test = json.loads((full_report / "test_metrics.json").read_text())
    assert f"mae {test['mae']:.4f}" in text and "mosi-seed1" in text


def test_report_markdown_uses_posix_links_and_known_captions(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", n=10)
    images = [run_dir / "report" / "scatter.png", run_dir / "report" / "custom.png"]
    text = report_markdown(run_dir, images, tmp_path)
    assert "](run/report/scatter.png)" in text
    assert "Predicted against true sentiment" in text
    assert "![custom](run/report/custom.png)" in text


def test_text_only_run_skips_the_absent_projections(full_report, tmp_path):
    run_dir = write_fake_run(tmp_path / "text", views=("z_t",), n=40)
    images = make_report(run_dir, tmp_path / "out")
    assert [p.name for p in images] == ["curves.png", "scatter.png", "confusion.png", "embedding.png"]
    assert all(p.parent == tmp_path / "out" for p in images)
    height, width = assert_png(images[-1])
    full_height, full_width = assert_png(full_report / "report" / "embedding.png")
    assert width == full_width and height < 0.7 * full_height  # one row of panels instead of two

    arrays = {k: v for k, v in np.load(run_dir / "projections_final.npz").items()}
    panels = embedding_panels(arrays, arrays)
    assert [(p.level, p.stage, list(p.views)) for p in panels] == [
        ("unimodal", "before", ["z_t"]),
        ("unimodal", "after", ["z_t"]),
    ]


def test_audio_only_run_has_no_visual_views():
    rng = np.random.default_rng(1)
    arrays = _projections(rng.uniform(-3, 3, 12), ("z_t", "z_a", "z_at"), rng, trained=True)
    panels = embedding_panels(arrays, arrays)
    assert [(p.level, list(p.views)) for p in panels] == [
        ("unimodal", ["z_t", "z_a"]),
        ("unimodal", ["z_t", "z_a"]),
        ("fusion", ["z_at"]),
        ("fusion", ["z_at"]),
    ]


def test_run_without_projections_writes_no_embedding(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", views=(), n=30)
    images = make_report(run_dir)
    assert [p.name for p in images] == ["curves.png", "scatter.png", "confusion.png"]
    assert not (run_dir / "report" / "embedding.png").exists()
    for image in images:
        assert_png(image)


def test_embedding_panels_share_one_deterministic_subset():
    n = EMBED_MAX_POINTS + 100
    rng = np.random.default_rng(2)
    labels = rng.uniform(-3, 3, n)
    row_id = np.arange(n, dtype=np.float64)[:, None]
    initial = {
        "labels": labels,
        "prediction": labels,
        "z_t": row_id + 0.0,
        "z_a": row_id + 0.1,
        "z_v": row_id + 0.2,
        "z_at": row_id + 0.3,
        "z_vt": row_id + 0.4,
    }
    final = {name: value + 1000.0 if name.startswith("z_") else value for name, value in initial.items()}
    panels = embedding_panels(initial, final)
    rows = subsample(n, EMBED_MAX_POINTS // 3)
    assert len(rows) == EMBED_MAX_POINTS // 3
    for panel in panels:
        source = initial if panel.stage == "before" else final
        np.testing.assert_array_equal(panel.labels, labels[rows])
        for name, view in panel.views.items():
            np.testing.assert_array_equal(view, source[name][rows])
    assert max(sum(len(v) for v in p.views.values()) for p in panels) <= EMBED_MAX_POINTS
    assert isinstance(panels[0], EmbeddingPanel)


def test_subsample_is_deterministic_sorted_and_distinct():
    first, second = subsample(1000, 200), subsample(1000, 200)
    np.testing.assert_array_equal(first, second)
    assert len(np.unique(first)) == 200 and np.all(np.diff(first) > 0) and first.max() < 1000
    np.testing.assert_array_equal(subsample(50, 200), np.arange(50))


@pytest.mark.parametrize("n_points", [2, 3, 5, 10, 30, 91, 92, 600])
def test_perplexity_is_below_the_number_of_points(n_points):
    perplexity = tsne_perplexity(n_points)
    assert 1.0 <= perplexity < n_points
    assert perplexity == (30.0 if n_points >= 91 else max(1.0, (n_points - 1) / 3))


@pytest.mark.parametrize("missing", ["metrics.jsonl", "projections_final.npz", "projections_initial.npz"])
def test_missing_file_is_named(tmp_path, missing):
    run_dir = write_fake_run(tmp_path / "run", n=10)
    (run_dir / missing).unlink()
    with pytest.raises(HSCLError, match=missing.replace(".", r"\.") + ": missing"):
        make_report(run_dir)


def test_markdown_needs_test_metrics(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", n=10)
    (run_dir / "test_metrics.json").unlink()
    with pytest.raises(HSCLError, match=r"test_metrics\.json: missing"):
        report_markdown(run_dir, [], tmp_path)


def test_bad_projections_are_named(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", n=10)
    arrays = dict(np.load(run_dir / "projections_final.npz"))
    np.savez(run_dir / "projections_final.npz", **{**arrays, "z_a": arrays["z_a"][:5]})
    with pytest.raises(HSCLError, match=r"projections_final\.npz: 'z_a' has shape \(5, 8\)"):
        make_report(run_dir)
    np.savez(run_dir / "projections_final.npz", **{**arrays, "prediction": np.full(10, np.nan)})
    with pytest.raises(HSCLError, match="'prediction' contains NaN"):
        make_report(run_dir)
    np.savez(run_dir / "projections_final.npz", **{**arrays, "labels": arrays["labels"][::-1]})
    with pytest.raises(HSCLError, match="describe different test sets"):
        make_report(run_dir)


def test_missing_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    run_dir = write_fake_run(tmp_path / "run", n=10)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(HSCLError, match=r"pip install hscl\[report\]"):
        make_report(run_dir)
    assert not (run_dir / "report").exists()


def test_confusion_counts_match_a_hand_computed_matrix():
    # Rounding is half-to-even (as in hscl.metrics): 0.5 -> 0, -2.5 -> -2, 1.5 -> 2; clipping to [-3, 3].
    labels = np.array([0.0, 0.5, -2.5, 3.0, 9.0, -3.4, 1.5, 1.4, -0.6, 0.0])
    preds = np.array([0.4, -0.5, -3.0, 2.6, 3.5, -10.0, 2.5, 0.6, -1.0, -1.6])
    # (true class, predicted class) per sample:
    # (0,0) (0,0) (-2,-3) (3,3) (3,3) (-3,-3) (2,2) (1,1) (-1,-1) (0,-2)
    expected = np.zeros((7, 7), dtype=np.int64)
    for true, predicted, count in [
        (0, 0, 2),
        (-2, -3, 1),
        (3, 3, 2),
        (-3, -3, 1),
        (2, 2, 1),
        (1, 1, 1),
        (-1, -1, 1),
        (0, -2, 1),
    ]:
        expected[true + 3, predicted + 3] = count
    np.testing.assert_array_equal(confusion_counts(preds, labels), expected)


def test_confusion_counts_match_a_loop_and_acc7():
    rng = np.random.default_rng(4)
    labels = np.round(rng.uniform(-3.5, 3.5, 400) * 2) / 2  # many exact .5 ties
    preds = np.round(rng.normal(0, 2.5, 400) * 2) / 2
    reference = np.zeros((7, 7), dtype=np.int64)
    for p, y in zip(preds, labels):
        true = int(np.round(min(max(y, -3.0), 3.0)))
        predicted = int(np.round(min(max(p, -3.0), 3.0)))
        reference[list(SENTIMENT_CLASSES).index(true), list(SENTIMENT_CLASSES).index(predicted)] += 1
    counts = confusion_counts(preds, labels)
    np.testing.assert_array_equal(counts, reference)
    assert counts.sum() == 400
    assert np.trace(counts) / 400 == pytest.approx(regression_metrics(preds, labels)["acc7"])
    with pytest.raises(ValueError, match="differ in shape"):
        confusion_counts(preds[:3], labels)


def test_every_picture_names_its_axes_units_and_what_it_shows(tmp_path, monkeypatch):
    from hscl import report

    figures = {}

    def keep(figure, path):
        figures[Path(path).name] = figure
        return Path(path)

    monkeypatch.setattr(report, "save_figure", keep)
    monkeypatch.setattr(report, "EMBED_MAX_POINTS", 90)  # 30 of the 60 test samples per level are drawn
    make_report(write_fake_run(tmp_path / "run"), tmp_path / "out")
    curves = [ax for ax in figures["curves.png"].axes if ax.get_visible()]
    assert len(curves) == len(TERMS) + 3 and all(ax.get_ylabel() and ax.get_xlabel() == "epoch" for ax in curves)
    labels = {ax.get_title(): ax.get_ylabel() for ax in curves}
    assert labels["valid MAE"].startswith("MAE") and "lower is better" in labels["valid MAE"]
    assert labels["valid Acc-2 (non0)"].startswith("accuracy %")
    acc = next(ax for ax in curves if ax.get_title() == "valid Acc-2 (non0)").lines[0].get_ydata()
    assert 1.0 < max(acc) <= 100.0  # in percent, as the command line prints it
    legend = [text.get_text() for text in figures["curves.png"].legends[0].get_texts()]
    assert any(t.startswith("ta: text-audio") for t in legend) and any("selected epoch 4" in t for t in legend)
    assert any(t.startswith("fusion:") for t in legend) and any(t.startswith("task:") for t in legend)
    (confusion, _colorbar) = figures["confusion.png"].axes
    shares = np.asarray(confusion.images[0].get_array())
    assert np.allclose(shares[shares.sum(axis=1) > 0].sum(axis=1), 100.0)  # rows normalised to the true class
    cells = [text.get_text() for text in confusion.texts]
    assert all("%\n" in cell for cell in cells) and "true class" in confusion.get_ylabel()
    counts = [int(cell.split("\n")[1]) for cell in cells]
    assert sum(counts) == 60
    title = figures["embedding.png"]._suptitle.get_text()
    assert "30 of 60 test samples, drawn at random" in title and "t-SNE" in title and "true sentiment" in title


def test_the_confusion_matrix_rows_are_shares_of_each_true_class(tmp_path, monkeypatch):
    from hscl import report

    kept = []
    monkeypatch.setattr(report, "save_figure", lambda figure, path: kept.append(figure) or Path(path))
    labels = np.array([-3.0, -3.0, -3.0, 0.0, 3.0], dtype=np.float32)
    predictions = np.array([-3.0, -3.0, 1.0, 0.0, -2.0], dtype=np.float32)
    report.plot_confusion({"labels": labels, "prediction": predictions}, tmp_path / "c.png")
    ax = kept[0].axes[0]
    shares = np.asarray(ax.images[0].get_array())
    assert np.isclose(shares[0, 0], 200 / 3) and np.isclose(shares[0, 4], 100 / 3) and shares[6, 1] == 100
    assert ax.get_yticklabels()[0].get_text() == "-3 (n=3)"
