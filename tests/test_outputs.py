"""The one output rule and what a hostile user tries against every writer: an output over an input, inside a run or
dataset folder, a folder holding an input, read-only or under a file, a link that leads nowhere, two writers of one
run folder. Each case ends in one line naming the path, exit status 2, nothing written, nothing lost."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hscl.cli import main
from hscl.data.convert import write_converted
from hscl.data.loading import load_dataset
from hscl.errors import HSCLError
from hscl.files import LOCK_FILE, FolderLock, check_not_input, check_output_file, check_output_folder, open_atomic
from hscl.training import run_records as layout
from hscl.training.run_records import RunDir

SIZES = {"n_train": 24, "n_valid": 12, "n_test": 10, "seed": 3, "max_audio_len": 6, "max_visual_len": 5}

pytestmark = pytest.mark.usefixtures("one_thread")


def config_values(text_model: Path, **train: object) -> dict:
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
        "train": {
            "epochs": 1,
            "batch_size": 12,
            "eval_batch_size": 12,
            "progress_bar": False,
            "device": "cpu",
            **train,
        },
    }


@pytest.fixture(scope="module")
def config_file(tiny_text_model_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.yaml"
    path.write_text(yaml.safe_dump(config_values(tiny_text_model_dir)))
    return path


@pytest.fixture(scope="module")
def finished(config_file, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", "--config", str(config_file), "--out", str(run)]) == 0
    return run


@pytest.fixture
def run_copy(finished, tmp_path) -> Path:
    return Path(shutil.copytree(finished, tmp_path / "run"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_converted(load_dataset(None, "synthetic", **SIZES), tmp_path_factory.mktemp("data") / "ds")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(argv: list[str], capsys, *words: str) -> str:
    """Run `hscl argv`, which must exit 2 with one `hscl: error:` line holding `words`; the line."""
    assert main(argv) == 2, argv
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hscl: error: "), (argv, lines)
    assert "Traceback" not in lines[0] and all(word in lines[0] for word in words), (argv, lines[0], words)
    return lines[0]


# --- hscl.files -------------------------------------------------------------------------------------------------


def test_the_rule_refuses_an_input_a_file_inside_an_input_folder_and_a_folder_holding_one(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.npz").write_bytes(b"x")
    table = tmp_path / "table.csv"
    table.write_text("a")
    os.link(table, tmp_path / "hardlink.csv")
    for out, words in (
        (table, "is "),
        (tmp_path / "hardlink.csv", "is "),  # the same file under another name
        (tmp_path / "." / "table.csv", "is "),
        (data / "train.npz", "lies inside"),
        (data / "new.csv", "lies inside"),
        (data / "sub" / "new.csv", "lies inside"),
    ):
        with pytest.raises(HSCLError, match=words):
            check_output_file(out, [table, data])
    with pytest.raises(HSCLError, match="holds"):
        check_output_folder(tmp_path, [table])
    with pytest.raises(HSCLError, match="lies inside"):
        check_output_folder(data / "out", [data])
    (tmp_path / "link").symlink_to(data)
    with pytest.raises(HSCLError, match="lies inside"):
        check_output_file(tmp_path / "link" / "p.csv", [data])  # through a symbolic link too
    check_output_file(tmp_path / "p.csv", [table, data, None])
    check_not_input(tmp_path / "other", [tmp_path / "not-yet" / "x"], folder=True)


def test_links_that_lead_nowhere_are_refused_before_anything(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    lost = tmp_path / "lost"
    lost.symlink_to(tmp_path / "nowhere" / "deeper")
    for check in (check_output_file, check_output_folder):
        with pytest.raises(HSCLError, match=r"loop: is a symbolic link that leads nowhere \(a loop of links\)"):
            check(loop)
        with pytest.raises(HSCLError, match=r"cannot be written, .*loop is a symbolic link"):
            check(loop / "x")
        with pytest.raises(HSCLError, match="its target is missing"):
            check(lost / "x")


def test_open_atomic_fails_in_one_error_and_leaves_nothing(tmp_path):
    (tmp_path / "file").write_text("x")
    for target in (tmp_path / "file" / "out.json", tmp_path / "file" / "deeper" / "out.json"):
        message = f"{target}: cannot be written, {tmp_path / 'file'} is a file"
        with pytest.raises(HSCLError, match=message), open_atomic(target) as handle:  # no second error
            handle.write("never")
    assert (tmp_path / "file").read_text() == "x"


def test_a_folder_lock_refuses_a_second_holder_naming_it_and_survives_a_killed_one(tmp_path):
    folder = tmp_path / "run"
    with FolderLock(folder):
        assert (folder / LOCK_FILE).is_file()
        with pytest.raises(HSCLError, match=rf"{folder}: in use by another hscl process \(pid {os.getpid()} on "):
            FolderLock(folder).acquire()
    assert not folder.exists()  # made by the lock, left empty: removed again
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from hscl.files import FolderLock; lock = FolderLock(sys.argv[1]).acquire(); "
            "print('held', flush=True); time.sleep(600)",
            str(folder),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"  # waits for the event, however slow the machine
        with pytest.raises(HSCLError, match=f"pid {holder.pid}"):
            FolderLock(folder).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (folder / LOCK_FILE).is_file()  # a killed holder leaves its file, which is no obstacle
    FolderLock(folder).acquire().release()


# --- train --------------------------------------------------------------------------------------------------------


def test_a_second_train_into_a_folder_in_use_is_refused_naming_the_holder(config_file, tmp_path, capsys):
    out = tmp_path / "run"
    with FolderLock(out):  # another `hscl train` between its checks and its first write
        refused(["train", "--config", str(config_file), "--out", str(out)], capsys, str(out), "in use", "pid")
        assert [p.name for p in out.iterdir()] == [LOCK_FILE]
    assert main(["train", "--config", str(config_file), "--out", str(out)]) == 0
    assert LOCK_FILE not in {p.name for p in out.iterdir()} and RunDir(out).has_test_metrics()


def test_two_trains_started_together_into_one_new_folder_leave_one_whole_run(config_file, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "hscl.cli", "train", "--config", str(config_file), "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first, second = (subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2))
    results = [(p.wait(), p.stderr.read()) for p in (first, second)]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results  # the second finds the first's lock, or (if it finished) its run
    for code, err in results:
        if code == 2:
            assert err.count("\n") == 1 and str(out) in err and ("in use by" in err or "already holds" in err), err
    assert RunDir(out).has_test_metrics() and len(RunDir(out).read_epochs()) == 1


def test_train_checks_its_folder_before_loading_anything(config_file, tmp_path, capsys, monkeypatch):
    def no_data(*args, **kwargs):
        raise AssertionError("data loaded before the output was checked")

    monkeypatch.setattr("hscl.training.trainer.load_data", no_data)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    (tmp_path / "file").write_text("x")
    for out, words in ((loop, "a loop of links"), (tmp_path / "file" / "run", "is a file, not a folder")):
        refused(["train", "--config", str(config_file), "--out", str(out)], capsys, str(out), words)
    refused(["train", "--config", str(config_file), "--seeds", "5", "5", "--out", str(tmp_path / "s")], capsys, "5 5")
    assert not (tmp_path / "s").exists()


def test_train_never_clears_a_folder_holding_its_data(config_file, dataset, tmp_path, capsys):
    runs = tmp_path / "runs"
    shutil.copytree(dataset, runs / "data")
    argv = [
        "train",
        "--config",
        str(config_file),
        "--set",
        f"data.path={runs / 'data'}",
        "--set",
        "data.format=converted",
    ]
    refused([*argv, "--set", "data.options={}", "--out", str(runs), "--overwrite"], capsys, "holds", "data")
    refused([*argv, "--set", "data.options={}", "--out", str(runs / "data" / "run")], capsys, "lies inside")
    assert snapshot(runs / "data") == snapshot(dataset)


def test_the_python_message_names_the_python_argument(finished):
    with pytest.raises(HSCLError, match=r"--overwrite \(overwrite=True from Python\)"):
        RunDir(finished).check_new()


# --- predict, report, evaluate -------------------------------------------------------------------------------------


def test_predict_never_writes_over_the_run_or_the_data(run_copy, dataset, tmp_path, capsys):
    data = Path(shutil.copytree(dataset, tmp_path / "data"))
    before_run, before_data = snapshot(run_copy), snapshot(data)
    for out in (
        run_copy / layout.RUN_CONFIG_FILE,
        run_copy / layout.MODEL_DIR / "model.safetensors",
        run_copy / layout.MODEL_DIR / "new.csv",
        run_copy / layout.SELECTION_FILE,
        run_copy / layout.EPOCHS_FILE,
        run_copy / layout.CHECKPOINT_FILE,
        data / "hscl_dataset.json",
        data / "train.npz",
        data / "preds.csv",
    ):
        refused(["predict", str(run_copy), "--data", str(data), "--out", str(out)], capsys, str(out))
    assert snapshot(run_copy) == before_run and snapshot(data) == before_data
    assert main(["predict", str(run_copy), "--data", str(data), "--out", str(run_copy / "preds.csv")]) == 0


def test_predict_media_never_writes_over_a_clip_or_a_transcript(finished, tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not really a video")
    transcripts = tmp_path / "t.csv"
    transcripts.write_text("id,text\nclip,hello\n")
    folder_argv = ["predict", str(finished), "--media", str(tmp_path)]
    refused(["predict", str(finished), "--media", str(clip), "--text", "hi", "--out", str(clip)], capsys, str(clip))
    refused([*folder_argv, "--transcripts", str(transcripts), "--out", str(transcripts)], capsys, "t.csv")
    refused([*folder_argv, "--text", "hi", "--out", str(tmp_path / "clip.mp4")], capsys, "clip.mp4")
    assert clip.read_bytes() == b"not really a video" and transcripts.read_text() == "id,text\nclip,hello\n"
    # a new file beside the clips is fine: the refusal is then about the run, not the output
    refused([*folder_argv, "--text", "hi", "--out", str(tmp_path / "p.csv")], capsys, "no extraction.json")


def test_report_never_writes_over_the_run(run_copy, capsys):
    pytest.importorskip("matplotlib")
    before = snapshot(run_copy)
    for argv, words in (
        (["--markdown", str(run_copy / layout.RUN_CONFIG_FILE)], "config.yaml"),
        (["--out", str(run_copy / layout.MODEL_DIR)], "model"),
        (["--out", str(run_copy)], "holds"),
        (["--markdown", str(run_copy / "report" / "curves.png")], "curves.png"),
    ):
        refused(["report", str(run_copy), *argv], capsys, *words.split())
    assert snapshot(run_copy) == before


def test_commands_on_a_missing_or_broken_run_say_what_is_wrong(run_copy, tmp_path, capsys):
    missing = tmp_path / "no-run"
    for command in (["evaluate", str(missing)], ["report", str(missing)]):
        refused(command, capsys, f"{missing}: no such folder")
    refused(
        ["predict", str(missing), "--data", str(run_copy), "--out", str(tmp_path / "p.csv")], capsys, "no such folder"
    )
    (run_copy / layout.RUN_CONFIG_FILE).unlink()
    (run_copy / layout.RUN_CONFIG_FILE).mkdir()
    refused(["evaluate", str(run_copy)], capsys, "config.yaml: is a folder, not a file")
    (run_copy / layout.EPOCHS_FILE).unlink()
    (run_copy / layout.EPOCHS_FILE).mkdir()
    refused(["report", str(run_copy)], capsys, "metrics.jsonl: is a folder, not a file")


def test_a_run_that_stopped_before_its_first_epoch_says_nothing_can_be_resumed(config_file, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--config", str(config_file), "--set", "train.lr_main=1e30", "--out", str(run)]) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and "not finite" in line and "no checkpoint or model was saved" in line
    assert "the last checkpoint" not in line
    for argv in (["evaluate", str(run)], ["train", "--resume", str(run)]):
        line = refused(argv, capsys, "nothing can be resumed")
        assert f"hscl train --config {run / layout.RUN_CONFIG_FILE} --out {run} --overwrite" in line
        assert "--resume" not in line.split("error: ", 1)[1]
    config = run / layout.RUN_CONFIG_FILE
    assert (
        main(["train", "--config", str(config), "--set", "train.lr_main=1e-3", "--out", str(run), "--overwrite"]) == 0
    )


# --- data audit, convert, extract -------------------------------------------------------------------------------


def test_data_commands_never_write_over_or_into_their_dataset(dataset, tmp_path, capsys):
    data = Path(shutil.copytree(dataset, tmp_path / "data"))
    before = snapshot(data)
    refused(["data", "audit", str(data), "--json", str(data / "hscl_dataset.json")], capsys, "hscl_dataset.json")
    refused(["data", "audit", str(data), "--json", str(data / "audit.json")], capsys, "lies inside")
    refused(["data", "convert", str(data), "--out", str(data)], capsys, "is ")
    refused(["data", "convert", str(data), "--out", str(tmp_path)], capsys, "holds")
    assert snapshot(data) == before
    utterance = tmp_path / "utt"
    utterance.mkdir()
    (utterance / "segments.csv").write_text("id,label,split,text\n")
    refused(["data", "audit", str(utterance), "--json", str(utterance / "segments.csv")], capsys, "segments.csv")
    assert (utterance / "segments.csv").read_text() == "id,label,split,text\n"


def test_extract_never_writes_over_or_around_its_inputs(tmp_path, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "a.mp4").write_bytes(b"x")
    out = tmp_path / "out"
    out.mkdir()
    (out / "extract_cache").mkdir()  # an earlier extraction, resumable
    (out / "texts.csv").write_text("id,text\na,hello\n")
    refused(["extract", str(clips), "--out", str(clips)], capsys, "holds")
    refused(["extract", str(clips), "--transcripts", str(out / "texts.csv"), "--out", str(out)], capsys, "texts.csv")
    (tmp_path / "file").write_text("x")
    refused(["extract", str(clips), "--out", str(tmp_path / "file" / "ds")], capsys, "is a file, not a folder")
    assert (out / "texts.csv").read_text() == "id,text\na,hello\n" and (clips / "a.mp4").read_bytes() == b"x"


# --- benchmark, tune: every output checked before the first run --------------------------------------------------


def test_benchmark_checks_its_page_before_training_and_defaults_to_its_own_folder(tmp_path, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("trained before the outputs were checked")

    monkeypatch.setattr("hscl.benchmark.runner.run_suite", never)
    (tmp_path / "file").write_text("x")
    out = tmp_path / "suite"
    base = ["benchmark", "--suite", "demo", "--out", str(out)]
    refused([*base, "--results", str(tmp_path / "file" / "demo.md")], capsys, "is a file, not a folder")
    refused([*base, "--results", str(tmp_path / "page.json")], capsys, "ending in .md")
    refused([*base, "--results", str(out / "hscl" / "seed_1111" / "selection.md")], capsys, "selection.json")
    (out / "results.md").mkdir(parents=True)  # the default page is the runs folder's results.md, not docs/
    refused(base, capsys, f"{out / 'results.md'}: is a folder")


def test_tune_checks_its_outputs_before_the_first_trial(tiny_text_model_dir, tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text("params:\n  loss.w1: {type: float, low: 1.0e-3, high: 0.3, log: true}\n")
    (tmp_path / "file").write_text("x")
    base = ["tune", "--preset", "demo", "--set", f"model.text_model={tiny_text_model_dir}", "--set"]
    base += ["model.fusion_heads=4", "--space", str(space), "--trials", "1"]
    study = tmp_path / "study"
    final = ["--out", str(study), "--final-seeds", "1", "--results"]
    journal = tmp_path / "journal.json"
    for argv, words in (
        (["--out", str(tmp_path / "file" / "study")], "is a file, not a folder"),
        (["--out", str(tmp_path)], "holds"),  # the space file is in it
        ([*final, str(tmp_path / "file" / "p.md")], "is a file"),
        ([*final, str(study / "study.db")], "ending in .md"),
        ([*final, str(study / "trials" / "p.md")], "lies inside"),
        ([*final, str(journal.with_suffix(".md")), "--storage", f"journal:{journal}"], "journal.json"),
    ):
        refused([*base, *argv], capsys, words)
    assert not study.exists() and not journal.exists()


def test_read_only_outputs_are_refused_before_any_work(tiny_text_model_dir, tmp_path, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("work started before the output was checked")

    monkeypatch.setattr("hscl.benchmark.runner.run_suite", never)
    monkeypatch.setattr("hscl.extract.pipeline.run_extraction", never)
    space = tmp_path / "space.yaml"
    space.write_text("params:\n  loss.w1: {type: float, low: 1.0e-3, high: 0.3, log: true}\n")
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "t.csv").write_text("id,text\na,hello\n")
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    real_access = os.access
    monkeypatch.setattr("hscl.files.os.access", lambda path, mode: Path(path) != readonly and real_access(path, mode))
    tune = ["tune", "--preset", "demo", "--set", f"model.text_model={tiny_text_model_dir}", "--set"]
    tune += ["model.fusion_heads=4", "--space", str(space), "--trials", "1"]
    for argv in (
        [*tune, "--out", str(readonly / "study")],
        [*tune, "--out", str(tmp_path / "study"), "--final-seeds", "1", "--results", str(readonly / "p.md")],
        ["extract", str(tmp_path / "a.mp4"), "--transcripts", str(tmp_path / "t.csv"), "--out", str(readonly / "o")],
        ["benchmark", "--suite", "demo", "--out", str(tmp_path / "suite"), "--results", str(readonly / "demo.md")],
        ["report", str(tmp_path), "--markdown", str(readonly / "r.md")],
        ["config", "schema", "--out", str(readonly / "schema.json")],
    ):
        refused(argv, capsys, "read-only")
    assert not any(readonly.iterdir()) and not (tmp_path / "study").exists()


def test_a_folder_where_a_dataset_file_is_expected_is_called_a_folder(dataset, tmp_path, capsys):
    data = Path(shutil.copytree(dataset, tmp_path / "data"))
    (data / "texts.csv").unlink()
    (data / "texts.csv").mkdir()
    refused(["data", "inspect", str(data)], capsys, "texts.csv: is a folder, not a file")
