"""`hscl data inspect / convert` and the loader's option and format errors, through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from hscl.cli import main
from hscl.data.loading import load_dataset
from hscl.errors import DataError

MOSI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mosi"


def test_inspect_real_mosi_prints_the_standard_split(capsys):
    if not MOSI.is_dir():
        pytest.skip(f"real CMU-MOSI data not found at {MOSI} (a fresh clone has no ../shared)")
    assert main(["data", "inspect", str(MOSI)]) == 0
    out = capsys.readouterr().out
    for split, count in (("train", 1284), ("valid", 229), ("test", 686)):
        assert any(line.split()[:2] == [split, str(count)] for line in out.splitlines()), (split, out)
    assert "d=73" in out


def test_leaky_features_are_refused_in_one_line(capsys):
    if not MOSI.is_dir():
        pytest.skip(f"real CMU-MOSI data not found at {MOSI} (a fresh clone has no ../shared)")
    assert main(["data", "inspect", str(MOSI), "--option", "visual_file=video.npy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "video.npy" in err[0] and "leaks test labels" in err[0]


def test_convert_synthetic_then_inspect_converted(tmp_path, capsys):
    out = tmp_path / "demo"
    options = ["--option", "n_train=20", "--option", "n_valid=8", "--option", "n_test=8"]
    assert main(["data", "convert", "--format", "synthetic", *options, "--out", str(out)]) == 0
    assert main(["data", "inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "format: converted" in text and "train" in text
    original = load_dataset(None, "synthetic", n_train=20, n_valid=8, n_test=8)
    again = load_dataset(out)
    assert again["test"].ids == original["test"].ids
    assert (again["train"].audio.features == original["train"].audio.features).all()


def test_unknown_reader_option_and_format_are_data_errors(tmp_path):
    (tmp_path / "segments.csv").write_text("id,video_id,clip_id,text,label,split\n")
    with pytest.raises(DataError, match="takes no option"):
        load_dataset(tmp_path, "utterance", label_csv="x.csv")
    with pytest.raises(DataError, match="unknown format"):
        load_dataset(tmp_path, "parquet")
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no known layout"):
        load_dataset(tmp_path / "empty")


def test_missing_path_is_one_line(tmp_path, capsys):
    assert main(["data", "inspect", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]


def test_a_near_miss_layout_says_what_is_wrong(tmp_path, capsys):
    (tmp_path / "segments.csv").mkdir()
    assert main(["data", "inspect", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "looks like utterance but segments.csv is a folder, not a file" in err[0]
    (tmp_path / "segments.csv").rmdir()
    (tmp_path / "unaligned_50.pkl").mkdir()
    (tmp_path / "mosi_data_noalign.pkl").mkdir()
    with pytest.raises(
        DataError,
        match="looks like mmsa but unaligned_50.pkl is a folder, not a file; "
        "looks like mult but mosi_data_noalign.pkl is a folder",
    ):
        load_dataset(tmp_path)
