"""Run directories: typed records, atomic writes, and a new user's mistakes, each one line on stderr, exit 2,
nothing written or lost."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from hscl.cli import build_parser, main
from hscl.data.convert import write_converted
from hscl.data.loading import load_dataset
from hscl.errors import HSCLError
from hscl.files import check_output_file, check_output_folder, open_atomic, write_text
from hscl.training import run_records
from hscl.training.mean_std import MeanStd, mean_std_cell
from hscl.training.run_records import CompletionMark, EpochRecord, RunDir, SeedsSummary, Selection

SIZES = {"n_train": 24, "n_valid": 12, "n_test": 10, "seed": 3, "max_audio_len": 6, "max_visual_len": 5}

pytestmark = pytest.mark.usefixtures("one_thread")


def config_values(text_model: Path) -> dict:
    """A one-epoch run of the tiny BERT on a tiny synthetic set, as a YAML-ready mapping."""
    return {
        "name": "tiny",
        "data": {"format": "synthetic", "options": dict(SIZES), "max_text_len": 16},
        "model": {
            "text_model": str(text_model),
            "modalities": "audio",
            "audio_encoder": {"n_heads": 1, "ff_dim": 16, "n_layers": 1},
            "fusion_heads": 4,
            "d_prjh": 8,
        },
        "train": {"epochs": 1, "batch_size": 12, "eval_batch_size": 12, "progress_bar": False, "device": "cpu"},
    }


@pytest.fixture(scope="module")
def config_file(tiny_text_model_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.yaml"
    path.write_text(yaml.safe_dump(config_values(tiny_text_model_dir)))
    return path


@pytest.fixture(scope="module")
def finished(config_file, tmp_path_factory) -> Path:
    """A finished run, trained once through the command line; tests copy it before changing anything."""
    run = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", "--config", str(config_file), "--out", str(run)]) == 0
    return run


@pytest.fixture
def run_copy(finished, tmp_path) -> Path:
    return Path(shutil.copytree(finished, tmp_path / "run"))


def one_error_line(capsys) -> str:
    """The single stderr line of a refused command."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hscl: error: "), lines
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- records ----------------------------------------------------------------------------------------------


def test_records_round_trip(tmp_path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    first = EpochRecord(1, {"total": 1.5}, {"mae": 0.9}, {"text": 1e-5}, 2.0, True)
    second = EpochRecord(2, {"total": 1.2}, {"mae": 1.0}, {"text": 1e-5}, 2.1, False)
    run.append_epoch(first)
    run.append_epoch(second)
    assert run.read_epochs() == [first, second]
    run.keep_epochs(1)
    assert run.read_epochs() == [first]
    assert run.selected_epoch() is None
    run.model_dir.mkdir()
    (run.model_dir / "weights").write_text("old")
    with pytest.raises(RuntimeError), run.writing_model(Selection(1, "mae", {"mae": 0.9})) as folder:
        (folder / "weights").write_text("half")
        raise RuntimeError("killed")
    assert (run.model_dir / "weights").read_text() == "old" and run.selected_epoch() is None
    with run.writing_model(Selection(1, "mae", {"mae": 0.9})) as folder:
        (folder / "weights").write_text("new")
    assert (run.model_dir / "weights").read_text() == "new" and sorted(run.path.iterdir()) == [
        run.path / run_records.EPOCHS_FILE,
        run.model_dir,
        run.path / run_records.SELECTION_FILE,
    ]
    assert run.read_selection() == Selection(1, "mae", {"mae": 0.9}) and run.read_selection().value == 0.9
    assert run.selected_epoch() == 1
    assert not run.is_complete()
    run.write_test_metrics({"mae": 0.8})
    run.write_completion(CompletionMark(12.5, "cpu", 2))
    assert run.read_test_metrics() == {"mae": 0.8} and run.read_completion() == CompletionMark(12.5, "cpu", 2)
    assert run.is_complete()
    summary = SeedsSummary(
        "x", [1, 2], {"mae": MeanStd(0.8, 0.1, 2)}, {"mae": MeanStd(0.9, 0.0, 2)}, [1, 2], [3.0, 4.0]
    )
    run.write_summary(summary, "table\n")
    assert json.loads((run.path / run_records.SUMMARY_JSON).read_text())["test"] == {
        "mae": {"mean": 0.8, "std": 0.1, "n": 2}
    }
    assert run.read_summary_markdown() == "table\n"
    arrays = {"labels": np.zeros(3), "prediction": np.ones(3), "z_t": np.ones((3, 2))}
    run.write_projections(run_records.PROJECTIONS_FINAL, arrays)
    assert sorted(run.read_projections(run_records.PROJECTIONS_FINAL)) == ["labels", "prediction", "z_t"]
    assert not list(run.path.rglob("*.tmp"))


def test_malformed_epoch_line_is_named(tmp_path):
    path = tmp_path / run_records.EPOCHS_FILE
    path.write_text('{"epoch": 1, "train": {}, "valid": {}}\n{"epoch": 2, "train"\n', encoding="utf-8")
    with pytest.raises(HSCLError, match=r"metrics\.jsonl: line 2 is not an epoch record"):
        RunDir(tmp_path).read_epochs()
    path.write_text('{"epoch": 1, "valid": {}}\n', encoding="utf-8")
    with pytest.raises(HSCLError, match="line 1"):
        RunDir(tmp_path).read_epochs()
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(HSCLError, match="no epochs recorded"):
        RunDir(tmp_path).read_epochs()


def test_an_interrupted_atomic_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "x.json"
    write_text(path, "old")
    with pytest.raises(RuntimeError), open_atomic(path) as handle:
        handle.write("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]


def test_mean_std_cell_is_the_one_format():
    assert mean_std_cell(MeanStd.of([0.8, 0.9]), False) == "0.850 ± 0.071"
    assert mean_std_cell(MeanStd.of([0.7]), True) == "70.0"
    assert mean_std_cell(MeanStd.of([float("nan"), 1.0]), False) == "nan"


def test_output_checks_name_the_problem(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    with pytest.raises(HSCLError, match="is a file"):
        check_output_folder(tmp_path / "file")
    with pytest.raises(HSCLError, match="is a file, not a folder"):
        check_output_folder(tmp_path / "file" / "run")
    with pytest.raises(HSCLError, match="is a folder"):
        check_output_file(tmp_path)
    check_output_folder(tmp_path / "new" / "run")
    monkeypatch.setattr("hscl.files.os.access", lambda path, mode: False)  # as a non-root user on a read-only disk
    with pytest.raises(HSCLError, match="read-only"):
        check_output_folder(tmp_path)
    with pytest.raises(HSCLError, match="read-only"):
        check_output_file(tmp_path / "new.csv")


# --- train: no run is replaced unless asked, and only once every check has passed ------------------------


def test_train_refuses_an_existing_run(config_file, run_copy, capsys):
    before = snapshot(run_copy)
    assert main(["train", "--config", str(config_file), "--out", str(run_copy)]) == 2
    assert "--overwrite" in one_error_line(capsys)
    assert main(["train", "--config", str(config_file), "--seeds", "1", "2", "--out", str(run_copy.parent)]) == 2
    assert "--overwrite" in one_error_line(capsys)
    assert snapshot(run_copy) == before


def test_overwrite_clears_only_after_every_check(config_file, run_copy, tmp_path, capsys):
    before = snapshot(run_copy)
    missing = tmp_path / "missing"
    assert (
        main(
            [
                "train",
                "--config",
                str(config_file),
                "--out",
                str(run_copy),
                "--overwrite",
                "--set",
                f"data.path={missing}",
                "--set",
                "data.format=converted",
                "--set",
                "data.options={}",
            ]
        )
        == 2
    )
    assert str(missing) in one_error_line(capsys)
    assert snapshot(run_copy) == before
    (run_copy / "stale.txt").write_text("from the old run")
    assert main(["train", "--config", str(config_file), "--out", str(run_copy), "--overwrite"]) == 0
    assert not (run_copy / "stale.txt").exists() and len(RunDir(run_copy).read_epochs()) == 1


def test_overwrite_never_clears_a_folder_that_is_not_a_run(config_file, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["train", "--config", str(config_file), "--out", str(tmp_path), "--overwrite"]) == 2
    assert "not an hscl run" in one_error_line(capsys)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_out_that_is_a_file_or_read_only(config_file, tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("x")
    for command in (
        ["train", "--config", str(config_file), "--out", str(tmp_path / "file")],
        ["data", "convert", "--format", "synthetic", "--out", str(tmp_path / "file")],
    ):
        assert main(command) == 2
        assert re.search(r"file: (is a file|exists and is not a folder)", one_error_line(capsys))
    monkeypatch.setattr("hscl.files.os.access", lambda path, mode: False)
    assert main(["train", "--config", str(config_file), "--out", str(tmp_path / "new")]) == 2
    assert "read-only" in one_error_line(capsys)
    assert not (tmp_path / "new").exists()


# --- evaluate / predict / report on broken or mismatched input --------------------------------------------


def test_run_without_a_selected_model_says_how_to_resume(run_copy, capsys):
    shutil.rmtree(run_copy / run_records.MODEL_DIR)
    assert main(["evaluate", str(run_copy)]) == 2
    line = one_error_line(capsys)
    assert "no selected model yet" in line and f"hscl train --resume {run_copy}" in line


def test_corrupt_weights_are_one_line(run_copy, capsys):
    weights = run_copy / run_records.MODEL_DIR / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    assert main(["evaluate", str(run_copy)]) == 2
    assert "model.safetensors" in one_error_line(capsys)
    assert main(["predict", str(run_copy), "--data", str(run_copy), "--out", str(run_copy.parent / "p.csv")]) == 2
    assert "model.safetensors" in one_error_line(capsys)


def test_corrupt_checkpoint_gives_no_unsafe_advice(run_copy, capsys):
    checkpoint = run_copy / run_records.CHECKPOINT_FILE
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    assert main(["train", "--resume", str(run_copy)]) == 2
    line = one_error_line(capsys)
    assert "checkpoint.pt" in line and "weights_only" not in line


def test_data_with_other_feature_sizes(finished, tmp_path, capsys):
    other = write_converted(load_dataset(None, "synthetic", **{**SIZES, "audio_dim": 7}), tmp_path / "other")
    assert main(["evaluate", str(finished), "--data", str(other)]) == 2
    assert "audio features are 7-d" in one_error_line(capsys)
    assert main(["predict", str(finished), "--data", str(other), "--out", str(tmp_path / "p.csv")]) == 2
    assert "audio features are 7-d" in one_error_line(capsys)
    assert not (tmp_path / "p.csv").exists()


def test_predict_never_overwrites_its_input(finished, tmp_path, capsys):
    data = write_converted(load_dataset(None, "synthetic", **SIZES), tmp_path / "data")
    before = snapshot(data)
    manifest = data / "manifest.json"
    for out in (manifest, data):
        assert main(["predict", str(finished), "--data", str(data), "--out", str(out)]) == 2
        assert str(data) in one_error_line(capsys)
    assert snapshot(data) == before
    assert main(["predict", str(finished), "--data", str(data), "--out", str(tmp_path / "p.csv")]) == 0
    assert len((tmp_path / "p.csv").read_text().splitlines()) == SIZES["n_test"] + 1


def test_report_out_that_is_a_file(finished, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    (tmp_path / "file").write_text("x")
    assert main(["report", str(finished), "--out", str(tmp_path / "file")]) == 2
    assert "is a file" in one_error_line(capsys)
    assert main(["report", str(finished), "--out", str(tmp_path / "pngs"), "--markdown", str(tmp_path)]) == 2
    assert "is a folder" in one_error_line(capsys)
    assert not (tmp_path / "pngs").exists()


def test_predict_out_that_is_a_folder(finished, tmp_path, capsys):
    assert main(["predict", str(finished), "--data", str(finished), "--out", str(tmp_path)]) == 2
    assert f"{tmp_path}: is a folder" in one_error_line(capsys)


def test_multi_seed_summary_is_read_back(config_file, tmp_path, capsys):
    assert main(["train", "--config", str(config_file), "--seeds", "1", "2", "--out", str(tmp_path / "s")]) == 0
    summary = json.loads((tmp_path / "s" / run_records.SUMMARY_JSON).read_text())
    assert summary["seeds"] == [1, 2] and summary["test"]["mae"]["n"] == 2 and summary["selected_epochs"] == [1, 1]
    assert "| tiny | 1 2 |" in capsys.readouterr().out


def test_ctrl_c_before_the_first_checkpoint_says_there_is_nothing_to_resume(config_file, tmp_path, monkeypatch, capsys):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr("hscl.training.trainer.Trainer._run", interrupted)
    assert main(["train", "--config", str(config_file), "--out", str(tmp_path / "run")]) == 130
    assert capsys.readouterr().err.strip().splitlines() == [
        "hscl: interrupted; no epoch had finished, so there is nothing to resume: start the run again"
    ]


@pytest.mark.parametrize("command", ["evaluate", "predict", "report", "train"])
def test_every_argument_has_help(command):
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    parser = sub.choices[command]
    missing = [a.dest for a in parser._actions if a.dest != "help" and not a.help]
    assert not missing, f"hscl {command}: arguments without help: {missing}"
