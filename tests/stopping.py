"""An `hscl` command in a subprocess that stops itself (SIGSTOP) in the middle of its second epoch of training,
so that a test can kill or interrupt it exactly there, however slow or loaded the machine is.

The subprocess is the real command line (`hscl.cli.main`); the only change is that its first optimizer step of
epoch 2 ends with the process stopping itself: epoch 1 is recorded and checkpointed, epoch 2 is half done. The
test waits for that event (`wait_until_stopped`), with a deadline of minutes, never for a fixed time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

BOOTSTRAP = """
import os, signal, sys
from hscl.training.trainer import Trainer

step = Trainer._optimizer_step

def stop_in_epoch_2(self, epoch, number):
    step(self, epoch, number)
    if (epoch, number) == (2, 1):
        os.kill(os.getpid(), signal.SIGSTOP)  # the test kills or interrupts the command here

Trainer._optimizer_step = stop_in_epoch_2
# Ctrl-C as in a terminal, even when the test runs in a background job (which starts its children ignoring SIGINT)
signal.signal(signal.SIGINT, signal.default_int_handler)
from hscl.cli import main
sys.exit(main(sys.argv[1:]))
"""
DEADLINE = 600.0  # seconds: only a broken command, never a slow machine, takes this long to reach epoch 2


def start_stopping(arguments: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    """`hscl ARGUMENTS` in a subprocess that will stop itself at epoch 2, step 1 (stdout discarded, stderr kept)."""
    return subprocess.Popen(
        [sys.executable, "-c", BOOTSTRAP, *arguments], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def wait_until_stopped(process: subprocess.Popen, deadline: float = DEADLINE) -> None:
    """Return once `process` has stopped itself; fail (and kill it) if it exits first or the deadline passes."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        pid, status = os.waitpid(process.pid, os.WNOHANG | os.WUNTRACED)
        if pid and os.WIFSTOPPED(status):
            return
        if pid:  # it exited: hand the status to Popen, which could no longer collect it
            process.returncode = os.waitstatus_to_exitcode(status)
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise AssertionError(f"the command exited ({process.returncode}) before epoch 2: {stderr[-3000:]}")
        time.sleep(0.05)
    process.kill()
    process.communicate()
    raise AssertionError(f"the command did not reach epoch 2 within {deadline:.0f} s")


def interrupt(process: subprocess.Popen) -> None:
    """Ctrl-C for a stopped process: SIGINT, then let it run to handle it."""
    os.kill(process.pid, signal.SIGINT)
    os.kill(process.pid, signal.SIGCONT)
