"""Where a result came from: the machine that computed it and the version of hscl's code that did."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import hscl


def machine_description() -> str:
    """CPU model, core count, GPU, Python and torch versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores, {device}; Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )


def code_version() -> str:
    """The git commit of the checkout hscl runs from (with '+changes' when the package's tracked files differ from
    the commit: results pages and pictures a command is writing are not code), or the package version when hscl is
    not run from a git checkout."""
    here = Path(__file__).parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no", "--", "."],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"hscl {hscl.__version__} (not a git checkout)"
    return commit + ("+changes" if dirty else "")
