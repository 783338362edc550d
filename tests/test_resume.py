"""Exact resume: checkpoints, a killed `hscl train` carried on to the uninterrupted result, non-finite losses."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hscl.cli import main
from hscl.config import config_from_dict
from hscl.errors import ConfigError, HSCLError
from hscl.model.hscl import HSCL
from hscl.training import run_records as layout
from hscl.training.checkpoint import (
    Checkpoint,
    TrainingState,
    capture_rng,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from hscl.training.monitor import TensorBoardLog, check_log
from hscl.training.trainer import NonFiniteLossError, Trainer, resume
from stopping import interrupt, start_stopping, wait_until_stopped

SIZES = {"n_train": 40, "n_valid": 24, "n_test": 20, "seed": 3, "max_audio_len": 12, "max_visual_len": 10}
EPOCHS = 4


class Stop(Exception):
    """Stands in for a kill at a chosen moment of an in-process run."""


def config_values(text_model: Path, epochs: int = EPOCHS, **train: object) -> dict:
    """A tiny run (the tiny BERT keeps its dropout, so the random states matter) as a YAML-ready mapping."""
    return {
        "name": "resume",
        "data": {"format": "synthetic", "options": dict(SIZES), "max_text_len": 24},
        "model": {
            "text_model": str(text_model),
            "modalities": "audio+visual",
            "audio_encoder": {"n_heads": 1, "ff_dim": 16, "n_layers": 1},
            "visual_encoder": {"n_heads": 2, "ff_dim": 16, "n_layers": 1},
            "fusion_heads": 4,
            "d_prjh": 16,
        },
        "train": {
            "epochs": epochs,
            "batch_size": 16,
            "eval_batch_size": 16,
            "lr_main": 1e-3,
            "lr_bert": 1e-4,
            "scheduler_step": 2,
            "progress_bar": False,
            "device": "cpu",
            "seed": 5,
            **train,
        },
    }


def epoch_records(run_dir: Path) -> list[dict]:
    """metrics.jsonl without the wall-clock seconds."""
    lines = (run_dir / layout.EPOCHS_FILE).read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]


def assert_same_run(run: Path, reference: Path) -> None:
    """Same epoch records, selected epoch, test metrics and selected weights as the reference run."""
    assert epoch_records(run) == epoch_records(reference)
    assert json.loads((run / layout.SELECTION_FILE).read_text()) == json.loads(
        (reference / layout.SELECTION_FILE).read_text()
    )
    assert json.loads((run / layout.TEST_METRICS_FILE).read_text()) == json.loads(
        (reference / layout.TEST_METRICS_FILE).read_text()
    )
    weights = HSCL.from_pretrained(run / layout.MODEL_DIR).state_dict()
    for name, value in HSCL.from_pretrained(reference / layout.MODEL_DIR).state_dict().items():
        torch.testing.assert_close(weights[name], value, rtol=0, atol=0, msg=name)


# One intra-op thread, here and in the killed subprocess: fast on a shared machine, and the same arithmetic.
pytestmark = pytest.mark.usefixtures("one_thread")


def stop_before_checkpoint_of_epoch(trainer: Trainer, epoch: int) -> None:
    """Make `trainer` raise `Stop` where it would write the checkpoint of `epoch` (its record is already on disk)."""
    save = trainer._save_checkpoint

    def save_until() -> None:
        if trainer.state.epoch == epoch:
            raise Stop
        save()

    trainer._save_checkpoint = save_until


@pytest.fixture(scope="module")
def config_file(tiny_text_model_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.yaml"
    path.write_text(yaml.safe_dump(config_values(tiny_text_model_dir)))
    return path


@pytest.fixture(scope="module")
def reference(config_file, tmp_path_factory) -> Path:
    """An uninterrupted run of the tiny config through the command line."""
    run = tmp_path_factory.mktemp("reference") / "run"
    assert main(["train", "--config", str(config_file), "--out", str(run), "--no-progress"]) == 0
    return run


def one_process_env() -> dict[str, str]:
    """The environment of a single-process `hscl train` with one intra-op thread."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def test_killed_run_resumes_to_the_uninterrupted_result(config_file, reference, tmp_path):
    """SIGKILL in the middle of epoch 2 (epoch 1 checkpointed); the resumed run is the uninterrupted one."""
    run = tmp_path / "run"
    arguments = ["train", "--config", str(config_file), "--out", str(run), "--no-progress"]
    process = start_stopping(arguments, one_process_env())
    wait_until_stopped(process)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert not (run / layout.TEST_METRICS_FILE).exists() and len(epoch_records(run)) == 1
    assert load_checkpoint(run / layout.CHECKPOINT_FILE).state.epoch == 1

    assert main(["train", "--resume", str(run), "--no-progress", "--drop-checkpoint"]) == 0
    assert_same_run(run, reference)
    assert not (run / layout.CHECKPOINT_FILE).exists() and (reference / layout.CHECKPOINT_FILE).is_file()
    started, resumed = layout.RunDir(run).read_sessions()  # both commands, each with its thread count
    assert started.command == f"hscl train --config {config_file} --out {run} --no-progress" and started.threads == 1
    assert resumed.command == f"hscl train --resume {run} --no-progress --drop-checkpoint"


def test_ctrl_c_stops_cleanly_and_the_run_resumes(config_file, reference, tmp_path):
    """SIGINT in the middle of epoch 2: exit 130, one line saying how to resume, no traceback; the resumed run
    is the same."""
    run = tmp_path / "run"
    arguments = ["train", "--config", str(config_file), "--out", str(run), "--no-progress"]
    process = start_stopping(arguments, one_process_env())
    wait_until_stopped(process)
    interrupt(process)
    _, stderr = process.communicate()
    assert process.returncode == 130, stderr.decode()
    assert stderr.decode().strip().splitlines() == [f"hscl: interrupted; resume with: hscl train --resume {run}"]
    assert not list(run.rglob("*.tmp"))

    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert_same_run(run, reference)


def test_stop_after_the_epoch_record_before_its_checkpoint(config_file, reference, tmp_path):
    """The record of epoch 2 is on disk but its checkpoint is not: the resumed run drops and redoes it."""
    run = tmp_path / "run"
    trainer = Trainer(config_from_dict(yaml.safe_load(config_file.read_text())), run)
    stop_before_checkpoint_of_epoch(trainer, 2)
    with pytest.raises(Stop):
        trainer.run()
    assert len(epoch_records(run)) == 2
    resume(run)
    assert_same_run(run, reference)


def test_stop_between_checkpoint_and_export_of_an_improving_epoch(config_file, reference, tmp_path):
    """The checkpoint says epoch k is selected but the model directory still holds an older epoch."""
    improving = [r["epoch"] for r in epoch_records(reference) if r["selected"] and r["epoch"] > 1]
    assert improving, "the reference run should improve after epoch 1"
    run = tmp_path / "run"
    trainer = Trainer(config_from_dict(yaml.safe_load(config_file.read_text())), run)
    export = trainer._export_best

    def export_before(epoch: int) -> None:
        if trainer.state.epoch == epoch:
            raise Stop
        export()

    trainer._export_best = lambda: export_before(improving[0])
    with pytest.raises(Stop):
        trainer.run()
    assert load_checkpoint(run / layout.CHECKPOINT_FILE).state.best_epoch == improving[0]
    assert layout.RunDir(run).selected_epoch() < improving[0]
    resume(run)
    assert_same_run(run, reference)


def test_checkpoints_every_n_epochs_on_improvement_and_at_the_end(tiny_text_model_dir, tmp_path):
    saved, epochs = [], 6
    run = tmp_path / "run"
    trainer = Trainer(config_from_dict(config_values(tiny_text_model_dir, epochs, checkpoint_every=3)), run)
    save = trainer._save_checkpoint

    def record_and_save() -> None:
        saved.append(trainer.state.epoch)
        save()

    trainer._save_checkpoint = record_and_save
    trainer.run()
    due = [r["epoch"] for r in epoch_records(run) if r["selected"] or r["epoch"] % 3 == 0 or r["epoch"] == epochs]
    assert saved == due and len(due) < epochs
    with pytest.raises(ConfigError, match="checkpoint_every"):
        trainer.config.train.replace(checkpoint_every=0)


def test_non_finite_loss_stops_after_saving_state(tiny_text_model_dir, tmp_path):
    run = tmp_path / "run"
    trainer = Trainer(config_from_dict(config_values(tiny_text_model_dir)), run)
    loss_fn, calls = trainer.objective.loss_fn, []

    def nan_at_epoch_2_step_2(output, labels):
        terms = loss_fn(output, labels)
        calls.append(1)
        if len(calls) == 3 + 2:  # 3 steps per epoch
            terms["fusion"] = terms["fusion"] * float("nan")
            terms["total"] = terms["total"] + terms["fusion"]
        return terms

    trainer.objective.loss_fn = nan_at_epoch_2_step_2
    kept = "the checkpoint of epoch 1 is kept and the model selected at epoch 1; nothing non-finite was saved"
    with pytest.raises(NonFiniteLossError, match=f"loss term fusion is not finite at epoch 2, step 2; .*{kept}"):
        trainer.run()
    state = load_checkpoint(run / layout.CHECKPOINT_FILE)
    assert state.state.epoch == 1 and state.state.best_epoch == 1
    assert [r["epoch"] for r in epoch_records(run)] == [1]
    saved = HSCL.from_pretrained(run / layout.MODEL_DIR).state_dict()
    for name, value in state.model.items():
        assert torch.isfinite(value).all(), name
        torch.testing.assert_close(saved[name], value, rtol=0, atol=0)
    assert layout.RunDir(run).selected_epoch() == 1
    assert resume(run).best_epoch >= 1


def test_non_finite_gradient_stops_before_the_optimizer_step(tiny_text_model_dir, tmp_path):
    trainer = Trainer(config_from_dict(config_values(tiny_text_model_dir, epochs=1)), tmp_path / "run")
    weight = trainer.model.predictor.net[1].weight
    before = weight.detach().clone()
    weight.register_hook(lambda grad: grad * float("nan"))
    with pytest.raises(NonFiniteLossError, match="gradient norm is not finite at epoch 1, step 1"):
        trainer.train_epoch(1)
    torch.testing.assert_close(weight.detach(), before, rtol=0, atol=0)


def test_tensorboard_logs_every_epoch_once_across_a_resume(tiny_text_model_dir, tmp_path):
    pytest.importorskip("tensorboard", reason="the optional tensorboard package is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    trainer = Trainer(config_from_dict(config_values(tiny_text_model_dir, epochs=2, log="tensorboard")), run)
    stop_before_checkpoint_of_epoch(trainer, 2)
    with pytest.raises(Stop):
        trainer.run()
    resume(run, log="tensorboard")
    events = EventAccumulator(str(run / layout.TENSORBOARD_DIR))
    events.Reload()
    records = epoch_records(run)
    for tag, section, name in (
        ("train/total", "train", "total"),
        ("train/fusion", "train", "fusion"),
        ("lr/text", "lr", "text"),
        ("valid/mae", "valid", "mae"),
    ):
        scalars = events.Scalars(tag)
        assert [s.step for s in scalars] == [1, 2], tag
        np.testing.assert_allclose([s.value for s in scalars], [r[section][name] for r in records], rtol=1e-6)


def test_tensorboard_missing_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(HSCLError, match="pip install tensorboard"):
        TensorBoardLog(tmp_path)
    with pytest.raises(HSCLError, match="pip install tensorboard"):
        check_log("tensorboard")
    check_log("files")
    with pytest.raises(ConfigError, match="log must be one of"):
        check_log("wandb")


def test_rng_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    generator = torch.Generator().manual_seed(7)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    state = capture_rng(generator)

    def draws() -> tuple:
        return (
            random.random(),
            float(np.random.standard_normal()),
            torch.rand(3).tolist(),
            torch.randperm(10, generator=generator).tolist(),
        )

    path = tmp_path / layout.CHECKPOINT_FILE
    progress = TrainingState(
        epoch=3, best_epoch=2, best_value=0.5, best_valid={"mae": 0.5, "corr": float("nan")}, since_best=1
    )
    save_checkpoint(path, Checkpoint(model.state_dict(), optimizer.state_dict(), None, progress, [state]))
    expected = draws()
    assert not path.with_name(path.name + ".tmp").exists()
    torch.load(path, weights_only=True)  # nothing in it needs unpickling of arbitrary objects
    loaded = load_checkpoint(path)
    restore_rng(loaded.rng[0], generator)
    assert draws() == expected
    assert loaded.state.epoch == 3 and loaded.state.best_valid["mae"] == 0.5
    assert np.isnan(loaded.state.best_valid["corr"])
    fresh = torch.optim.Adam(model.parameters())
    fresh.load_state_dict(loaded.optimizer)
    torch.testing.assert_close(fresh.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])


def test_unreadable_or_missing_checkpoint_is_one_clear_error(tmp_path):
    with pytest.raises(HSCLError, match="nothing can be resumed"):
        load_checkpoint(tmp_path / layout.CHECKPOINT_FILE)
    (tmp_path / layout.CHECKPOINT_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(HSCLError, match="checkpoint"):
        load_checkpoint(tmp_path / layout.CHECKPOINT_FILE)


def test_keep_epochs_drops_records_past_the_checkpoint(tmp_path):
    (tmp_path / layout.EPOCHS_FILE).write_text('{"epoch": 1}\n{"epoch": 2}\n{"epoch": 3}\n{"epo')
    layout.RunDir(tmp_path).keep_epochs(2)
    assert (tmp_path / layout.EPOCHS_FILE).read_text() == '{"epoch": 1}\n{"epoch": 2}\n'
    with pytest.raises(HSCLError, match="checkpoint is at epoch 3"):
        layout.RunDir(tmp_path).keep_epochs(3)


def test_resume_refuses_options_that_would_change_the_run(capsys, tmp_path):
    assert main(["train", "--resume", str(tmp_path), "--set", "train.lr_main=1e-4"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "absent")]) == 2
    assert "absent: no such folder" in capsys.readouterr().err


def test_resume_refuses_an_edited_config_or_another_runs_checkpoint_in_one_line(
    config_file, reference, tiny_text_model_dir, tmp_path, capsys
):
    def one_line() -> str:
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hscl: error: ") and "Traceback" not in lines[0], lines
        return lines[0]

    run = Path(shutil.copytree(reference, tmp_path / "run"))
    saved = (run / layout.RUN_CONFIG_FILE).read_text()
    for field, old, new in (("d_prjh", "16", "32"), ("lr_main", "0.001", "0.002")):
        (run / layout.RUN_CONFIG_FILE).write_text(saved.replace(f"  {field}: {old}\n", f"  {field}: {new}\n", 1))
        assert main(["train", "--resume", str(run)]) == 2
        line = one_line()
        assert f"checkpoint.pt: was written with {'model' if field == 'd_prjh' else 'train'}.{field}={old}" in line
        assert f"has {new}" in line and "another run" in line
    (run / layout.RUN_CONFIG_FILE).write_text(saved)
    other = tmp_path / "other"  # a run of another size: its checkpoint copied over this run's
    values = config_values(tiny_text_model_dir, epochs=1)
    values["model"]["d_prjh"] = 8
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(values))
    assert main(["train", "--config", str(tmp_path / "other.yaml"), "--out", str(other)]) == 0
    shutil.copyfile(other / layout.CHECKPOINT_FILE, run / layout.CHECKPOINT_FILE)
    assert main(["train", "--resume", str(run)]) == 2
    assert "model.d_prjh=8, but" in one_line()
    payload = torch.load(run / layout.CHECKPOINT_FILE, weights_only=True)  # a checkpoint from before the record
    payload.pop("config")
    torch.save(payload, run / layout.CHECKPOINT_FILE)
    assert main(["train", "--resume", str(run)]) == 2
    line = one_line()
    assert "does not fit the model that" in line and "size mismatch" in line and "another run" in line


def test_waiting_for_the_stop_fails_clearly_when_the_command_exits_first(tmp_path):
    process = start_stopping(["train", "--config", str(tmp_path / "missing.yaml")], one_process_env())
    with pytest.raises(AssertionError, match=r"exited \(2\) before epoch 2: .*missing.yaml: no such config file"):
        wait_until_stopped(process)
