"""Load time of a MOSI-shaped MulT pickle (safe unpickler + reader) versus the converted format.

Builds a synthetic dataset with MulT's unaligned MOSI shapes (2199 samples, visual 500 x 20,
audio 375 x 5), writes it as a MulT-style pickle (a plain `pickle.dump` of the dict of splits, each a
dict of left-padded `vision`, `audio`, `text` (N, 50, 300) float32, `labels` (N, 1, 1) and `id`)
with its label CSV, and in the converted format, then times reading each several times.

    .venv/bin/python benchmarks/data_load.py | tee benchmarks/data_load.txt
"""

from __future__ import annotations

import argparse
import csv
import os
import pickle
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hscl.data.convert import write_converted
from hscl.data.readers import converted, mult, synthetic
from hscl.data.safe_pickle import load_pickle
from hscl.data.types import SPLITS, MSADataset, Sequences

MULT_SHAPES = {"max_audio_len": 375, "max_visual_len": 500, "audio_dim": 5, "visual_dim": 20}
TEXT_SHAPE = (50, 300)


def left_padded(seq: Sequences) -> np.ndarray:
    """Right-padded features moved to the end of each row, as the MulT pickles store them."""
    out = np.zeros_like(seq.features)
    for i, length in enumerate(seq.lengths):
        if length:
            out[i, seq.max_len - length :] = seq.features[i, :length]
    return out


def write_mult_folder(ds: MSADataset, folder: Path) -> Path:
    """`mosi_data_noalign.pkl` and `MOSI-label.csv` holding `ds`; returns the pickle path."""
    folder.mkdir(parents=True)
    payload = {}
    rows = []
    rng = np.random.default_rng(0)
    for split in SPLITS:
        data = ds[split]
        n = len(data)
        payload[split] = {
            "vision": left_padded(data.visual),
            "audio": left_padded(data.audio),
            "text": rng.standard_normal((n, *TEXT_SHAPE), dtype=np.float32),
            "labels": data.labels.reshape(n, 1, 1),
            "id": np.array([[sample_id.encode(), b"0.0", b"1.0"] for sample_id in data.ids]),
        }
        for sample_id, text, label in zip(data.ids, data.texts, data.labels):
            video, clip = sample_id.rsplit("_", 1)
            rows.append((video, clip, text, repr(float(label)), split))
    with (folder / "MOSI-label.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video_id", "clip_id", "text", "label", "mode"])
        writer.writerows(rows)
    path = folder / "mosi_data_noalign.pkl"
    with path.open("wb") as handle:
        pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def timed(function: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def unsafe_pickle_load(path: Path) -> object:
    with path.open("rb") as handle:
        return pickle.load(handle)  # reference only: this is what the safe unpickler replaces


def check_same(a: MSADataset, b: MSADataset) -> None:
    """The two loaded datasets hold the same samples, bit for bit."""
    for split in SPLITS:
        assert a[split].ids == b[split].ids and a[split].texts == b[split].texts
        assert np.array_equal(a[split].labels, b[split].labels)
        for name in ("audio", "visual"):
            assert np.array_equal(a[split].modality(name).features, b[split].modality(name).features)
            assert np.array_equal(a[split].modality(name).lengths, b[split].modality(name).lengths)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ds = synthetic.read(seed=0, **MULT_SHAPES)
    with tempfile.TemporaryDirectory() as tmp:
        pickle_path = write_mult_folder(ds, Path(tmp) / "mult")
        converted_dir = write_converted(ds, Path(tmp) / "converted")
        check_same(mult.read(pickle_path), converted.read(converted_dir))
        results = {
            "mult pickle: safe unpickle + mult reader": timed(lambda: mult.read(pickle_path), args.repeats),
            "  of which safe unpickle alone": timed(lambda: load_pickle(pickle_path), args.repeats),
            "  (plain pickle.load, unsafe, reference)": timed(lambda: unsafe_pickle_load(pickle_path), args.repeats),
            "converted: converted.read": timed(lambda: converted.read(converted_dir), args.repeats),
        }
        sizes = {"mult": folder_size(pickle_path.parent), "converted": folder_size(converted_dir)}
    counts = "/".join(str(len(ds[split])) for split in SPLITS)
    print(f"dataset: synthetic, {counts} samples, visual 500x20, audio 375x5, text (50, 300) float32 in the pickle")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs (load average {load}), "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    print(f"files: mult pickle + CSV {sizes['mult'] / 2**20:.1f} MiB, converted {sizes['converted'] / 2**20:.1f} MiB")
    print(f"load time over {args.repeats} repeats (warm file cache), seconds:")
    print(f"  {'':44} {'min':>7} {'median':>7}")
    for name, times in results.items():
        print(f"  {name:44} {min(times):7.3f} {statistics.median(times):7.3f}")
    mult_median = statistics.median(results["mult pickle: safe unpickle + mult reader"])
    converted_median = statistics.median(results["converted: converted.read"])
    print(f"ratio (mult reader / converted.read, medians): {mult_median / converted_median:.1f}x")
    print("both loads give identical arrays, ids, texts and labels (checked)")


if __name__ == "__main__":
    main()
