"""`hscl tune`: search spaces, the study (resume, workers, failures, kills), validation only, outputs, test once."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hscl.cli import main
from hscl.config import load_config
from hscl.data.loading import load_data
from hscl.errors import ConfigError
from hscl.training import run_records as layout
from hscl.training.run_records import RunDir
from hscl.tune.outputs import write_outputs
from hscl.tune.space import read_space, shipped_spaces
from hscl.tune.study import TuneSettings, run_study, validated
from stopping import start_stopping, wait_until_stopped

pytestmark = pytest.mark.usefixtures("one_thread")

SPACE = """
params:
  train.lr_main: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
  loss.w1: {type: float, low: 1.0e-3, high: 0.3, log: true}
  model.d_prjh: {type: categorical, choices: [8, 16]}
  train.epochs: {type: int, low: 1, high: 2}
"""


def tiny_overrides(text_model) -> tuple[str, ...]:
    return (
        f"model.text_model={text_model}",
        "model.modalities=audio",
        "model.fusion_heads=4",
        "data.options.n_train=32",
        "data.options.n_valid=16",
        "data.options.n_test=16",
        "data.options.max_audio_len=8",
        "data.options.max_visual_len=8",
        "data.max_text_len=24",
        "train.batch_size=16",
        "train.device=cpu",
    )


@pytest.fixture
def settings(tiny_text_model_dir, tmp_path) -> TuneSettings:
    space_file = tmp_path / "space.yaml"
    space_file.write_text(SPACE)
    return TuneSettings(
        space=read_space(space_file),
        out=tmp_path / "study",
        trials=2,
        preset="demo",
        overrides=tiny_overrides(tiny_text_model_dir),
        heartbeat=1,
    )


def trial_rows(study) -> list[tuple]:
    return [(t.number, t.state.name, t.params, t.value, t.intermediate_values) for t in study.trials]


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_space(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ("params: [1, 2", "invalid YAML"),
        ("description: no params\n", "non-empty `params` mapping"),
        ("params:\n  train.lr_main: {type: gaussian, low: 1, high: 2}\n", "type one of float, int, categorical"),
        (
            "params:\n  train.lr_main: {type: float, low: 1.0e-2, high: 1.0e-3}\n",
            "low must be below high; got low=0.01",
        ),
        (
            "params:\n  train.lr_main: {type: float, low: 0, high: 1.0e-3, log: true}\n",
            "a log scale needs low > 0; got low=0",
        ),
        ("params:\n  train.epochs: {type: int, low: 1.5, high: 4}\n", "low must be an integer; got 1.5"),
        ("params:\n  train.epochs: {type: int, low: true, high: 4}\n", "low must be an integer; got True"),
        ("params:\n  train.lr_main: {type: float, low: .nan, high: 1}\n", "low must be a finite number; got nan"),
        ("params:\n  model.d_prjh: {type: categorical, choices: []}\n", "choices must be a non-empty list; got []"),
        ("params:\n  model.d_prjh: {type: categorical, choices: [8, 8]}\n", "choices must be distinct"),
        (
            "params:\n  model.d_prjh: {type: categorical, choices: [8], low: 1}\n",
            "unknown key(s) ['low'] for type categorical",
        ),
        (
            "params:\n  train.lr_main: {type: float, low: 1.0e-4, high: 1.0e-2, log: true, step: 0.001}\n",
            "step and log cannot be combined",
        ),
        (
            "params:\n  train.lr_main: {type: float, low: 1e-4, high: small}\n",
            "high must be a finite number; got 'small'",
        ),
    ],
)
def test_malformed_space_files_are_refused_in_one_line(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        read_space(write_space(tmp_path, text))
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / "bad.yaml"))


@pytest.mark.parametrize(
    "entry, message",
    [
        (
            "train.lr_mian: {type: float, low: 1.0e-4, high: 1.0e-2}",
            "train.lr_mian=0.0001 does not make a valid config",
        ),
        ("train.epochs: {type: float, low: 1, high: 3}", "train.epochs=1.0 does not make a valid config"),
        ("model.d_prjh: {type: categorical, choices: [16, 0]}", "model.d_prjh=0 does not make a valid config"),
        ("model.dropout_prj: {type: float, low: 0.1, high: 1.5}", "model.dropout_prj=1.5 does not make a valid config"),
        ("train: {type: categorical, choices: [1]}", "train=1 does not make a valid config"),
    ],
)
def test_space_paths_and_bounds_are_checked_against_the_config_before_anything_runs(settings, tmp_path, entry, message):
    bad = dataclasses.replace(settings, space=read_space(write_space(tmp_path, f"params:\n  {entry}\n")))
    with pytest.raises(ConfigError) as caught:
        run_study(bad)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert not settings.out.exists()  # nothing written


@pytest.mark.parametrize(
    "change, message",
    [
        ({"trials": 0}, "--trials must be an integer of at least 1; got 0"),
        ({"jobs": 0}, "--jobs must be an integer of at least 1; got 0"),
        ({"timeout": -5.0}, "--timeout must be a positive number of seconds; got -5.0"),
        ({"pruner": "mean"}, "--pruner 'mean': expected one of median, hyperband, none"),
        ({"storage": "nonsense"}, "--storage 'nonsense': ArgumentError"),
        (
            {"storage": "postgresql://user@localhost/db"},
            "--storage 'postgresql://user@localhost/db': ModuleNotFoundError",
        ),
        ({"storage": "sqlite:////no/such/dir/study.db"}, "the folder '/no/such/dir' does not exist"),
        ({"storage": "journal:/no/such/dir/study.log"}, "the journal file's folder '/no/such/dir' does not exist"),
        (
            {"overrides": ("train.select_metric=loss",)},
            "train.select_metric: 'loss' is not allowed: input should be 'mae', 'corr'",
        ),
    ],
)
def test_bad_study_settings_are_refused_before_anything_is_written(settings, change, message):
    with pytest.raises(ConfigError) as caught:
        run_study(dataclasses.replace(settings, **change))
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert not settings.out.exists()


def test_the_cli_prints_one_line_and_exits_2_for_a_bad_space(tmp_path, capsys):
    assert (
        main(
            [
                "tune",
                "--preset",
                "demo",
                "--space",
                str(tmp_path / "missing.yaml"),
                "--trials",
                "2",
                "--out",
                str(tmp_path / "study"),
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert error.startswith("hscl: error: ") and error.count("\n") == 1 and "missing.yaml: no such space file" in error
    assert not (tmp_path / "study").exists()


def test_shipped_spaces_are_valid_for_their_presets():
    assert shipped_spaces() == ["demo", "mosi-utterance"]
    from hscl.tune.space import check_space

    for name in shipped_spaces():
        space = read_space(name)
        assert {
            "train.lr_main",
            "train.lr_bert",
            "loss.w1",
            "loss.w2",
            "loss.alpha",
            "loss.temperature",
            "model.dropout_prj",
            "model.d_prjh",
            "train.epochs",
        } <= {p.path for p in space.params}
        check_space(space, name, None, [])


def test_study_resumes_writes_its_outputs_and_best_yaml_is_the_best_trials_config(settings):
    first = trial_rows(run_study(settings))
    assert [row[1] for row in first] == ["COMPLETE", "COMPLETE"]
    study = run_study(dataclasses.replace(settings, trials=3))  # the same command with a larger budget carries on
    assert trial_rows(study)[:2] == first and len(study.trials) == 3
    assert len(run_study(dataclasses.replace(settings, trials=3)).trials) == 3  # nothing left to do

    outputs = write_outputs(study, settings)
    rows = read_rows(outputs["trials"])
    assert [int(r["number"]) for r in rows] == [0, 1, 2] and rows[0]["train.lr_main"] == repr(
        study.trials[0].params["train.lr_main"]
    )
    assert list(rows[0]) == [  # the columns README.md lists
        "number",
        "state",
        "value",
        "selected_epoch",
        "epochs_run",
        "seconds",
        "train.lr_main",
        "loss.w1",
        "model.d_prjh",
        "train.epochs",
        "reason",
        "run_dir",
    ]
    assert rows[0]["run_dir"] == f"{platform.node()}:{settings.out / 'trials' / '0000'}"
    best = study.best_trial
    assert load_config(path=outputs["best"]) == settings.config_for(best.params)
    saved = RunDir(settings.out / "trials" / f"{best.number:04d}").read_config()
    assert saved.train.lr_main == best.params["train.lr_main"] and saved.model.d_prjh == best.params["model.d_prjh"]
    assert {p.name for p in outputs["pictures"]} == {
        "history.png",
        "epochs.png",
        "parallel.png",
        "slice.png",
        "importance.png",
    }
    for trial in study.trials:  # validation only: no trial scored or even projected test, and none kept its model
        run_dir = settings.out / "trials" / f"{trial.number:04d}"
        assert sorted(p.name for p in run_dir.iterdir()) == [
            layout.RUN_CONFIG_FILE,
            layout.EPOCHS_FILE,
            layout.SELECTION_FILE,
            layout.SESSIONS_FILE,
        ]
        assert trial.value == RunDir(run_dir).read_selection().valid["mae"]

    other = dataclasses.replace(settings, overrides=(*settings.overrides, "loss.w2=0.5"))
    with pytest.raises(ConfigError, match="was created with a different base; give a new --out or --study-name"):
        run_study(other)


def test_nan_test_labels_change_nothing_about_the_study(settings, tmp_path):
    dataset = load_data(settings.base_config().data)
    poisoned = dataclasses.replace(
        dataset,
        splits={
            **dataset.splits,
            "test": dataclasses.replace(
                dataset.splits["test"], labels=np.full_like(dataset.splits["test"].labels, np.nan)
            ),
        },
    )
    clean = run_study(dataclasses.replace(settings, out=tmp_path / "clean"), dataset=dataset)
    nan = run_study(dataclasses.replace(settings, out=tmp_path / "nan"), dataset=poisoned)
    assert trial_rows(nan) == trial_rows(clean) and nan.best_trial.params == clean.best_trial.params
    assert not list((tmp_path / "nan").rglob(layout.TEST_METRICS_FILE)) and not list(
        (tmp_path / "nan").rglob("projections*")
    )


def test_a_trial_that_raises_is_recorded_with_its_reason_and_the_study_goes_on(settings, tmp_path):
    space = read_space(
        write_space(tmp_path, "params:\n  train.lr_main: {type: categorical, choices: [1.0e-3, 1.0e40]}\n")
    )
    study = run_study(dataclasses.replace(settings, space=space, trials=4, pruner="none"))
    states = {t.params["train.lr_main"]: t.state.name for t in study.trials}
    assert states == {1e-3: "COMPLETE", 1e40: "FAIL"}  # both choices drawn; every 1e40 trial failed
    reasons = [t.user_attrs["fail_reason"] for t in study.trials if t.state.name == "FAIL"]
    assert all(r.startswith("NonFiniteLossError: ") and "not finite" in r for r in reasons)
    rows = read_rows(write_outputs(study, settings)["trials"])
    assert [r["reason"] for r in rows if r["state"] == "FAIL"] == reasons


def test_a_journal_file_storage_works_and_carries_the_study_on(settings, tmp_path):
    journal = dataclasses.replace(settings, trials=1, storage=f"journal:{tmp_path / 'study.log'}")
    first = trial_rows(run_study(journal))
    study = run_study(dataclasses.replace(journal, trials=2))
    assert trial_rows(study)[:1] == first and len(study.trials) == 2 and (tmp_path / "study.log").is_file()
    assert not (settings.out / "study.db").exists()


def test_a_pruned_trial_stops_after_the_epoch_the_pruner_names_and_is_recorded(settings, monkeypatch):
    import optuna

    monkeypatch.setattr(optuna.trial.Trial, "should_prune", lambda self: True)
    settings = dataclasses.replace(settings, overrides=(*settings.overrides, "train.epochs=2"))
    study = run_study(dataclasses.replace(settings, trials=1))
    trial = study.trials[0]
    assert trial.state.name == "PRUNED" and list(trial.intermediate_values) == [1]  # stopped after epoch 1 of 2
    run_dir = settings.out / "trials" / "0000"
    assert len((run_dir / layout.EPOCHS_FILE).read_text().splitlines()) == 1
    assert not (run_dir / layout.CHECKPOINT_FILE).exists() and not (run_dir / layout.MODEL_DIR).exists()
    outputs = write_outputs(study, settings)
    rows = read_rows(outputs["trials"])
    assert rows[0]["reason"] == "pruned after epoch 1" and outputs["best"] is None  # nothing completed


def test_two_worker_processes_share_one_storage_and_run_each_trial_once(settings):
    study = run_study(dataclasses.replace(settings, trials=3, jobs=2))
    numbers = [t.number for t in study.trials]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 3  # +1 if both start the last at once
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials)
    run_dirs = sorted((settings.out / "trials").iterdir())
    assert [int(d.name) for d in run_dirs] == numbers  # one run directory per trial, no trial run twice
    for trial, run_dir in zip(study.trials, run_dirs):
        assert trial.user_attrs["run_dir"].endswith(str(run_dir))
        saved = RunDir(run_dir).read_config()
        assert (saved.train.lr_main, saved.loss.w1) == (trial.params["train.lr_main"], trial.params["loss.w1"])


def test_a_killed_worker_leaves_a_failed_trial_and_the_study_carries_on(settings):
    settings = dataclasses.replace(settings, overrides=(*settings.overrides, "train.epochs=2"))
    arguments = [
        "tune",
        "--preset",
        "demo",
        *(part for item in settings.overrides for part in ("--set", item)),
        "--space",
        settings.space.source,
        "--trials",
        "2",
        "--out",
        str(settings.out),
        "--heartbeat",
        "1",
    ]
    process = start_stopping(arguments)
    wait_until_stopped(process)  # trial 0 is running, in the middle of its second epoch
    assert len((settings.out / "trials" / "0000" / layout.EPOCHS_FILE).read_text().splitlines()) == 1
    process.kill()
    process.communicate()
    study = run_study(settings)
    # the lost trial is failed at once (its process is gone), run again with its values, and does not count
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE", "COMPLETE"]
    assert study.trials[1].params == study.trials[0].params
    rows = read_rows(write_outputs(study, settings)["trials"])
    assert "killed" in rows[0]["reason"] and "again as trial 1" in rows[0]["reason"]
    assert rows[1]["reason"] == "retry of trial 0"


def test_ctrl_c_fails_the_running_trial_cleanly_and_exits_130(settings, monkeypatch, capfd):
    from hscl.training.trainer import Trainer

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "run", interrupted)
    arguments = [
        "tune",
        "--preset",
        "demo",
        *(part for item in settings.overrides for part in ("--set", item)),
        "--space",
        settings.space.source,
        "--trials",
        "2",
        "--out",
        str(settings.out),
    ]
    assert main(arguments) == 130
    err = capfd.readouterr().err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err and "failed with value" not in err, err
    assert err.strip().splitlines()[-1] == "hscl: interrupted; the study is kept, run the same command to carry it on"
    monkeypatch.undo()
    study = run_study(settings)
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE"]
    assert study.trials[0].user_attrs["fail_reason"] == "interrupted"


def test_final_comparison_trains_both_configs_scores_test_once_and_writes_the_page(settings, tmp_path, capsys):
    arguments = [
        "tune",
        "--preset",
        "demo",
        *(part for item in settings.overrides for part in ("--set", item)),
        "--space",
        settings.space.source,
        "--trials",
        "1",
        "--out",
        str(settings.out),
        "--keep",
        "run",
        "--final-seeds",
        "1",
        "2",
        "--results",
        str(tmp_path / "docs" / "tune.md"),
    ]
    assert main(arguments) == 0
    page = (tmp_path / "docs" / "tune.md").read_text()
    summary = json.loads((tmp_path / "docs" / "tune.json").read_text())
    for key in ("tuned", "base"):
        tests = [RunDir(settings.out / "final" / key / f"seed_{seed}").read_test_metrics() for seed in (1, 2)]
        assert summary["final"]["rows"][key]["per_seed"] == tests
    assert "| Tuned on validation (best.yaml) | 2 |" in page and "| Base config (no tuning) | 2 |" in page
    assert "`tuned` minus `base`" in page and "On test, over 2 seeds, tuned minus base mae is" in page
    assert "![history](img/tune/history.png)" in page and (tmp_path / "docs" / "img" / "tune" / "history.png").is_file()
    out = capsys.readouterr().out
    assert summary["study"]["trials"] == 1 and "results page:" in out
    assert f"pictures in {settings.out / 'img'}: history.png, epochs.png, slice.png, parallel.png" in out
    trial_dir = settings.out / "trials" / "0000"  # --keep run: the trial keeps its model, never its resume state
    assert (trial_dir / layout.MODEL_DIR).is_dir() and not (trial_dir / layout.CHECKPOINT_FILE).exists()

    from hscl.config import save_config
    from hscl.tune.final import run_final

    best = settings.out / "best.yaml"  # as if a study carried on had found a new best: its runs are retrained
    save_config(load_config(path=best, overrides=["train.lr_main=0.0042"]), best)
    base_test = (settings.out / "final" / "base" / "seed_1" / layout.TEST_METRICS_FILE).stat().st_mtime_ns
    messages: list[str] = []
    once = dataclasses.replace(settings, trials=1)
    run_final(run_study(once), validated(once), [1, 2], tmp_path / "again.md", "hscl tune", messages.append)
    assert sum("training" in m for m in messages) == 2 and sum("kept" in m for m in messages) == 2
    assert RunDir(settings.out / "final" / "tuned" / "seed_2").read_config().train.lr_main == 0.0042
    assert (settings.out / "final" / "base" / "seed_1" / layout.TEST_METRICS_FILE).stat().st_mtime_ns == base_test


def test_trials_csv_has_no_column_for_a_parameter_fixed_by_set(settings):
    pinned = dataclasses.replace(settings, trials=1, overrides=(*settings.overrides, "train.epochs=1"))
    study = run_study(pinned)
    (row,) = read_rows(write_outputs(study, pinned)["trials"])
    assert "train.epochs" not in row and row["train.lr_main"] == repr(study.trials[0].params["train.lr_main"])


def test_space_files_read_exponent_floats_and_refuse_binary(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("params:\n  train.lr_main: {type: float, low: 1e-4, high: 1e-3, log: true}\n")
    (param,) = read_space(path).params
    assert (param.low, param.high) == (1e-4, 1e-3)  # YAML 1.2 floats, as in config files
    path.write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(ConfigError, match="not a text file"):
        read_space(path)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_trial_whose_process_died_is_failed_at_once_run_again_and_not_counted(settings, tmp_path, capfd):

    import optuna

    from hscl.tune.outputs import trial_reason
    from hscl.tune.study import counted_trials, fail_dead_local_trials, open_study

    valid = validated(settings)
    valid.out.mkdir(parents=True)
    study = open_study(valid)
    lost = study.ask()  # as a worker would have, before it was killed
    for param in valid.space.params:
        param.suggest(lost)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    study._storage.set_trial_user_attr(lost._trial_id, "worker", f"{platform.node()}:{int(dead.stdout)}")
    alive = study.ask()
    study._storage.set_trial_user_attr(alive._trial_id, "worker", f"{platform.node()}:{os.getpid()}")
    assert fail_dead_local_trials(study) == [0]  # this process's own trial is alive, however old
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING]
    assert counted_trials(study) == 2 and study.trials[2].params == study.trials[0].params
    study.tell(alive, state=optuna.trial.TrialState.FAIL)
    study = run_study(dataclasses.replace(settings, trials=3))
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL", "COMPLETE", "COMPLETE"]
    assert counted_trials(study) == 3 and trial_reason(study.trials[2]) == "retry of trial 0"
    assert "its worker (pid" in trial_reason(study.trials[0], 2)
    err = capfd.readouterr()
    assert "A new study created" not in err.err + err.out and "Using an existing study" not in err.err + err.out


def test_each_trial_says_k_of_n_and_the_best_so_far_instead_of_optunas_line(settings, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="hscl.tune")
    optuna_lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: optuna_lines.append(record.getMessage())
    optuna_loggers = [logging.getLogger(name) for name in ("optuna.study.study", "optuna.study._optimize")]
    for target in optuna_loggers:
        target.addHandler(handler)
    try:
        study = run_study(dataclasses.replace(settings, pruner="none"))
    finally:
        for target in optuna_loggers:
            target.removeHandler(handler)
    lines = [record.getMessage() for record in caplog.records if record.name == "hscl.tune"]
    best = min(t.value for t in study.trials)
    assert [line.split(" |")[0] for line in lines if " starts" in line] == [
        "trial 1/2 (number 0) starts",
        "trial 2/2 (number 1) starts",
    ]
    done = [line for line in lines if "complete" in line]
    assert len(done) == 2 and done[0].startswith("trial 1/2 (number 0) complete: valid mae ")
    assert done[1].startswith("trial 2/2 (number 1) complete") and f"best so far {best:.4f}" in done[1]
    assert "train.lr_main=" in done[0] and "model.d_prjh=" in done[0]
    assert not [line for line in optuna_lines if "finished with value" in line]
    kept = logging.LogRecord(
        "optuna.study._optimize", logging.WARNING, "", 0, "Trial 3 failed with value nan.", (), None
    )
    assert handler.filter(kept) and optuna_loggers[1].filter(kept)  # Optuna's other lines stay
