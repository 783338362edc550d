"""Benchmark hscl's SupCR loss against direct (2N)^3 implementations of the same formulas (CPU, float32).

Run: .venv/bin/python benchmarks/supcr.py        (a few minutes; prints a table to stdout)

Every (implementation, batch) case runs in its own fresh subprocess so that peak memory can be read
from the operating system: the child builds its inputs, does one small warm-up forward+backward
(autograd engine, kernels), reads its peak resident set size (getrusage ru_maxrss), runs the
measured forward+backward, and reports the growth of the peak. Children run with
MALLOC_MMAP_THRESHOLD_=65536 so that every tensor of 64 KiB or more is its own mapping, returned to
the system when freed: the resident set then follows the live tensors. The time is the median of
the measured run and up to four repeats. Threads default to 1 (the numbers stay comparable on a
shared machine); --threads changes that.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from hscl.losses import LossConfig, supcr_loss

BATCHES = (32, 128, 512, 2048)
VIEWS, DIM, TAU = 2, 128, 0.5
CUBIC_LIMIT_BYTES = 4 * 2**30
TOLERANCE = 1e-5
TIE_TOLERANCE = LossConfig().tie_tolerance  # training default, in every implementation


def cubic_paper(features: torch.Tensor, labels: torch.Tensor, tau: float) -> torch.Tensor:
    """The paper's formula with an explicit (M, M, M) mask: den[i,j] = lse_k {l_ik : k != i, d_ik >= d_ij - tol}."""
    m = features.shape[0] * features.shape[1]
    z = F.normalize(features.reshape(m, -1), dim=1)
    logits = z @ z.T / tau
    y = labels.repeat_interleave(features.shape[1])
    dist = (y[:, None] - y[None, :]).abs()
    eye = torch.eye(m, dtype=torch.bool)
    in_set = (dist[:, None, :] >= (dist - TIE_TOLERANCE)[:, :, None]) & ~eye[:, None, :]  # [i, j, k]
    log_den = logits[:, None, :].expand(m, m, m).masked_fill(~in_set, float("-inf")).logsumexp(dim=2)
    return -(logits - log_den)[~eye].mean()


def cubic_released(features: torch.Tensor, labels: torch.Tensor, tau: float) -> torch.Tensor:
    """The released code's arithmetic: den[i,j] = sum_k exp(l_jk) * [k != i, d_ik >= d_ij - tol], no max shift."""
    m = features.shape[0] * features.shape[1]
    z = F.normalize(features.reshape(m, -1), dim=1)
    exp_logits = torch.exp(z @ z.T / tau)
    y = labels.repeat_interleave(features.shape[1])
    dist = (y[:, None] - y[None, :]).abs()
    eye = torch.eye(m, dtype=torch.bool)
    in_set = (dist[:, None, :] >= (dist - TIE_TOLERANCE)[:, :, None]) & ~eye[:, None, :]  # [i, j, k]
    den = (exp_logits[None, :, :] * in_set).sum(dim=2)
    return -torch.log(exp_logits / den)[~eye].mean()


IMPLEMENTATIONS: dict[str, Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]] = {
    "ours paper": lambda f, y, t: supcr_loss(f, y, t, "paper", TIE_TOLERANCE),
    "cubic paper": cubic_paper,
    "ours released": lambda f, y, t: supcr_loss(f, y, t, "released", TIE_TOLERANCE),
    "cubic released": cubic_released,
}
PAIRS = (("ours paper", "cubic paper"), ("ours released", "cubic released"))


def make_inputs(batch: int, labels: str = "grid") -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded features (batch, 2, 128) and labels in [-3, 3]: on a 0.2 grid (many ties, as in the
    sentiment datasets) or, for "continuous", all distinct (the worst case for hscl's label bounds)."""
    gen = torch.Generator().manual_seed(batch)
    features = torch.randn(batch, VIEWS, DIM, generator=gen)
    if labels == "continuous":
        return features, torch.rand(batch, generator=gen) * 6 - 3
    return features, torch.randint(-15, 16, (batch,), generator=gen).float() / 5


def forward_backward(name: str, features: torch.Tensor, labels: torch.Tensor) -> float:
    leaf = features.clone().requires_grad_()
    loss = IMPLEMENTATIONS[name](leaf, labels, TAU)
    loss.backward()
    return loss.item()


def run_case(name: str, batch: int, label_kind: str) -> dict[str, float]:
    """Child process: peak-RSS growth and median time of one forward+backward."""
    forward_backward(name, *make_inputs(4))
    features, labels = make_inputs(batch, label_kind)
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    value = forward_backward(name, features, labels)
    times = [time.perf_counter() - start]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kib
    while len(times) < 5 and sum(times) < 4.0:
        start = time.perf_counter()
        forward_backward(name, features, labels)
        times.append(time.perf_counter() - start)
    return {"value": value, "seconds": statistics.median(times), "peak_mib": peak_kib / 1024}


def cubic_bytes(batch: int) -> int:
    """Size of one (M, M, M) float32 tensor for M = batch * views; the cubic forms hold several."""
    return (batch * VIEWS) ** 3 * 4


def measure(name: str, batch: int, threads: int, labels: str = "grid") -> dict[str, float]:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, __file__, "--case", name, str(batch), labels, "--threads", str(threads)]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def header(threads: int) -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    return "\n".join(
        [
            "SupCR loss: forward+backward on CPU, float32, 2 views, dim 128, temperature 0.5, labels on a 0.2 grid,",
            f"label distances compared with tie_tolerance {TIE_TOLERANCE:g} (the training default).",
            f"torch {torch.__version__}, {threads} thread(s), {cpu}, python {platform.python_version()},"
            f" load average at start {os.getloadavg()[0]:.2f}",
            "Method: each case runs in a fresh subprocess; peak = growth of the process's peak resident set size",
            "(getrusage ru_maxrss) over one forward+backward, after a small warm-up, with MALLOC_MMAP_THRESHOLD_=65536",
            "so freed tensors leave the resident set; time = median of up to 5 runs of forward+backward.",
            "ours = hscl.losses.supcr_loss; cubic = the formula written directly with (2N)^3 tensors (in this file).",
            "ratio = cubic / ours (time, peak memory); |diff| = |loss_ours - loss_cubic| / |loss_cubic|.",
            f"Cubic forms are skipped when one (2N)^3 float32 tensor would reach {CUBIC_LIMIT_BYTES / 2**30:.0f} GiB.",
        ]
    )


def main(threads: int) -> None:
    print(header(threads))
    print()
    print(
        f"{'batch':>6} {'views':>6}  {'implementation':<15} {'seconds':>9} {'peak MiB':>9} {'loss':>11}"
        f"  {'time x':>7} {'mem x':>7} {'|diff|':>8}"
    )
    summary = []
    for batch in BATCHES:
        for ours_name, cubic_name in PAIRS:
            ours = measure(ours_name, batch, threads)
            print(
                f"{batch:>6} {batch * VIEWS:>6}  {ours_name:<15} {ours['seconds']:>9.4f} {ours['peak_mib']:>9.1f}"
                f" {ours['value']:>11.6f}",
                flush=True,
            )
            if cubic_bytes(batch) >= CUBIC_LIMIT_BYTES:
                print(
                    f"{'':>14}{cubic_name:<15} skipped: one (2N)^3 float32 tensor = "
                    f"{cubic_bytes(batch) / 2**30:.1f} GiB",
                    flush=True,
                )
                continue
            cubic = measure(cubic_name, batch, threads)
            time_ratio = cubic["seconds"] / ours["seconds"]
            mem_ratio = cubic["peak_mib"] / max(ours["peak_mib"], 1 / 1024)
            diff = abs(ours["value"] - cubic["value"]) / abs(cubic["value"])
            verdict = "ok" if diff <= TOLERANCE else "MISMATCH"
            print(
                f"{'':>14}{cubic_name:<15} {cubic['seconds']:>9.4f} {cubic['peak_mib']:>9.1f} {cubic['value']:>11.6f}"
                f"  {time_ratio:>6.1f}x {mem_ratio:>6.1f}x {diff:>8.1e} {verdict}",
                flush=True,
            )
            summary.append((batch, cubic_name, time_ratio, mem_ratio, verdict))
    print()
    print("Worst case for ours: every label distinct (continuous labels), batch 2048.")
    for name, _ in PAIRS:
        result = measure(name, 2048, threads, labels="continuous")
        print(
            f"{2048:>6} {2048 * VIEWS:>6}  {name:<15} {result['seconds']:>9.4f} {result['peak_mib']:>9.1f}"
            f" {result['value']:>11.6f}",
            flush=True,
        )
    print()
    print("Target: at batch 128, ours at least 20x faster and with 50x less peak memory than the paper formula's")
    print("cubic form, values equal to 1e-5. (The released cubic form keeps fewer (2N)^3 tensors alive; shown too.)")
    for batch, name, time_ratio, mem_ratio, verdict in summary:
        if batch == 128:
            met = time_ratio >= 20 and mem_ratio >= 50 and verdict == "ok"
            print(
                f"  {name}: {time_ratio:.1f}x time, {mem_ratio:.1f}x memory, values {verdict}:"
                f" {'met' if met else 'not met'}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--case", nargs=3, metavar=("IMPLEMENTATION", "BATCH", "LABELS"), help="internal: one case")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.case:
        print(json.dumps(run_case(args.case[0], int(args.case[1]), args.case[2])))
    else:
        main(args.threads)
