"""Small timing helpers shared by the benchmark scripts in this folder.

Use from a script in `benchmarks/` with `from _timing import ...` (each script puts its own folder
on `sys.path`). The pieces:

* `configure_threads(n)`: pin torch's intra-op threads (benchmarks share a small machine) and
  return the count actually in effect, to print.
* `machine_header(title)`: the header every `*.txt` output starts with (CPU model, cores, torch
  version, threads, date, command line, load average); `load_line()` repeats the load at the end.
* `StageTimer`: wall-clock seconds per named stage and per step, either around a block
  (`with timer.stage("loss"): ...`) or around every call of a submodule (`timer.hook_modules`).
  Pass `sync=torch.cuda.synchronize` on a GPU so each reading waits for queued kernels.
* `Stats` / `summarize(seconds)`: median, p90, mean and minimum of repeated measurements. On a
  shared machine the minimum is the run least disturbed by other processes; report it next to
  the median rather than instead of it.
* `format_table(headers, rows)`: a plain aligned text table.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle


def configure_threads(n: int) -> int:
    """Set torch's intra-op thread count to `n`; return the count torch reports afterwards."""
    torch.set_num_threads(n)
    return torch.get_num_threads()


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or platform's best guess elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_line() -> str:
    """The 1/5/15-minute load averages: above the core count, other processes compete for the CPUs."""
    if not hasattr(os, "getloadavg"):
        return "load average: unknown"
    one, five, fifteen = os.getloadavg()
    line = f"load average: {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min; {os.cpu_count()} logical cores)"
    if one > (os.cpu_count() or 1):
        line += "; WARNING: more runnable processes than cores, timings are inflated (compare minima)"
    return line


def machine_header(title: str) -> str:
    """A few lines naming the benchmark, the machine, the software, the date and the current load."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            title,
            f"machine: {cpu_model()}, {os.cpu_count()} logical cores ({usable} usable); GPU: {gpu}",
            f"software: python {platform.python_version()}, torch {torch.__version__}, "
            f"torch threads {torch.get_num_threads()}",
            f"date: {now}",
            f"command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}",
            load_line(),
        ]
    )


@dataclass
class Stats:
    """Summary of repeated measurements (seconds)."""

    median: float
    p90: float
    mean: float
    best: float  # the minimum
    n: int


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between order statistics."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(seconds: Sequence[float]) -> Stats:
    """Median, 90th percentile, mean and minimum of `seconds`."""
    return Stats(
        statistics.median(seconds), percentile(seconds, 90), statistics.fmean(seconds), min(seconds), len(seconds)
    )


class StageTimer:
    """Wall-clock time per named stage, one dict per step.

    Call `new_step()` before each step; `stage(name)` blocks and hooked module calls add their
    elapsed time to `steps[-1][name]` (several blocks or modules may share a name: they add up).
    Nested stages are allowed; each is timed on its own, so a parent includes its children.
    """

    def __init__(self, sync: Callable[[], None] | None = None) -> None:
        self.sync = sync
        self.steps: list[dict[str, float]] = []
        self._starts: dict[int, float] = {}

    def _now(self) -> float:
        if self.sync is not None:
            self.sync()
        return time.perf_counter()

    def new_step(self) -> None:
        """Start recording a new step."""
        self.steps.append({})

    def add(self, name: str, seconds: float) -> None:
        """Add `seconds` to stage `name` of the current step."""
        step = self.steps[-1]
        step[name] = step.get(name, 0.0) + seconds

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the enclosed block as stage `name`."""
        start = self._now()
        try:
            yield
        finally:
            self.add(name, self._now() - start)

    def hook_modules(self, modules: Mapping[str, nn.Module]) -> list[RemovableHandle]:
        """Time every forward call of each module under its name; returns the hook handles.

        Remove the handles (`handle.remove()`) to stop timing. Backward passes are not timed.
        """
        handles = []
        for name, module in modules.items():
            handles.append(module.register_forward_pre_hook(self._pre_hook))
            handles.append(module.register_forward_hook(self._make_post_hook(name)))
        return handles

    def _pre_hook(self, module: nn.Module, args: object) -> None:
        self._starts[id(module)] = self._now()

    def _make_post_hook(self, name: str) -> Callable[[nn.Module, object, object], None]:
        def post_hook(module: nn.Module, args: object, output: object) -> None:
            self.add(name, self._now() - self._starts.pop(id(module)))

        return post_hook

    def stage_stats(self, name: str) -> Stats:
        """Summary of stage `name` over the recorded steps (0 where a step lacks it)."""
        return summarize([step.get(name, 0.0) for step in self.steps])


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An aligned plain-text table; numbers right-aligned, text left-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in cells[1:]) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(row) for row in cells[1:]])


def _is_number(text: str) -> bool:
    try:
        float(text.rstrip("%x"))
    except ValueError:
        return text in ("", "-", "n/a")
    return True
