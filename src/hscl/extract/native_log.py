"""Native libraries' start-up lines (MediaPipe, TensorFlow Lite, absl) kept off the terminal; real errors kept.

MediaPipe's C++ code logs to file descriptor 2 directly, past Python's `sys.stderr`, so no Python setting
silences it. `quiet_native_stderr` points descriptor 2 at a temporary file while a call runs, then writes
back every line that is not known noise, so an error the library prints still reaches the user (after the
call rather than during it).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

# Lines MediaPipe 0.10.14 prints on every start, whatever the input: none of them says anything went wrong.
NATIVE_NOISE: tuple[re.Pattern[str], ...] = (
    re.compile(r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$"),
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"),
    re.compile(
        r"^W\d{4} [\d:.]+ +\d+ inference_feedback_manager\.cc:\d+\] Feedback manager requires a model with a "
        r"single signature inference\. Disabling support for feedback tensors\.$"
    ),
)


@contextmanager
def quiet_native_stderr(noise: tuple[re.Pattern[str], ...] = NATIVE_NOISE) -> Iterator[None]:
    """Run the block with descriptor 2 captured; afterwards write back the lines that match no `noise` pattern."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as capture:
            os.dup2(capture.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                capture.seek(0)
                text = capture.read().decode("utf-8", errors="replace")
                kept = [line for line in text.splitlines(keepends=True) if not _is_noise(line, noise)]
                if kept:
                    os.write(2, "".join(kept).encode("utf-8"))
    finally:
        os.close(saved)


def _is_noise(line: str, noise: tuple[re.Pattern[str], ...]) -> bool:
    return any(pattern.search(line.rstrip("\r\n")) for pattern in noise)
