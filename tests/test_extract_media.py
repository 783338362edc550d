"""Extraction on media the tests make (the astronaut photo as a video, synthetic voice), and the round
trip extract -> train -> predict (dataset and media), with the refusals a user can run into."""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil

import numpy as np
import pytest

pytest.importorskip("av", reason="the [extract] extra is not installed")
pytest.importorskip("opensmile", reason="the [extract] extra is not installed")
pytest.importorskip("mediapipe", reason="the [extract] extra is not installed")
pytest.importorskip("skimage", reason="scikit-image makes the test video")

from hscl.cli import main
from hscl.data.loading import load_dataset
from hscl.extract.inputs import Utterance
from hscl.extract.media import extract_file
from hscl.extract.settings import ExtractSettings
from media_fixtures import voice, write_clip

LABELS = [
    ("train", 2.0),
    ("train", -2.0),
    ("train", 1.0),
    ("train", -1.0),
    ("valid", 1.5),
    ("valid", -1.5),
    ("test", 2.5),
    ("test", -0.5),
]


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Eight labelled 1-s clips (clip2 with two blank frames), plus a silent, a faceless and a corrupt file."""
    root = tmp_path_factory.mktemp("media")
    clips = root / "clips"
    clips.mkdir()
    rows = ["id,text,label,split"]
    for i, (split, label) in enumerate(LABELS):
        write_clip(
            clips / f"clip{i}.mp4",
            seconds=1.0,
            fps=10,
            audio=voice(1.0, 110 + 15 * i, seed=i),
            size=160,
            blank=frozenset({3, 4}) if i == 2 else frozenset(),
        )
        rows.append(f"clip{i},{'great fun' if label > 0 else 'awful boring'},{label},{split}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    bad = root / "bad"
    bad.mkdir()
    write_clip(bad / "silent.mp4", seconds=1.0, audio=np.zeros(16000, np.float32), size=160)
    write_clip(bad / "faceless.mp4", seconds=1.0, size=160, blank=frozenset(range(10)))
    (bad / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    return root


@pytest.fixture(scope="module")
def extracted(media, tmp_path_factory):
    out = tmp_path_factory.mktemp("extracted") / "ds"
    assert (
        main(
            [
                "extract",
                str(media / "clips"),
                "--transcripts",
                str(media / "labels.csv"),
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    return out


def test_shapes_rates_and_the_faceless_frames(extracted):
    ds = load_dataset(extracted)
    assert [len(ds[s]) for s in ("train", "valid", "test")] == [4, 2, 2]
    assert ds.feature_dim("audio") == 25 and ds.feature_dim("visual") == 20
    train = ds["train"]
    # 1 s at 25 frames/s (openSMILE's 100 Hz, 4 averaged); AAC adds up to 64 ms of encoder padding
    assert all(25 <= length <= 27 for length in train.audio.lengths)
    assert list(train.visual.lengths) == [10, 10, 8, 10]  # 10 frames/s; clip2's two blank frames left out
    manifest = json.loads((extracted / "hscl_dataset.json").read_text())
    record = manifest["extraction"]
    assert record["settings"] == ExtractSettings().to_dict() and manifest["labelled"] is True
    assert record["counts"]["faceless_frames"] == 2 and record["counts"]["video_frames"] == 80
    assert record["packages"]["mediapipe"] == "0.10.14" and len(record["features"]["visual"]) == 20


def test_extraction_is_deterministic_and_cut_to_max_frames(media):
    clip = media / "clips" / "clip2.mp4"
    settings = ExtractSettings(max_frames=6)
    first, second = (
        extract_file(clip, [Utterance("u", 0.0, None), Utterance("half", 0.5, 1.0)], settings) for _ in range(2)
    )
    for uid in ("u", "half"):
        assert np.array_equal(first.utterances[uid].audio, second.utterances[uid].audio)
        assert np.array_equal(first.utterances[uid].visual, second.utterances[uid].visual)
    whole, half = first.utterances["u"], first.utterances["half"]
    assert whole.audio.shape == (6, 25) and whole.visual.shape == (6, 20) and whole.truncated
    assert (whole.video_frames, whole.faceless_frames) == (10, 2) and half.video_frames == 5
    assert np.isfinite(whole.visual).all() and not np.all(whole.visual == 0, axis=1).any()  # no zero-filled face


def test_bad_files_are_report_lines_and_a_rerun_resumes(media, tmp_path, capsys):
    shutil.copy(media / "clips" / "clip0.mp4", media / "bad" / "good.mp4")
    out = tmp_path / "ds"
    args = [
        "extract",
        str(media / "bad"),
        "--transcripts",
        str(media / "labels.csv"),
        "--out",
        str(out),
        "--no-progress",
    ]
    transcripts = media / "bad.csv"
    transcripts.write_text("id,text\nsilent,a\nfaceless,b\ncorrupt,c\ngood,d\n")
    args[3] = str(transcripts)
    assert main([*args, "--jobs", "2"]) == 0
    assert "3 files extracted, 0 reused; 3 left out" in capsys.readouterr().out
    with (out / "extraction_report.csv").open() as handle:
        report = {row["file"].rsplit("/", 1)[-1]: row["problem"] for row in csv.DictReader(handle)}
    assert set(report) == {"silent.mp4", "faceless.mp4", "corrupt.mp4"}
    assert "silent" in report["silent.mp4"] and "no face" in report["faceless.mp4"] and report["corrupt.mp4"]
    with pytest.raises(Exception, match="serves `hscl predict --data` only"):
        load_dataset(out)
    assert main(args) == 0
    assert "0 files extracted, 3 reused" in capsys.readouterr().out  # the corrupt file is tried again, the rest reused


@pytest.fixture(scope="module")
def run(extracted, tiny_text_model_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    overrides = [
        f"data.path={extracted}",
        "data.format=converted",
        "data.options={}",
        f"model.text_model={tiny_text_model_dir}",
        "model.audio_encoder={n_heads: 1, ff_dim: 16, n_layers: 1}",
        "model.visual_encoder={n_heads: 2, ff_dim: 16, n_layers: 1}",
        "model.fusion_heads=4",
        "model.d_prjh=16",
        "train.epochs=1",
        "train.batch_size=4",
        "train.progress_bar=false",
        "train.device=cpu",
        "data.max_text_len=16",
    ]
    assert (
        main(["train", "--preset", "demo", "--out", str(run_dir)] + [x for o in overrides for x in ("--set", o)]) == 0
    )
    return run_dir


def test_round_trip_media_prediction_equals_dataset_prediction(run, extracted, media, tmp_path, capsys):
    by_data = tmp_path / "data.csv"
    assert main(["predict", str(run), "--data", str(extracted), "--out", str(by_data)]) == 0
    capsys.readouterr()
    clip = str(media / "clips" / "clip6.mp4")
    assert main(["predict", str(run), "--media", clip, "--text", "great fun"]) == 0  # no --out: standard output
    data_rows = {row["id"]: row for row in csv.DictReader(by_data.open())}
    media_rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["id"] for row in media_rows] == ["clip6"]
    assert list(media_rows[0]) == ["id", "file", "score", "class7", "polarity", "raw"]
    for column in ("raw", "score"):
        assert float(media_rows[0][column]) == pytest.approx(float(data_rows["clip6"][column]), abs=1e-5)
    assert media_rows[0]["class7"] == data_rows["clip6"]["class7"]


def test_the_run_keeps_its_extraction_settings(run, extracted, media, tmp_path):
    kept = json.loads((run / "extraction.json").read_text())
    assert kept == json.loads((extracted / "hscl_dataset.json").read_text())["extraction"]
    copy = tmp_path / "run"
    shutil.copytree(run, copy)  # a run moved to another machine, without its training data
    (copy / "config.yaml").write_text(
        (copy / "config.yaml").read_text().replace(str(extracted), str(tmp_path / "gone"))
    )
    assert (
        main(
            [
                "predict",
                str(copy),
                "--media",
                str(media / "clips" / "clip6.mp4"),
                "--text",
                "great fun",
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )


def test_prediction_refuses_other_settings_and_versions(run, extracted, media, tmp_path, capsys, monkeypatch):
    other = tmp_path / "other"
    shutil.copytree(extracted, other, ignore=shutil.ignore_patterns("extract_cache"))
    manifest = json.loads((other / "hscl_dataset.json").read_text())
    manifest["extraction"]["settings"]["fps"] = 5.0
    (other / "hscl_dataset.json").write_text(json.dumps(manifest))
    assert main(["predict", str(run), "--data", str(other), "--out", str(tmp_path / "p.csv")]) == 2
    assert "fps 5.0 (run: 10.0)" in capsys.readouterr().err
    from hscl.extract import records

    monkeypatch.setattr(records, "package_versions", lambda: {"opensmile": "2.6.0", "mediapipe": "0.10.21"})
    assert (
        main(
            [
                "predict",
                str(run),
                "--media",
                str(media / "clips"),
                "--transcripts",
                str(media / "labels.csv"),
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "mediapipe 0.10.14" in err and "0.10.21" in err


def test_cli_refuses_bad_inputs_before_work(media, tmp_path, capsys):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    clip = str(media / "clips" / "clip0.mp4")
    cases = [
        (["extract", clip, "--out", str(busy)], "not an earlier `hscl extract` output"),
        (["extract", clip, "--out", str(tmp_path / "o")], "supply it with --transcripts"),
        (["extract", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "o")], "no such file"),
        (["extract", clip, "--out", str(tmp_path / "o"), "--fps", "0"], "fps 0.0"),
        (["extract", clip, "--out", str(tmp_path / "o"), "--jobs", "0"], "--jobs 0"),
        (
            ["extract", clip, "--out", str(tmp_path / "o"), "--transcripts", str(media / "labels.csv")],
            "the split column gives train 1, valid 0, test 0; valid and test need(s) at least 2",
        ),
        (["predict", str(tmp_path), "--media", clip, "--text", "x", "--out", str(tmp_path / "p.csv")], "config.yaml"),
        (
            ["predict", str(tmp_path), "--data", str(tmp_path), "--text", "x", "--out", str(tmp_path / "p.csv")],
            "go(es) with --media",
        ),
    ]
    for argv, words in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert words in err and err.startswith("hscl: error: ") and err.count("\n") == 1, (argv, err)
    assert not (tmp_path / "o").exists()


def test_video_is_thinned_to_the_sampling_rate(tmp_path):
    from hscl.extract.decode import sample_video

    clip = write_clip(tmp_path / "fast.mp4", seconds=1.0, fps=25, size=64)
    times = [time for time, frame in sample_video(clip, 10)]
    assert len(times) == 10 and all(frame_time >= k / 10 - 1e-6 for k, frame_time in enumerate(times))
    assert all(later - earlier >= 0.08 - 1e-6 for earlier, later in itertools.pairwise(times))  # 25 fps: 0.08/0.12 s
    slow = [time for time, frame in sample_video(clip, 50)]
    assert len(slow) == 25  # a source slower than the rate gives every frame


def test_segments_cut_one_file_into_utterances(media, tmp_path):
    segments = tmp_path / "segments.csv"
    segments.write_text(
        "id,file,start,end\nfirst,clip1.mp4,0,0.5\nsecond,clip1,0.5,1.0\nlate,clip1.mp4,5,6\nlong,clip1,0.5,3.0\n"
    )
    transcripts = tmp_path / "t.csv"
    transcripts.write_text("id,text\nfirst,one\nsecond,two\nlate,three\nlong,four\n")
    out = tmp_path / "ds"
    assert (
        main(
            [
                "extract",
                str(media / "clips" / "clip1.mp4"),
                "--segments",
                str(segments),
                "--transcripts",
                str(transcripts),
                "--out",
                str(out),
                "--no-progress",
                "--audio-rate",
                "50",
            ]
        )
        == 0
    )
    from hscl.data.readers.converted import read

    test = read(out, allow_unlabelled=True)["test"]
    assert test.ids == ["first", "second"] and test.texts == ["one", "two"]
    assert list(test.visual.lengths) == [5, 5]  # 0.5 s at 10 frames/s
    # 0.5 s: openSMILE's 60-ms windows every 10 ms fit (500 - 60) / 10 + 1 = 45 times; pairs averaged at 50 frames/s
    assert list(test.audio.lengths) == [23, 23]  # 0.5 s at 10 and 50 frames/s
    report = (out / "extraction_report.csv").read_text()
    assert 'late,"starts at 5 s, after the end of the media' in report
    assert 'long,"ends at 3 s, after the end of the media' in report  # cut short silently before


def test_unlabelled_extraction_serves_prediction_only(run, media, tmp_path, capsys):
    transcripts = tmp_path / "t.csv"
    transcripts.write_text("id,text\nclip6,great fun\nclip7,awful boring\n")
    out = tmp_path / "unlabelled"
    clips = [str(media / "clips" / f"clip{i}.mp4") for i in (6, 7)]
    assert main(["extract", *clips, "--transcripts", str(transcripts), "--out", str(out), "--no-progress"]) == 0
    preds = tmp_path / "p.csv"
    assert main(["predict", str(run), "--data", str(out), "--split", "all", "--out", str(preds)]) == 0
    rows = list(csv.DictReader(preds.open()))
    assert [(row["id"], row["split"], row["label"]) for row in rows] == [("clip6", "test", ""), ("clip7", "test", "")]
    capsys.readouterr()
    assert main(["predict", str(run), "--data", str(out), "--split", "train", "--out", str(preds)]) == 2
    assert "no samples in split 'train'; it has test" in capsys.readouterr().err
    assert main(["data", "inspect", str(out)]) == 0  # legitimate for prediction, so it can be looked at
    text = capsys.readouterr().out
    assert "labels: none" in text and "serves `hscl predict --data` only" in text and "test " in text
    assert "labels are not finite" not in text
    assert main(["evaluate", str(run), "--data", str(out)]) == 2  # scoring needs labels
    assert "split 'test' has no labels" in capsys.readouterr().err


def test_predict_media_never_writes_over_its_clip_and_evaluate_checks_the_extraction(
    run, extracted, media, tmp_path, capsys
):
    clip = tmp_path / "clip6.mp4"
    shutil.copyfile(media / "clips" / "clip6.mp4", clip)
    before = clip.read_bytes()
    assert main(["predict", str(run), "--media", str(clip), "--text", "great fun", "--out", str(clip)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{clip}: is {clip}, an input of this command" in err
    assert clip.read_bytes() == before
    assert main(["predict", str(run), "--media", str(clip), "--out", str(tmp_path / "p.csv")]) == 2  # no text
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no transcript for id 'clip6'" in err and 'give it with --text "..."' in err
    other = tmp_path / "other"
    shutil.copytree(extracted, other, ignore=shutil.ignore_patterns("extract_cache"))
    manifest = json.loads((other / "hscl_dataset.json").read_text())
    manifest["extraction"]["settings"]["audio_rate"] = 50
    (other / "hscl_dataset.json").write_text(json.dumps(manifest))
    assert main(["evaluate", str(run), "--data", str(other)]) == 2  # as predict --data refuses it
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "audio_rate 50 (run: 25)" in err
