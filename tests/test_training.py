"""End to end: train a tiny config, reload it, evaluate, predict; selection never sees test."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from hscl.cli import main
from hscl.config import DataConfig, HSCLConfig, LossConfig, RunConfig, SequenceEncoderConfig, TrainConfig
from hscl.data.loading import load_dataset
from hscl.training import run_records as layout
from hscl.training.inference import Predictor, evaluate_run, predict_run
from hscl.training.mean_std import MeanStd
from hscl.training.seeds import summary_markdown, train_seeds
from hscl.training.trainer import is_better, train

SIZES = {"n_train": 48, "n_valid": 24, "n_test": 20, "seed": 3, "max_audio_len": 12, "max_visual_len": 10}


def tiny_config(text_model, modalities: str = "audio+visual", epochs: int = 2) -> RunConfig:
    """A config that trains in seconds with the tiny BERT."""
    return RunConfig(
        name="tiny",
        data=DataConfig(format="synthetic", options=dict(SIZES), max_text_len=24),
        model=HSCLConfig(
            text_model=str(text_model),
            modalities=modalities,
            audio_encoder=SequenceEncoderConfig(n_heads=1, ff_dim=16, n_layers=1),
            visual_encoder=SequenceEncoderConfig(n_heads=2, ff_dim=16, n_layers=1),
            fusion_heads=4,
            d_prjh=16,
        ),
        loss=LossConfig(),
        train=TrainConfig(
            epochs=epochs,
            batch_size=16,
            eval_batch_size=16,
            lr_main=1e-3,
            lr_bert=1e-4,
            scheduler_step=1,
            progress_bar=False,
            device="cpu",
            seed=5,
        ),
    )


@pytest.fixture(scope="module")
def trained(tiny_text_model_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    result = train(tiny_config(tiny_text_model_dir), run_dir)
    return result


def test_run_directory_is_complete(trained):
    run = trained.run_dir
    for name in (layout.RUN_CONFIG_FILE, layout.EPOCHS_FILE, layout.SELECTION_FILE, layout.TEST_METRICS_FILE):
        assert (run / name).is_file(), name
    assert (run / layout.MODEL_DIR / "model.safetensors").is_file()
    epochs = [json.loads(line) for line in (run / layout.EPOCHS_FILE).read_text().splitlines()]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert {"total", "task", "ta", "tv", "fusion"} <= set(epochs[0]["train"])
    selection = json.loads((run / layout.SELECTION_FILE).read_text())
    assert selection["epoch"] == trained.best_epoch
    best = min(epochs, key=lambda e: e["valid"]["mae"])
    assert best["epoch"] == trained.best_epoch
    assert (run / layout.CHECKPOINT_FILE).is_file()  # train.keep_checkpoint defaults to true


def test_drop_checkpoint_leaves_a_finished_run_without_its_resume_state(tiny_text_model_dir, tmp_path):
    import torch
    import yaml

    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(yaml.safe_dump(tiny_config(tiny_text_model_dir, "audio", epochs=1).to_dict()))
    run = tmp_path / "run"
    arguments = ["train", "--config", str(config_file), "--out", str(run), "--drop-checkpoint", "--threads", "1"]
    threads = torch.get_num_threads()
    try:
        assert main(arguments) == 0
        assert torch.get_num_threads() == 1
        # at the thread count it trained with: sums over other thread counts differ in their last bits
        assert evaluate_run(run, device="cpu") == json.loads((run / layout.TEST_METRICS_FILE).read_text())
    finally:
        torch.set_num_threads(threads)
    assert not (run / layout.CHECKPOINT_FILE).exists() and (run / layout.TEST_METRICS_FILE).is_file()
    (session,) = layout.RunDir(run).read_sessions()
    assert session.command == "hscl " + " ".join(arguments) and session.threads == 1 and session.processes == 1
    assert main(["train", "--config", str(config_file), "--out", str(tmp_path / "other"), "--threads", "0"]) == 2
    assert layout.RunDir(run).read_config().train.keep_checkpoint is False


def test_evaluate_reproduces_saved_test_metrics_exactly(trained):
    saved = json.loads((trained.run_dir / layout.TEST_METRICS_FILE).read_text())
    again = evaluate_run(trained.run_dir, split="test", device="cpu")
    assert again == saved


def test_predict_writes_one_row_per_test_sample(trained, tmp_path):
    out = tmp_path / "preds.csv"
    rows = predict_run(trained.run_dir, data=None, out_csv=out, format=None, device="cpu")
    with out.open() as handle:
        table = list(csv.DictReader(handle))
    assert rows == len(table) == SIZES["n_test"]
    dataset = load_dataset(None, "synthetic", **SIZES)
    assert [r["id"] for r in table] == dataset["test"].ids
    np.testing.assert_allclose([float(r["label"]) for r in table], dataset["test"].labels, atol=1e-6)


def test_predictor_on_raw_inputs_matches_split_predictions(trained):
    predictor = Predictor.from_run(trained.run_dir, device="cpu")
    test = load_dataset(None, "synthetic", **SIZES)["test"]
    audio = [test.audio.features[i, : test.audio.lengths[i]] for i in range(3)]
    visual = [test.visual.features[i, : test.visual.lengths[i]] for i in range(3)]
    scores = predictor.predict(test.texts[:3], audio=audio, visual=visual)
    np.testing.assert_allclose(scores.raw, predictor.predict_split(test).raw[:3], atol=1e-5)
    np.testing.assert_array_equal(scores.score, np.clip(scores.raw, -3, 3))


def test_predict_without_out_prints_the_csv_with_clipped_scores_and_raw_outputs(trained, capsys):
    assert main(["predict", str(trained.run_dir), "--device", "cpu"]) == 0  # the run's own test split, no --out
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(table) == SIZES["n_test"] and {row["split"] for row in table} == {"test"}
    assert list(table[0]) == ["id", "split", "score", "class7", "polarity", "raw", "label"]
    for row in table:
        raw, score = float(row["raw"]), float(row["score"])
        assert score == pytest.approx(min(3.0, max(-3.0, raw)), abs=1e-6)
        assert int(row["class7"]) == round(score) and row["polarity"] == ("positive" if score >= 0 else "negative")


def test_same_seed_same_result(trained, tiny_text_model_dir, tmp_path):
    again = train(tiny_config(tiny_text_model_dir), tmp_path / "again")
    assert again.test_metrics == trained.test_metrics
    assert again.best_epoch == trained.best_epoch


def test_test_labels_cannot_influence_selection(tiny_text_model_dir, tmp_path):
    config = tiny_config(tiny_text_model_dir, epochs=3)
    dataset = load_dataset(None, "synthetic", **SIZES)
    shuffled = load_dataset(None, "synthetic", **SIZES)
    shuffled["test"].labels = np.random.default_rng(0).permutation(shuffled["test"].labels)
    first = train(config, tmp_path / "a", dataset)
    second = train(config, tmp_path / "b", shuffled)
    assert first.best_epoch == second.best_epoch
    assert first.valid_metrics == second.valid_metrics
    lines_a = (tmp_path / "a" / layout.EPOCHS_FILE).read_text().splitlines()
    lines_b = (tmp_path / "b" / layout.EPOCHS_FILE).read_text().splitlines()
    strip = lambda line: {k: v for k, v in json.loads(line).items() if k != "seconds"}  # noqa: E731
    assert [strip(x) for x in lines_a] == [strip(x) for x in lines_b]
    assert first.test_metrics != second.test_metrics


def test_text_only_and_single_modality_runs(tiny_text_model_dir, tmp_path):
    for modalities in ("text", "audio"):
        result = train(tiny_config(tiny_text_model_dir, modalities, epochs=1), tmp_path / modalities)
        terms = json.loads((tmp_path / modalities / layout.EPOCHS_FILE).read_text().splitlines()[0])["train"]
        assert "tv" not in terms
        assert ("ta" in terms) == (modalities == "audio")
        assert np.isfinite(result.test_metrics["mae"])


def test_multi_seed_summary(tiny_text_model_dir, tmp_path):
    config = tiny_config(tiny_text_model_dir, "audio", epochs=1)
    results = train_seeds(config, [1, 2], tmp_path)
    summary = json.loads((tmp_path / layout.SUMMARY_JSON).read_text())
    maes = [r.test_metrics["mae"] for r in results]
    assert summary["test"]["mae"]["mean"] == pytest.approx(np.mean(maes))
    assert summary["test"]["mae"]["std"] == pytest.approx(np.std(maes, ddof=1))
    assert "± " in (tmp_path / layout.SUMMARY_MD).read_text()
    single = summary_markdown("one", [1], {"mae": MeanStd(0.8, 0.0, 1)})
    assert "| one | 1 | 0.800 |" in single and "±" not in single


def test_grad_accumulation_really_accumulates(tiny_text_model_dir, tmp_path, monkeypatch):
    """Two half-batches with accumulation take the same step as one full batch (dropout off)."""
    import torch

    from hscl.training.trainer import Trainer

    base = tiny_config(tiny_text_model_dir, "audio", epochs=1)
    base = base.replace(
        loss=LossConfig(unimodal=False, fusion=False), data=base.data.replace(options={**SIZES, "n_train": 16})
    )
    grads = {}
    for accum, batch_size in ((1, 16), (2, 8)):
        config = base.replace(train=base.train.replace(grad_accum=accum, batch_size=batch_size, grad_clip=0.0))
        trainer = Trainer(config, tmp_path / f"accum{accum}")
        trainer.model.eval()
        monkeypatch.setattr(trainer.model, "train", lambda mode=True, model=trainer.model: model)
        steps = []

        def record_step(optimizer, args, kwargs, steps=steps, model=trainer.model) -> None:
            steps.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))

        trainer.optimizer.register_step_pre_hook(record_step)  # optimizer.step itself stays the scheduler's
        trainer.train_epoch(1)
        assert len(steps) == 1
        grads[accum] = steps[0]
    torch.testing.assert_close(grads[1], grads[2], atol=1e-6, rtol=1e-4)


def test_is_better_directions():
    assert is_better("mae", 0.5, 0.6) and not is_better("mae", 0.7, 0.6)
    assert is_better("corr", 0.7, 0.6) and not is_better("corr", float("nan"), None)
    assert is_better("acc2_non0", 0.1, None)


def test_cli_reports_errors_in_one_line(capsys, tmp_path):
    assert main(["evaluate", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]
    assert main(["train", "--preset", "demo", "--set", "train.bogus=1"]) == 2
    assert "unknown key" in capsys.readouterr().err


def test_cli_presets(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "demo" in out and "mosi-utterance" in out


def test_warnings_attributed_to_hscl_code_fail_the_suite():
    """pyproject.toml's filterwarnings: a warning raised in an hscl module is an error, one elsewhere is not."""
    import warnings

    raise_in = "import warnings\nwarnings.warn('from {name}', UserWarning)\n"
    with pytest.raises(UserWarning, match="from hscl.training.trainer"):
        exec(raise_in.format(name="hscl.training.trainer"), {"__name__": "hscl.training.trainer"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # what the suite does for other modules: report, do not fail
        exec(raise_in.format(name="hsclx"), {"__name__": "hsclx"})
    assert [str(w.message) for w in caught] == ["from hsclx"]


def test_an_epoch_steps_the_optimizer_before_the_scheduler_without_a_warning(tiny_text_model_dir, tmp_path):
    """The scheduler wraps optimizer.step; the trainer keeps that wrapper, so StepLR warns of nothing."""
    import warnings

    from hscl.training.trainer import Trainer

    trainer = Trainer(tiny_config(tiny_text_model_dir, "audio", epochs=1), tmp_path / "run")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train_epoch(1)
    assert [str(w.message) for w in caught if "lr_scheduler" in str(w.message) or "optimizer" in str(w.message)] == []
    assert trainer.scheduler is not None and trainer.scheduler.last_epoch == 1


def test_the_python_api_logs_each_epoch_and_the_result(tiny_text_model_dir, tmp_path):
    """`hscl.train` from a script that set up no logging prints what the command line prints."""
    import os
    import subprocess
    import sys

    config = tiny_config(tiny_text_model_dir, "audio", epochs=2)
    script = (
        "import json, sys\nimport hscl\nhscl.train(hscl.RunConfig.from_values(json.loads(sys.argv[2])), sys.argv[1])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "run"), json.dumps(config.to_dict())],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 4 and lines[0].startswith(f"training {tmp_path / 'run'} on cpu, 1 torch CPU thread"), lines
    assert [line.split("  ")[0] for line in lines[1:3]] == ["epoch 1/2", "epoch 2/2"], done.stdout
    assert lines[3].startswith("selected epoch ") and " test mae " in lines[3]


def test_progress_logs_step_aside_for_an_application_that_set_up_logging(monkeypatch):
    import logging

    from hscl.training.runtime import show_progress_logs

    package, root = logging.getLogger("hscl"), logging.getLogger()
    monkeypatch.setattr(package, "handlers", [])
    monkeypatch.setattr(package, "level", logging.NOTSET)
    monkeypatch.setattr(root, "handlers", [])
    show_progress_logs()
    show_progress_logs()
    assert len(package.handlers) == 1 and package.level == logging.INFO  # once, however often it is called
    root.handlers = [logging.NullHandler()]  # the application configures logging later on
    show_progress_logs()
    assert package.handlers == []
    package.level, root.handlers = logging.WARNING, []  # or sets hscl's level itself
    show_progress_logs()
    assert package.handlers == [] and package.level == logging.WARNING


def test_the_progress_bar_counts_epochs_of_the_planned_number(tiny_text_model_dir, tmp_path, capsys):
    from hscl.training.trainer import Trainer

    config = tiny_config(tiny_text_model_dir, "audio", epochs=3)
    trainer = Trainer(config.replace(train=config.train.replace(progress_bar=True)), tmp_path / "run")
    trainer.train_epoch(1)
    assert "epoch 1/3" in capsys.readouterr().err
