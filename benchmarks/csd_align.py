"""Reading and word-aligning a CMU-MultimodalSDK release: hscl's `csd` reader against the SDK's `align`.

Generates a MOSEI-shaped release (per video: about 7 opinion segments of about 10 s with about 2.2
words per second, silences between them, COVAREP at 100 Hz x 74 float64, Facet 4.2 at 30 Hz x 35,
labels with MOSEI's 7 columns) with the SDK's own writer, then times on the same files, in one run:

* hscl: `csd.read(folder, alignment="word")` (files opened, checked, aligned, split by a fold file);
* the SDK's recipe (PyPI `cmu-multimodal-sdk` 0.0.6, what `pip install` gives): `mmdataset` on the
  files, `align(words, collapse_functions=[average])`, impute (zeros for words no frame met; the
  PyPI copy's `impute` fails on Python 3, so its effect is written out), `align(labels)`, and the
  intersection of segments that `hard_unify` keeps (missing from the PyPI copy, also written out).

and checks that both give the same transcripts, labels and audio/visual rows. Words carry no `sp`
markers: the SDK's recipe aligns to word vectors, which have none for MOSEI.

The SDK's `align` first calls `unify`, which for every video scans every key of every sequence: after
word alignment a key per word, so its cost grows with the square of the number of videos, while the
rest of `align` (each word against its own video's frames) grows linearly. The script times the
`unify` calls separately, runs the SDK at half the size as well to show the growth, and extrapolates
each part to MOSEI's 3,228 labelled videos by its own law: an estimate, not a measurement.

    .venv/bin/python benchmarks/csd_align.py | tee benchmarks/csd_align.txt
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import format_table, load_line, machine_header
from hscl.data.readers import csd

MOSEI_VIDEOS = 3228  # videos in the standard folds of the PyPI SDK (2250 + 300 + 678)
MOSEI_SEGMENTS = 23453  # annotated segments, as the CMU-MOSEI paper counts them
ROOTS = {
    "words": ("CMU_MOSEI_TimestampedWords.csd", "words"),
    "audio": ("CMU_MOSEI_COVAREP.csd", "COVAREP"),
    "visual": ("CMU_MOSEI_VisualFacet42.csd", "FACET 4.2"),
    "labels": ("CMU_MOSEI_Labels.csd", "All Labels"),
}


def quiet():
    """Silence the SDK's log lines and progress bars."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    return stack


def mosei_video(rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    """One MOSEI-shaped video; word and segment times on a 10 ms grid, segment edges at word edges."""
    t, words, segments = round(float(rng.uniform(1, 5)), 2), [], []
    for _ in range(max(1, int(rng.poisson(7.3)))):
        first = len(words)
        end = t + rng.uniform(5, 15)
        while t < end:
            length = round(float(rng.uniform(0.15, 0.75)), 2)
            words.append((t, round(t + length, 2)))
            t = round(t + length + float(rng.choice([0.0, 0.0, 0.05, 0.2])), 2)
        segments.append((words[first][0], words[-1][1]))
        t = round(t + float(rng.uniform(1, 5)), 2)
    duration = t + 2
    audio_t = np.arange(0.0, duration, 0.01)
    visual_t = np.arange(0.0, duration, 1 / 30)
    audio = rng.normal(size=(len(audio_t), 74))
    audio[rng.random(len(audio_t)) < 0.02, :5] = -np.inf  # COVAREP's unvoiced frames
    return {
        "words": {
            "intervals": np.array(words),
            "features": np.array([[b"w%d" % rng.integers(1000)] for _ in words]),
        },
        "audio": {"intervals": np.stack([audio_t, audio_t + 0.01], axis=1), "features": audio},
        "visual": {
            "intervals": np.stack([visual_t, visual_t + 1 / 30], axis=1),
            "features": rng.normal(size=(len(visual_t), 35)),
        },
        "labels": {"intervals": np.array(segments), "features": rng.uniform(-3, 3, size=(len(segments), 7))},
    }


def write_release(folder: Path, videos: int, seed: int) -> dict[str, int]:
    """Write the release with the SDK's writer; return its sizes."""
    from mmsdk import mmdatasdk
    from mmsdk.mmdatasdk.configurations.metadataconfigs import featuresetMetadataTemplate

    rng = np.random.default_rng(seed)
    data: dict[str, dict] = {role: {} for role in ROOTS}
    for i in range(videos):
        for role, entry in mosei_video(rng).items():
            data[role][f"video{i:04d}"] = entry
    for role, (name, root) in ROOTS.items():
        with quiet():
            sequence = mmdatasdk.computational_sequence(root)
            sequence.setData(data[role], root)
            metadata = {key: f"benchmark {key}" for key in featuresetMetadataTemplate}
            sequence.setMetadata({**metadata, "root name": root, "dataset name": "CMU-MOSEI"}, root)
            sequence.deploy(str(folder / name))
    ids = sorted(data["labels"])
    n_test, n_valid = max(1, videos // 5), max(1, videos // 10)
    cut = [videos - n_test - n_valid, videos - n_test]
    folds = {"train": ids[: cut[0]], "valid": ids[cut[0] : cut[1]], "test": ids[cut[1] :]}
    (folder / "folds.json").write_text(json.dumps(folds))
    return {
        "videos": videos,
        "segments": sum(len(e["intervals"]) for e in data["labels"].values()),
        "words": sum(len(e["intervals"]) for e in data["words"].values()),
        "audio frames": sum(len(e["intervals"]) for e in data["audio"].values()),
        "visual frames": sum(len(e["intervals"]) for e in data["visual"].values()),
        "MiB": int(sum((folder / name).stat().st_size for name, _ in ROOTS.values()) / 2**20),
    }


def sdk_average(intervals, features):
    """The recipe's collapse function (the words, the reference, are kept as they are)."""
    try:
        return np.average(features, axis=0)
    except TypeError:
        return features


def run_sdk(folder: Path) -> tuple[dict[str, float], dict[str, dict]]:
    """The SDK's recipe, timed by phase, with the `unify` calls inside `align` timed apart."""
    from mmsdk import mmdatasdk
    from mmsdk.mmdatasdk.dataset import dataset as sdk_dataset

    unify_seconds = [0.0]
    original = sdk_dataset.mmdataset._mmdataset__unify_dataset

    def timed_unify(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            unify_seconds[0] += time.perf_counter() - start

    times = {}
    sdk_dataset.mmdataset._mmdataset__unify_dataset = timed_unify
    try:
        with quiet():
            start = time.perf_counter()
            ds = mmdatasdk.mmdataset({role: str(folder / ROOTS[role][0]) for role in ("words", "audio", "visual")})
            times["open"] = time.perf_counter() - start
            start = time.perf_counter()
            ds.align("words", collapse_functions=[sdk_average])
            times["align to words"] = time.perf_counter() - start
            start = time.perf_counter()
            for role, dim in (("audio", 74), ("visual", 35)):
                for key, entry in ds["words"].data.items():
                    ds[role].data.setdefault(key, {"intervals": entry["intervals"], "features": np.zeros((1, dim))})
            ds.add_computational_sequences({"labels": str(folder / ROOTS["labels"][0])}, None)
            times["impute + open labels"] = time.perf_counter() - start
            start = time.perf_counter()
            ds.align("labels")
            times["align to labels"] = time.perf_counter() - start
    finally:
        sdk_dataset.mmdataset._mmdataset__unify_dataset = original
    start = time.perf_counter()
    keys = set.intersection(*(set(ds[role].data) for role in ("words", "audio", "visual", "labels")))
    out = {
        key: {
            "text": " ".join(row[0].decode() for row in ds["words"].data[key]["features"]),
            "label": float(ds["labels"].data[key]["features"][0, 0]),
            "audio": ds["audio"].data[key]["features"],
            "visual": ds["visual"].data[key]["features"],
        }
        for key in keys
    }
    times["hard_unify"] = time.perf_counter() - start
    times["unify (inside the aligns)"] = unify_seconds[0]
    times["total"] = sum(v for k, v in times.items() if k != "unify (inside the aligns)")
    return times, out


def run_hscl(folder: Path, alignment: str = "word", max_frames: int | None = None) -> tuple[float, object]:
    start = time.perf_counter()
    ds = csd.read(folder, folds=str(folder / "folds.json"), alignment=alignment, max_frames=max_frames)
    return time.perf_counter() - start, ds


def same_results(ds, sdk: dict[str, dict]) -> str:
    """Compare hscl's samples with the SDK's, segment by segment."""
    checked = 0
    worst = 0.0
    for split in ds.splits.values():
        for i, key in enumerate(split.ids):
            expected = sdk[key]
            assert split.texts[i] == expected["text"] and abs(split.labels[i] - expected["label"]) < 1e-6, key
            for name in ("audio", "visual"):
                seq = split.modality(name)
                got = seq.features[i, : seq.lengths[i]].astype(np.float64)
                want = expected[name]
                assert got.shape == want.shape, key
                finite = np.isfinite(want)
                assert (np.isfinite(got) == finite).all() and (got[~finite] == want[~finite]).all(), key
                worst = max(worst, float(np.max(np.abs(got[finite] - want[finite]), initial=0.0)))
            checked += 1
    assert checked == len(sdk), (checked, len(sdk))
    return f"{checked} segments identical in text, label and row count; largest audio/visual difference {worst:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=32, help="videos of the generated release (the SDK runs on it)")
    parser.add_argument("--hscl-videos", type=int, default=200, help="a larger release read by hscl alone")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(machine_header("csd_align: hscl's csd reader vs the CMU-MultimodalSDK's align (PyPI 0.0.6)"))
    rows, sizes, sdk_runs = [], {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for videos in (args.videos // 2, args.videos):
            folder = Path(tmp) / f"release{videos}"
            folder.mkdir()
            sizes[videos] = write_release(folder, videos, args.seed + videos)
            hscl_seconds, ds = run_hscl(folder)
            sdk_times, sdk_out = run_sdk(folder)
            sdk_runs[videos] = sdk_times
            check = same_results(ds, sdk_out)
            rows.append(
                [
                    videos,
                    sizes[videos]["segments"],
                    f"{hscl_seconds:.3f}",
                    f"{sdk_times['total']:.1f}",
                    f"{sdk_times['total'] / hscl_seconds:.0f}x",
                ]
            )
        folder = Path(tmp) / "large"
        folder.mkdir()
        sizes[args.hscl_videos] = write_release(folder, args.hscl_videos, args.seed + 1)
        large_word, _ = run_hscl(folder)
        large_none, _ = run_hscl(folder, "none", 500)
    print()
    print("generated releases (written with the SDK's computational_sequence.deploy):")
    print(
        format_table(
            ["videos", *list(next(iter(sizes.values())))[1:]], [[v, *list(s.values())[1:]] for v, s in sizes.items()]
        )
    )
    print()
    print("same files, one run, seconds (hscl: csd.read with alignment word; SDK: the recipe above):")
    print(format_table(["videos", "segments", "hscl", "SDK", "SDK / hscl"], rows))
    print(f"check at {args.videos} videos: {check}")
    print()
    big, half = sdk_runs[args.videos], sdk_runs[args.videos // 2]
    print(f"SDK phases, seconds ({args.videos // 2} -> {args.videos} videos; growth 2 is linear, 4 quadratic):")
    print(
        format_table(
            ["phase", f"{args.videos // 2} videos", f"{args.videos} videos", "growth"],
            [[k, f"{half[k]:.2f}", f"{v:.2f}", f"{v / half[k]:.1f}" if half[k] > 0 else "-"] for k, v in big.items()],
        )
    )
    print()
    segments = sizes[args.videos]["segments"]
    per_segment = MOSEI_SEGMENTS / segments
    per_key = per_segment * MOSEI_VIDEOS / args.videos
    unify = big["unify (inside the aligns)"]
    linear = big["total"] - unify
    sdk_estimate = linear * per_segment + unify * per_key
    large = sizes[args.hscl_videos]
    hscl_estimate = large_word * MOSEI_SEGMENTS / large["segments"]
    print(
        f"hscl alone on {args.hscl_videos} videos ({large['segments']} segments, {large['MiB']} MiB): "
        f"alignment word {large_word:.2f} s, alignment none with max_frames 500 {large_none:.2f} s"
    )
    print(f"extrapolated to MOSEI ({MOSEI_VIDEOS} videos, {MOSEI_SEGMENTS} segments) with this script's video shape")
    print("-- an estimate, not a run:")
    print(f"  hscl: {hscl_estimate:.0f} s (linear in segments, from the {args.hscl_videos}-video run)")
    print(
        f"  SDK:  {sdk_estimate / 3600:.1f} h = {linear:.1f} s x {per_segment:.0f} (align work, linear in segments) "
        f"+ {unify:.2f} s x {per_key:.0f} (unify: videos x keys)"
    )
    print(f"  ratio: about {sdk_estimate / hscl_estimate:.0f}x")
    print(load_line())


if __name__ == "__main__":
    main()
