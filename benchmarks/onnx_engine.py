"""torch eager against onnxruntime (`hscl export --onnx`, `--engine onnx`) on the CPU, side by side in one run.

An untrained HSCL on the packaged all-MiniLM-L6-v2 with demo-like feature sizes (audio 5-d, visual 20-d,
the config's default encoders) is saved with `save_pretrained`, exported with `hscl.model.onnx.export_onnx`
and loaded in an onnxruntime session. Timed: the prediction of an already encoded split (the part the
engine changes: `hscl.training.evaluation.predict_split` against `OnnxModel.predict_split`), at batch 1 and
batch 64, on 1 and 2 threads (torch's intra-op threads, onnxruntime's intra-op threads: one session per
count). Rounds interleave the two engines, so both see the same load; the table gives the median and the
minimum per batch, and the speed-up torch / onnxruntime of each (above 1: onnxruntime is faster).

    flock /work/notes/cpu.lock nice .venv/bin/python benchmarks/onnx_engine.py
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer
from transformers.utils import logging as hf_logging

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import Stats, configure_threads, format_table, load_line, machine_header, summarize
from hscl.config import HSCLConfig
from hscl.config.text_model import resolve_text_model
from hscl.data.batching import EncodedSplit, encode_split
from hscl.data.readers import synthetic
from hscl.model.hscl import HSCL
from hscl.model.onnx import OnnxModel, export_onnx
from hscl.provenance import code_version
from hscl.training.evaluation import predict_split
from step import MAX_TEXT_LEN, widen_texts

THREADS = (1, 2)
# (batch size, samples per timed pass, interleaved rounds): each pass predicts the whole split once
CASES = ((1, 16, 10), (64, 128, 5))


def build(directory: Path) -> tuple[HSCL, dict[int, OnnxModel], AutoTokenizer, str]:
    """An untrained MiniLM HSCL saved in `directory`, its export in one session per thread count, the tokenizer
    and a line on the export (seconds, sizes)."""
    torch.manual_seed(0)
    path = resolve_text_model("all-MiniLM-L6-v2")
    tokenizer = AutoTokenizer.from_pretrained(path)
    HSCL(HSCLConfig(text_model=path, audio_dim=5, visual_dim=20)).save_pretrained(directory, tokenizer=tokenizer)
    started = time.perf_counter()
    export_onnx(directory, directory / "model.onnx")
    seconds = time.perf_counter() - started
    sizes = [(directory / name).stat().st_size / 1e6 for name in ("model.onnx", "model.safetensors")]
    export = f"Export took {seconds:.0f} s; model.onnx {sizes[0]:.0f} MB (weights {sizes[1]:.0f} MB)"
    sessions = {threads: OnnxModel.load(directory / "model.onnx", directory, threads) for threads in THREADS}
    return HSCL.from_pretrained(directory), sessions, tokenizer, export


def interleaved(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, Stats]:
    """Seconds per call of each of `calls`, one warm-up call each, then `rounds` rounds calling each in turn."""
    for call in calls.values():
        call()
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            seconds[name].append(time.perf_counter() - started)
    return {name: summarize(values) for name, values in seconds.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    hf_logging.disable_progress_bar()
    configure_threads(max(THREADS))
    print(machine_header("benchmarks/onnx_engine.py: torch eager against onnxruntime, HSCL on MiniLM (CPU)"))
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"code: {code_version()}; uptime at start: {uptime}\n")

    with tempfile.TemporaryDirectory() as directory:
        model, sessions, tokenizer, export = build(Path(directory))
    split = synthetic.read(seed=0, n_train=max(samples for _, samples, _ in CASES), n_valid=2, n_test=2)["train"]
    split.texts = widen_texts(split.texts, tokenizer, np.random.default_rng(0))  # MOSI-like 20-40 tokens
    rows, gaps = [], []
    for threads in THREADS:
        configure_threads(threads)
        onnx = sessions[threads]
        for batch_size, samples, rounds in CASES:
            encoded: EncodedSplit = encode_split(split.select(np.arange(samples)), tokenizer, MAX_TEXT_LEN)
            calls = {
                "torch": partial(predict_split, model, encoded, batch_size, torch.device("cpu")),
                "onnxruntime": partial(onnx.predict_split, encoded, batch_size),
            }
            stats = interleaved(calls, rounds)
            expected = predict_split(model, encoded, batch_size, torch.device("cpu"))
            gaps.append(float(np.abs(onnx.predict_split(encoded, batch_size) - expected).max()))
            batches = samples / batch_size
            torch_ms, ort_ms = (1e3 * stats[name].median / batches for name in ("torch", "onnxruntime"))
            torch_best, ort_best = (1e3 * stats[name].best / batches for name in ("torch", "onnxruntime"))
            rows.append(
                [
                    str(batch_size),
                    str(threads),
                    f"{torch_ms:.1f}",
                    f"{torch_best:.1f}",
                    f"{ort_ms:.1f}",
                    f"{ort_best:.1f}",
                    f"{torch_ms / ort_ms:.2f}x",
                    f"{torch_best / ort_best:.2f}x",
                ]
            )
    headers = [
        "batch",
        "threads",
        "torch ms/batch",
        "(min)",
        "onnxruntime ms/batch",
        "(min)",
        "speed-up",
        "(minima)",
    ]
    print(format_table(headers, rows))
    print(
        f"\nper case: one warm-up pass per engine, then interleaved rounds (batch 1: {CASES[0][2]} rounds of "
        f"{CASES[0][1]} samples; batch 64: {CASES[1][2]} rounds of {CASES[1][1]}); texts "
        f"{int(encoded.text_lengths.min())}-{int(encoded.text_lengths.max())} tokens, max_text_len {MAX_TEXT_LEN}. "
        f"{export}; largest |onnxruntime - torch| on these inputs {max(gaps):.1e}. Speed-up: torch's time over "
        "onnxruntime's (above 1: onnxruntime is faster)."
    )
    print(load_line())
    print(f"uptime at end: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
