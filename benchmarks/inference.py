"""Prediction latency and throughput on the CPU, through `hscl.training.inference.Predictor`.

An untrained MiniLM HSCL model (audio 5-d, visual 20-d) is saved with `save_pretrained` into a
temporary directory and loaded back the way a trained run is; the `Predictor` is then built from it
directly. Measured:

* single-utterance latency: `Predictor.predict` on one sample (raw text plus (length, dim) arrays),
  median and p90 over 50 calls, and the model's forward alone on that sample for comparison;
* batch throughput: `Predictor.predict_split` over a few hundred samples with batch 64, and the
  model's forward alone over the same batches.

    nice .venv/bin/python benchmarks/inference.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer
from transformers.utils import logging as hf_logging

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import Stats, configure_threads, format_table, load_line, machine_header, summarize
from hscl.config import HSCLConfig
from hscl.data.batching import EncodedSplit, encode_split, iter_batches
from hscl.data.types import SplitData
from hscl.model.hscl import HSCL, load_tokenizer
from hscl.training.inference import Predictor
from step import MAX_TEXT_LEN, benchmark_split, minilm_path

BATCH_SIZE = 64
N_BATCH_SAMPLES = 320
LATENCY_CALLS = 50
WARMUP_CALLS = 5
THROUGHPUT_REPS = 3


def build_predictor(directory: Path) -> Predictor:
    """Save an untrained MiniLM HSCL (with its tokenizer) to `directory`, load it back, wrap it."""
    torch.manual_seed(0)
    path = minilm_path()
    HSCL(HSCLConfig(text_model=path, audio_dim=5, visual_dim=20)).save_pretrained(
        directory, tokenizer=AutoTokenizer.from_pretrained(path)
    )
    model = HSCL.from_pretrained(directory)
    return Predictor(model, load_tokenizer(directory), MAX_TEXT_LEN, BATCH_SIZE, torch.device("cpu"))


def raw_sample(split: SplitData, row: int) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """Row `row` as `Predictor.predict` takes it: one text and unpadded (length, dim) arrays."""
    audio = split.audio.features[row, : int(split.audio.lengths[row])]
    visual = split.visual.features[row, : int(split.visual.lengths[row])]
    return [split.texts[row]], [audio], [visual]


def repeat_timing(call: Callable[[], object], reps: int, warmup: int) -> Stats:
    """Seconds per call of `call`, after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    seconds = []
    for _ in range(reps):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return summarize(seconds)


def forward_only(model: HSCL, encoded: EncodedSplit, batch_size: int) -> None:
    """The model's forward over every batch of an already encoded split (eval mode, no autograd)."""
    with torch.inference_mode():
        for batch in iter_batches(encoded, batch_size):
            model(batch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    args = parser.parse_args(argv)
    hf_logging.disable_progress_bar()
    threads = configure_threads(args.threads)
    print(machine_header("benchmarks/inference.py: HSCL prediction on the CPU (MiniLM, untrained weights)"))
    print(f"torch.set_num_threads({args.threads}) -> {threads} threads\n")

    with tempfile.TemporaryDirectory() as directory:
        predictor = build_predictor(Path(directory))
    split = benchmark_split(predictor.tokenizer, N_BATCH_SAMPLES)
    texts, audio, visual = raw_sample(split, 0)
    one = split.select(np.array([0]))
    one_encoded = encode_split(one, predictor.tokenizer, MAX_TEXT_LEN)
    all_encoded = encode_split(split, predictor.tokenizer, MAX_TEXT_LEN)

    single = repeat_timing(lambda: predictor.predict(texts, audio, visual), LATENCY_CALLS, WARMUP_CALLS)
    single_forward = repeat_timing(lambda: forward_only(predictor.model, one_encoded, 1), LATENCY_CALLS, WARMUP_CALLS)
    batched = repeat_timing(lambda: predictor.predict_split(split), THROUGHPUT_REPS, 1)
    batched_forward = repeat_timing(lambda: forward_only(predictor.model, all_encoded, BATCH_SIZE), THROUGHPUT_REPS, 1)

    def row(case: str, stats: Stats, samples: int) -> list[str]:
        return [
            case,
            f"{1e3 * stats.median:.1f}",
            f"{1e3 * stats.p90:.1f}",
            f"{1e3 * stats.best:.1f}",
            f"{samples / stats.median:.1f}",
            f"{samples / stats.best:.1f}",
        ]

    rows = [
        row("single utterance: Predictor.predict", single, 1),
        row("single utterance: model forward only", single_forward, 1),
        row(f"{N_BATCH_SAMPLES} samples, batch {BATCH_SIZE}: Predictor.predict_split", batched, N_BATCH_SAMPLES),
        row(f"{N_BATCH_SAMPLES} samples, batch {BATCH_SIZE}: model forward only", batched_forward, N_BATCH_SAMPLES),
    ]
    print(format_table(["case", "median ms", "p90 ms", "min ms", "samples/s (median)", "samples/s (best)"], rows))
    overhead = single.median - single_forward.median
    print(
        f"\nsingle utterance: {len(one_encoded.input_ids[0])} text tokens, {len(audio[0])} audio and "
        f"{len(visual[0])} visual frames; {LATENCY_CALLS} calls after {WARMUP_CALLS} warm-up. Outside the "
        f"forward (tokenise, pad, encode, batch): {1e3 * overhead:.1f} ms of {1e3 * single.median:.1f} ms "
        f"({overhead / single.median:.0%})."
    )
    print(
        f"batches: {N_BATCH_SAMPLES} samples (texts {int(all_encoded.text_lengths.min())}-"
        f"{int(all_encoded.text_lengths.max())} tokens), {THROUGHPUT_REPS} passes after 1 warm-up pass; "
        "predict_split includes tokenising the whole split once."
    )
    print(load_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
