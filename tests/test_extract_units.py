"""Extraction pieces without media: face geometry and pose, frame pooling, inputs and settings checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hscl.errors import ConfigError, DataError
from hscl.extract import face
from hscl.extract.audio import pool_frames
from hscl.extract.inputs import find_media, plan_utterances, read_srt
from hscl.extract.settings import ExtractSettings


def frontal_landmarks(seed: int = 0) -> np.ndarray:
    """Random points (478, 3) in face units with the named landmarks placed where a frontal face has them."""
    points = np.random.default_rng(seed).normal(0, 0.3, (face.N_LANDMARKS, 3))
    named = {
        face.NOSE_TIP: (0, 0, -0.3),
        face.NOSE_BASE: (0, 0.15, -0.2),
        face.CHIN: (0, 1.0, 0),
        face.RIGHT_EYE_OUTER: (-0.75, -0.5, 0),
        face.RIGHT_EYE_INNER: (-0.25, -0.5, 0),
        face.LEFT_EYE_INNER: (0.25, -0.5, 0),
        face.LEFT_EYE_OUTER: (0.75, -0.5, 0),
        face.RIGHT_LID_UPPER: (-0.5, -0.55, 0),
        face.RIGHT_LID_LOWER: (-0.5, -0.45, 0),
        face.LEFT_LID_UPPER: (0.5, -0.56, 0),
        face.LEFT_LID_LOWER: (0.5, -0.44, 0),
        face.RIGHT_IRIS: (-0.45, -0.5, 0),
        face.LEFT_IRIS: (0.5, -0.5, 0),
        face.MOUTH_RIGHT: (-0.4, 0.45, 0),
        face.MOUTH_LEFT: (0.4, 0.42, 0),
        face.LIP_INNER_UPPER: (0, 0.45, 0),
        face.LIP_INNER_LOWER: (0, 0.55, 0),
        face.LIP_OUTER_UPPER: (0, 0.35, 0),
        face.LIP_OUTER_LOWER: (0, 0.65, 0),
        face.RIGHT_BROW_MID: (-0.5, -0.8, 0),
        face.LEFT_BROW_MID: (0.5, -0.9, 0),
        face.RIGHT_BROW_INNER: (-0.2, -0.75, 0),
        face.LEFT_BROW_INNER: (0.2, -0.75, 0),
    }
    for index, xyz in named.items():
        points[index] = xyz
    return points


def to_picture(
    points: np.ndarray, rotation: Rotation, scale: float, centre: tuple[float, float], width: int, height: int
) -> np.ndarray:
    """Face-unit points turned, scaled and placed in a width × height picture, as MediaPipe normalises them."""
    placed = rotation.apply(points) * scale + np.array([centre[0], centre[1], 0.0])
    return placed / np.array([width, height, width])


def test_geometry_of_a_frontal_face_matches_plain_distances():
    points = frontal_landmarks()
    values = dict(
        zip(
            face.GEOMETRY_NAMES,
            face.geometry(to_picture(points, Rotation.identity(), 100, (320, 240), 640, 480), 640, 480),
        )
    )
    assert values["head_yaw"] == pytest.approx(0, abs=1e-6) and values["head_roll"] == pytest.approx(0, abs=1e-6)
    assert values["face_scale"] == pytest.approx(100 / 640, rel=1e-5)  # IOD is 1 face unit = 100 px
    assert values["mouth_open"] == pytest.approx(0.1, rel=1e-4)
    assert values["mouth_width"] == pytest.approx(np.hypot(0.8, 0.03), rel=1e-4)
    assert values["lip_corner_right"] == pytest.approx(0.05, abs=1e-5)  # mouth centre at 0.5, corner at 0.45 (above)
    assert values["lip_corner_left"] == pytest.approx(0.08, abs=1e-5)
    assert values["eye_open_right"] == pytest.approx(0.2, rel=1e-4) and values["eye_open_left"] == pytest.approx(
        0.24, rel=1e-4
    )
    assert values["brow_raise_right"] == pytest.approx(0.25, abs=1e-5) and values["brow_raise_left"] == pytest.approx(
        0.34, abs=1e-5
    )
    assert values["brow_gap"] == pytest.approx(0.4, rel=1e-4)
    assert values["gaze_right"] == pytest.approx(0.6, abs=1e-5) and values["gaze_left"] == pytest.approx(0.5, abs=1e-5)
    assert values["jaw_drop"] == pytest.approx(np.hypot(1.0, 0.3), rel=1e-4)
    assert values["lip_height"] == pytest.approx(0.3, rel=1e-4) and values["upper_lip_raise"] == pytest.approx(
        np.hypot(0.2, 0.2), rel=1e-4
    )


@pytest.mark.parametrize("yaw, pitch, roll", [(0.3, 0.0, 0.0), (0.0, -0.25, 0.0), (0.0, 0.0, 0.4), (-0.2, 0.15, -0.3)])
def test_pose_is_recovered_and_expression_is_pose_invariant(yaw, pitch, roll):
    points = frontal_landmarks(seed=1)
    frontal = face.geometry(to_picture(points, Rotation.identity(), 90, (300, 200), 640, 480), 640, 480)
    turned_rotation = Rotation.from_euler("ZYX", [roll, yaw, pitch])  # the reference: scipy's intrinsic Z-Y-X angles
    turned = face.geometry(to_picture(points, turned_rotation, 60, (200, 260), 640, 480), 640, 480)
    assert turned[:3] == pytest.approx([yaw, pitch, roll], abs=1e-5)
    assert turned[6:] == pytest.approx(frontal[6:], abs=1e-4)  # everything after the pose and placement


def test_pool_frames_averages_groups_like_a_loop():
    frames = np.random.default_rng(0).normal(size=(11, 3)).astype(np.float32)
    expected = np.array([frames[i : i + 4].mean(axis=0) for i in range(0, 11, 4)])
    assert pool_frames(frames, 4) == pytest.approx(expected, abs=1e-6)
    assert pool_frames(frames, 1) is not None and np.array_equal(pool_frames(frames, 1), frames)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"audio_set": "covarep"}, "egemaps"),
        ({"face_set": "facet"}, "geometry"),
        ({"audio_rate": 30}, "divide 100"),
        ({"fps": 0}, "(0, 60]"),
        ({"max_frames": 0}, "positive"),
        ({"audio_set": "none", "face_set": "none"}, "at least one"),
    ],
)
def test_settings_refuse_bad_values(kwargs, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace("]", r"\]")):
        ExtractSettings(**kwargs)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def media(tmp_path):
    for name in ("a.mp4", "b.mp4", "c.wav"):
        (tmp_path / name).write_bytes(b"x")
    return find_media([str(tmp_path)])


def test_plan_from_files_segments_and_srt(tmp_path, media):
    plan = plan_utterances(
        media,
        transcripts=[
            write(tmp_path / "t.csv", "id,text,label,split\na,good,1.5,train\nb,bad,-2,valid\nc,meh,0,test\n")
        ],
    )
    assert [(u.id, u.text, u.label, u.split, u.start, u.end) for us in plan.values() for u in us] == [
        ("a", "good", 1.5, "train", 0.0, None),
        ("b", "bad", -2.0, "valid", 0.0, None),
        ("c", "meh", 0.0, "test", 0.0, None),
    ]
    segments = write(tmp_path / "s.csv", "id,file,start,end\na_1,a.mp4,0,1.5\na_2,a,1.5,3\n")
    plan = plan_utterances(media[:1], segments, [write(tmp_path / "t2.csv", "id,text\na_1,one\na_2,two\n")])
    assert [(u.id, u.start, u.end, u.text, u.label) for u in plan[media[0]]] == [
        ("a_1", 0, 1.5, "one", None),
        ("a_2", 1.5, 3, "two", None),
    ]
    srt = write(
        tmp_path / "a.srt", "1\n00:00:00,000 --> 00:00:01,250\nhello there\n\n2\n00:00:01,500 --> 00:00:02,000\nbye\n"
    )
    assert read_srt(srt) == [(0.0, 1.25, "hello there"), (1.5, 2.0, "bye")]
    assert [u.id for u in plan_utterances(media[:1], transcripts=[srt])[media[0]]] == ["a_1", "a_2"]


@pytest.mark.parametrize(
    "content, words",
    [
        ("id,text\na,x\nb,y\n", "no row with id 'c'"),
        ("id,text,label\na,x,1\nb,y,4\nc,z,0\n", "label '4' is not a number in"),
        ("id,text,label\na,x,1\nb,y,nan\nc,z,0\n", "label 'nan'"),
        ("id,text,label,split\na,x,1,train\nb,y,1,dev\nc,z,0,test\n", "split 'dev' must be one of"),
        ("id,text\na,x\na,y\n", "repeats an earlier id"),
        ("id,text,label\na,x,1\nb,y,\nc,z,0\n", "an empty label cell, or no row. while others have one"),
        ("id,words\na,x\n", "must include the columns"),
        ("id,text\na,x,extra\n", "expected 2 cells"),
    ],
)
def test_transcripts_problems_are_one_line_naming_the_file(tmp_path, media, content, words):
    path = write(tmp_path / "t.csv", content)
    with pytest.raises(DataError, match=words) as error:
        plan_utterances(media, transcripts=[path])
    assert str(path) in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "content, words",
    [
        ("id,file,start,end\nx,zz.mp4,0,1\n", "not among the media"),
        ("id,file,start,end\nx,a.mp4,2,1\n", "0 <= start < end"),
        ("id,file,start,end\nx,a.mp4,0,abc\n", "not a number of seconds"),
        ("id,file,start,end\nx,a.mp4,0,inf\n", "not a finite number"),
    ],
)
def test_segments_problems(tmp_path, media, content, words):
    with pytest.raises(DataError, match=words):
        plan_utterances(media, write(tmp_path / "s.csv", content), [write(tmp_path / "t.csv", "id,text\nx,y\n")])


def test_missing_transcripts_say_how_to_supply_them(tmp_path, media):
    with pytest.raises(DataError, match="supply it with --transcripts"):
        plan_utterances(media)
    with pytest.raises(DataError, match="cue 1: time"):
        plan_utterances(media[:1], transcripts=[write(tmp_path / "a.srt", "1\n00:00:xx,000 --> 00:00:01,000\nhi\n")])
    with pytest.raises(DataError, match="same name without extension"):
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "a.mkv").write_bytes(b"x")
        find_media([str(tmp_path)])


def test_files_without_a_split_column_go_whole_to_one_hashed_split(tmp_path):
    from pathlib import Path

    from hscl.extract.dataset import assign_splits
    from hscl.extract.inputs import Utterance

    rows = [(Path(f"v{i}.mp4"), Utterance(f"v{i}_{k}", k, k + 1, "t", 0.5)) for i in range(40) for k in range(3)]
    groups = assign_splits(rows, "src")
    where = {u.id: split for split, us in groups.items() for u in us}
    assert all(len({where[f"v{i}_{k}"] for k in range(3)}) == 1 for i in range(40))  # a file never straddles splits
    assert groups == assign_splits(rows, "src") and all(groups.values())
    assert 0.6 < len(groups["train"]) / len(rows) < 0.95
    with pytest.raises(DataError, match="hash .* gives train 3, valid 0, test 0; valid and test need"):
        assign_splits(rows[:3], "src")
    with pytest.raises(DataError, match="has no split while others have one"):
        assign_splits(
            [(Path("a"), Utterance("a", 0, 1, "t", 1.0, "train")), (Path("b"), Utterance("b", 0, 1, "t", 1.0))], "src"
        )


def test_missing_extra_is_one_error_naming_it(monkeypatch):
    from hscl.extract import pipeline, settings

    monkeypatch.setattr(
        settings, "package_versions", lambda: {"hscl": "0", "av": "1", "opensmile": None, "mediapipe": None}
    )
    with pytest.raises(ConfigError, match=r"opensmile, mediapipe: pip install 'hscl\[extract\]'"):
        pipeline.check_installed(ExtractSettings())
    monkeypatch.setattr(
        settings, "package_versions", lambda: {"hscl": "0", "av": "1", "opensmile": "2", "mediapipe": None}
    )
    pipeline.check_installed(ExtractSettings(face_set="none"))  # audio only: mediapipe is not needed


@pytest.mark.parametrize(
    "timing, words",
    [
        ("00:00:99,000 --> 00:01:00,000", "'00:00:99,000' has 99 in its seconds field, which runs 00-59"),
        ("00:00:01,000 --> 00:00:60,000", "has 60 in its seconds field"),
        ("00:75:00,000 --> 00:76:00,000", "has 75 in its minutes field"),
    ],
)
def test_an_srt_time_out_of_range_is_refused_not_read_as_more_seconds(tmp_path, media, timing, words):
    srt = write(tmp_path / "a.srt", f"1\n{timing}\nhello\n")
    with pytest.raises(DataError, match=words) as caught:
        plan_utterances(media[:1], transcripts=[srt])
    assert str(srt) in str(caught.value) and "cue 1" in str(caught.value)


@pytest.mark.parametrize(
    "content, words",
    [
        ("id,text,label,split\na,x,1,train\nb,y,,valid\n", "line 3: the row has a split but its label cell is empty"),
        ("id,text,split\na,x,train\n", "line 2: the row has a split but the file has no label column"),
    ],
)
def test_a_split_without_a_label_says_whether_the_cell_or_the_column_is_missing(tmp_path, media, content, words):
    with pytest.raises(DataError, match=words):
        plan_utterances(media, transcripts=[write(tmp_path / "t.csv", content)])


def test_hashed_split_sizes_are_checked_before_any_decoding(tmp_path, monkeypatch):
    from pathlib import Path

    from hscl.extract import pipeline

    def never(*args, **kwargs):
        raise AssertionError("decoding started before the split sizes were checked")

    monkeypatch.setattr(pipeline, "run_extraction", never)
    monkeypatch.setattr(pipeline, "check_installed", lambda settings: None)
    clips = [tmp_path / f"c{i}.mp4" for i in range(9)]
    for clip in clips:
        clip.write_bytes(b"x")
    rows = "".join(f"c{i},words,1.0\n" for i in range(9))
    transcripts = write(tmp_path / "t.csv", "id,text,label\n" + rows)
    with pytest.raises(DataError, match=r"hash .* \(80/10/10 by file\) gives train \d+, valid \d+, test \d+; "):
        pipeline.extract(
            [str(c) for c in clips], Path(tmp_path / "out"), ExtractSettings(), transcripts=[str(transcripts)]
        )
    assert not (tmp_path / "out").exists()
