"""Benchmark suites: resumable runs, the results table, the paired comparison."""
from __future__ import annotations

import math

import numpy as np
import pytest

from hscl.errors import ConfigError
from hscl.suite import (Row, RowResult, Suite, paired_comparison, results_table, run_key_dir, run_suite,
                        suite_by_name, write_results_page)
from hscl.training import run_dir as layout


def tiny_overrides(text_model) -> list[str]:
    return [f"model.text_model={text_model}", "model.fusion_heads=4", "model.d_prjh=16",
            "data.options.n_train=32", "data.options.n_valid=16", "data.options.n_test=16",
            "data.options.max_audio_len=8", "data.options.max_visual_len=8", "data.max_text_len=24",
            "train.epochs=1", "train.batch_size=16", "train.device=cpu"]


TINY_SUITE = Suite(name="tiny", preset="demo", seeds=(1, 2), reference="full", baseline="text",
                   rows=(Row("text", "text only", ("model.modalities=text",)),
                         Row("full", "text + audio", ("model.modalities=audio",))))


def test_suite_runs_resumes_and_writes_its_page(tiny_text_model_dir, tmp_path):
    messages: list[str] = []
    results = run_suite(TINY_SUITE, tmp_path, extra=tiny_overrides(tiny_text_model_dir), log=messages.append)
    assert [r.row.key for r in results] == ["text", "full"]
    assert all(len(r.test) == 2 for r in results)
    for row in TINY_SUITE.rows:
        for seed in TINY_SUITE.seeds:
            assert (run_key_dir(tmp_path, row, seed) / layout.TEST_FILE).is_file()

    finished = run_key_dir(tmp_path, TINY_SUITE.rows[0], 1) / layout.TEST_FILE
    stamp = finished.stat().st_mtime_ns
    partial = run_key_dir(tmp_path, TINY_SUITE.rows[1], 2)
    (partial / layout.TEST_FILE).unlink()  # as if killed before the end
    messages.clear()
    again = run_suite(TINY_SUITE, tmp_path, extra=tiny_overrides(tiny_text_model_dir), log=messages.append)
    assert finished.stat().st_mtime_ns == stamp
    assert sum("kept" in m for m in messages) == 3 and sum("training" in m for m in messages) == 1
    assert again[1].test[1] == results[1].test[1]  # same seed, same result

    page = write_results_page(TINY_SUITE, again, tmp_path / "page.md", "hscl benchmark --suite tiny")
    text = page.read_text()
    assert "| text only | 2 |" in text and "| text + audio | 2 |" in text
    assert "`full` minus `text`" in text and "Machine:" in text


def fake_row(key: str, maes: list[float]) -> RowResult:
    metrics = [{k: 0.5 for k in ("corr", "acc7", "acc5", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0")}
               | {"mae": m} for m in maes]
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


def test_shipped_suites_are_well_formed():
    for name in ("mosi-utterance", "demo"):
        suite = suite_by_name(name)
        keys = [row.key for row in suite.rows]
        assert len(keys) == len(set(keys))
        assert {suite.reference, suite.baseline, suite.report_row} <= set(keys)
    assert len(suite_by_name("mosi-utterance").rows) == 9
    with pytest.raises(ConfigError, match="unknown suite"):
        suite_by_name("nope")
