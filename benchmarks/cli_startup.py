"""Start-up time of light `hscl` commands next to a bare Python start, measured side by side.

Each round runs every command once, in turn, as a fresh process (so a noisy neighbour slows all of
them alike); the table gives the median and minimum wall time over the rounds and each median as a
multiple of `python -c pass`. Run: `nice .venv/bin/python benchmarks/cli_startup.py [--rounds N]`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import format_table, load_line, machine_header

COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "hscl --help": [sys.executable, "-m", "hscl.cli", "--help"],
    "hscl presets": [sys.executable, "-m", "hscl.cli", "presets"],
    "hscl config show --preset demo": [sys.executable, "-m", "hscl.cli", "config", "show", "--preset", "demo"],
    "hscl train --help": [sys.executable, "-m", "hscl.cli", "train", "--help"],
    "import torch (for scale)": [sys.executable, "-c", "import torch"],
}


def main() -> None:
    """Time every command over several interleaved rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(machine_header("hscl command start-up"))
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.rounds + 1):  # the first round warms the file cache and is dropped
        for name, command in COMMANDS.items():
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - started)
    base = statistics.median(times["python -c pass"][1:])
    rows = []
    for name, seconds in times.items():
        counted = seconds[1:]
        median = statistics.median(counted)
        rows.append([name, f"{median * 1000:.0f}", f"{min(counted) * 1000:.0f}", f"{median / base:.1f}x"])
    print(format_table(["command", "median ms", "min ms", "median / python -c pass"], rows))
    print(f"rounds: {args.rounds} (+1 warm-up)")
    print(load_line())


if __name__ == "__main__":
    main()
