"""Benchmark suites: resumable runs, the results table, the paired comparison."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

from hscl.benchmark.page import paired_comparison, results_table, write_results_page
from hscl.benchmark.runner import RowResult, collect_row, run_key_dir, run_suite
from hscl.benchmark.suites import Row, Suite, suite_by_name
from hscl.config import load_config
from hscl.errors import ConfigError, DataError, HSCLError
from hscl.training import run_records as layout


def tiny_overrides(text_model) -> list[str]:
    return [
        f"model.text_model={text_model}",
        "model.fusion_heads=4",
        "model.d_prjh=16",
        "data.options.n_train=32",
        "data.options.n_valid=16",
        "data.options.n_test=16",
        "data.options.max_audio_len=8",
        "data.options.max_visual_len=8",
        "data.max_text_len=24",
        "train.epochs=1",
        "train.batch_size=16",
        "train.device=cpu",
    ]


TINY_SUITE = Suite(
    name="tiny",
    preset="demo",
    seeds=(1, 2),
    comparisons=(("full", "text"),),
    report_row="full",
    rows=(
        Row("text", "text only", ("model.modalities=text",)),
        Row("full", "text + audio", ("model.modalities=audio",)),
    ),
)


def test_suite_runs_resumes_and_writes_its_page(tiny_text_model_dir, tmp_path):
    messages: list[str] = []
    results = run_suite(TINY_SUITE, tmp_path, extra=tiny_overrides(tiny_text_model_dir), log=messages.append)
    assert [r.row.key for r in results] == ["text", "full"]
    assert all(len(r.metrics) == 2 for r in results)
    for row in TINY_SUITE.rows:
        for seed in TINY_SUITE.seeds:
            assert (run_key_dir(tmp_path, row, seed) / layout.TEST_METRICS_FILE).is_file()

    finished = run_key_dir(tmp_path, TINY_SUITE.rows[0], 1) / layout.TEST_METRICS_FILE
    stamp = finished.stat().st_mtime_ns
    partial = run_key_dir(tmp_path, TINY_SUITE.rows[1], 2)
    (partial / layout.TEST_METRICS_FILE).unlink()  # as if killed before the end
    messages.clear()
    again = run_suite(TINY_SUITE, tmp_path, extra=tiny_overrides(tiny_text_model_dir), log=messages.append)
    assert finished.stat().st_mtime_ns == stamp
    assert sum("kept" in m for m in messages) == 3 and sum("training" in m for m in messages) == 1
    assert again[1].metrics[1] == results[1].metrics[1]  # same seed, same result

    page = write_results_page(TINY_SUITE, again, tmp_path / "page.md", "hscl benchmark --suite tiny")
    text = page.read_text()
    assert "| text only | 2 |" in text and "| text + audio | 2 |" in text
    selected = [
        layout.RunDir(run_key_dir(tmp_path, TINY_SUITE.rows[1], seed)).read_selection() for seed in TINY_SUITE.seeds
    ]
    assert again[1].selection_values == [s.valid["mae"] for s in selected]
    assert "valid (selection)" in text
    assert "`full` minus `text`" in text and "Runs trained on: " in text and "no GPU" in text
    from hscl.provenance import code_version

    assert f"Code version that trained the runs: {code_version()}." in text  # recorded per run, at training
    assert "at a time" not in text  # one run at a time: the summed wall time is the elapsed time
    assert collect_row(tmp_path, TINY_SUITE.rows[0], [2]).metrics == [
        layout.RunDir(run_key_dir(tmp_path, TINY_SUITE.rows[0], 2)).read_test_metrics()
    ]
    assert not (partial / layout.CHECKPOINT_FILE).exists()  # a finished run keeps no resume state


def test_parallel_suite_matches_the_sequential_one(tiny_text_model_dir, tmp_path):
    overrides = tiny_overrides(tiny_text_model_dir)
    sequential = run_suite(TINY_SUITE, tmp_path / "one", extra=overrides, log=lambda _: None)
    messages: list[str] = []
    parallel = run_suite(TINY_SUITE, tmp_path / "two", extra=overrides, jobs=2, log=messages.append)
    assert "training 4 runs, 2 at a time" in messages[0]
    assert sum("finished in" in m for m in messages) == 4
    for one, two in zip(sequential, parallel):
        assert one.row == two.row and two.concurrent_runs == [2, 2]
        for a, b in zip(one.metrics, two.metrics):  # same seeds; only the CPU thread count differs
            assert b == pytest.approx(a, rel=1e-4, abs=1e-4)
    page = write_results_page(TINY_SUITE, parallel, tmp_path / "page.md", "hscl benchmark --suite tiny --jobs 2")
    assert "summed over runs, which ran up to 2 at a time" in page.read_text()


def test_parallel_suite_stops_at_the_first_failure_and_names_it(tiny_text_model_dir, tmp_path):
    missing = tmp_path / "no-such-data"
    overrides = [
        *tiny_overrides(tiny_text_model_dir),
        "data.format=utterance",
        "data.options={}",
        f"data.path={missing}",
    ]
    messages: list[str] = []
    with pytest.raises(HSCLError, match=r"suite run \[\w+ seed \d\] failed: .*no-such-data.*run the suite again"):
        run_suite(TINY_SUITE, tmp_path / "runs", extra=overrides, jobs=2, log=messages.append)
    assert sum("failed" in m for m in messages) <= 2  # the runs not started when the first failed never ran
    with pytest.raises(ConfigError, match="jobs must be at least 1"):
        run_suite(TINY_SUITE, tmp_path / "runs", jobs=0)


def test_data_errors_survive_the_trip_from_a_worker_process():
    error = pickle.loads(pickle.dumps(DataError("/data/audio.npy", "has NaN in row 3")))
    assert isinstance(error, DataError) and (error.path, error.problem) == ("/data/audio.npy", "has NaN in row 3")
    assert str(error) == "/data/audio.npy: has NaN in row 3"


def fake_row(key: str, maes: list[float]) -> RowResult:
    metrics = [
        {k: 0.5 for k in ("corr", "acc7", "acc5", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0")} | {"mae": m}
        for m in maes
    ]
    return RowResult(Row(key, key), list(range(len(maes))), metrics, [60.0] * len(maes), [1] * len(maes))


def test_paired_comparison_matches_a_hand_computed_t_test():
    reference, baseline = [0.70, 0.72, 0.69, 0.75], [0.80, 0.78, 0.79, 0.81]
    comparison = paired_comparison(fake_row("a", reference), fake_row("b", baseline))
    diffs = np.subtract(reference, baseline)
    t = diffs.mean() / (diffs.std(ddof=1) / math.sqrt(len(diffs)))
    from scipy import stats

    expected_p = 2 * stats.t.sf(abs(t), df=len(diffs) - 1)
    assert comparison["mae"]["mean_diff"] == pytest.approx(diffs.mean())
    assert comparison["mae"]["p_value"] == pytest.approx(expected_p)
    assert math.isnan(comparison["corr"]["p_value"])  # identical values: no test


def test_results_table_mean_and_sample_std():
    table = results_table([fake_row("a", [0.7, 0.8, 0.9])])
    assert "| a | 3 | 0.800 ± 0.100 | 0.500 ± 0.000 | 50.0 ± 0.0 |" in table
    assert "| 3.0 |" in table  # three one-minute runs
    single = results_table([fake_row("b", [0.75])])
    assert "| b | 1 | 0.750 | 0.500 | 50.0 |" in single
    selected = fake_row("c", [0.7, 0.9])
    selected.selection_values = [0.6, 0.8]
    assert "| 50.0 ± 0.0 | 0.700 ± 0.141 | 1,1 | 2.0 |" in results_table([selected], selection_column=True)


def test_shipped_suites_are_well_formed():
    for name in ("mosi-utterance", "demo"):
        suite = suite_by_name(name)
        for row in suite.rows:  # every row's overrides make a valid config
            load_config(preset=suite.preset, overrides=list(row.overrides))
    assert len(suite_by_name("mosi-utterance").rows) == 9
    with pytest.raises(ConfigError, match="unknown suite"):
        suite_by_name("mosi-utterance-study")  # retired: hyper-parameter studies are `hscl tune`
    with pytest.raises(ConfigError, match="must be unique and include"):
        Suite(name="bad", preset="demo", rows=(Row("a", "a"), Row("a", "b")), report_row="a", comparisons=())
    with pytest.raises(ConfigError, match="must be unique and include"):
        Suite(name="bad", preset="demo", rows=(Row("a", "a"),), report_row="a", comparisons=(("a", "b"),))
    with pytest.raises(ConfigError, match="unknown suite"):
        suite_by_name("nope")


def test_benchmark_command_writes_the_quick_page_and_its_json(tiny_text_model_dir, tmp_path, monkeypatch):
    from hscl.benchmark import suites as suite_module
    from hscl.cli import main

    monkeypatch.setitem(suite_module.SUITES, "tiny", TINY_SUITE)
    monkeypatch.chdir(tmp_path)
    overrides = [item for override in tiny_overrides(tiny_text_model_dir) for item in ("--set", override)]
    assert main(["benchmark", "--suite", "tiny", "--quick", "--no-report", *overrides]) == 0
    page = tmp_path / "runs" / "benchmark-tiny-quick" / "results.md"  # its own folder: docs/ only when asked
    assert page.is_file() and not (tmp_path / "docs").exists()
    summary = json.loads(page.with_suffix(".json").read_text())
    assert summary["split"] == "test" and list(summary["rows"]) == ["text", "full"]
    for key in ("text", "full"):
        row = summary["rows"][key]
        run_dir = tmp_path / "runs" / "benchmark-tiny-quick" / key / "seed_1"
        assert row["seeds"] == [1] and row["per_seed"] == [json.loads((run_dir / layout.TEST_METRICS_FILE).read_text())]
        assert row["mean_std"]["mae"]["mean"] == row["per_seed"][0]["mae"]
    assert "Generated by `hscl benchmark --suite tiny --quick --set model.text_model=" in page.read_text()
    shipped = ["--results", "docs/results/tiny-quick.md"]
    assert main(["benchmark", "--suite", "tiny", "--quick", "--no-report", *overrides, *shipped]) == 0  # reused runs
    text = (tmp_path / "docs" / "results" / "tiny-quick.md").read_text()
    assert (
        "--results docs/results/tiny-quick.md`" in text
        and summary["rows"]["text"]["per_seed"]
        == json.loads((tmp_path / "docs" / "results" / "tiny-quick.json").read_text())["rows"]["text"]["per_seed"]
    )


def test_the_page_says_how_to_retrain_one_run_exactly_with_its_thread_count(tiny_text_model_dir, tmp_path):
    import torch

    suite = Suite(name="one", preset="demo", seeds=(3,), comparisons=(), report_row="full", rows=TINY_SUITE.rows[1:])
    threads = torch.get_num_threads()
    results = run_suite(suite, tmp_path, extra=tiny_overrides(tiny_text_model_dir), log=lambda _: None)
    assert results[0].threads == [threads]
    page = write_results_page(suite, results, tmp_path / "page.md", "hscl benchmark", common=("train.epochs=1",))
    text = page.read_text()
    assert f"- Threads: {threads} torch CPU thread" in text
    command = (
        "`hscl train --preset demo --set train.epochs=1 --set model.modalities=audio --set train.seed=SEED "
        f"--threads {threads}`"
    )
    assert f"| text + audio | {command} |" in text
    run = layout.RunDir(run_key_dir(tmp_path, suite.rows[0], 3))
    (session,) = run.read_sessions()
    assert session.threads == threads and session.processes == 1 and session.command.startswith("hscl Python API")
    (run.path / layout.SESSIONS_FILE).unlink()  # a run older than the record: the thread count of its mark
    assert collect_row(tmp_path, suite.rows[0], [3]).threads == [threads]
