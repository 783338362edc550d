"""MediaPipe's and TensorFlow Lite's native start-up lines are kept off stderr; every other line written to file
descriptor 2, natively or from Python, still reaches it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hscl.extract.native_log import NATIVE_NOISE

NOISE_LINES = [
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "W0000 00:00:1796215993.333046   17190 inference_feedback_manager.cc:114] Feedback manager requires a model "
    "with a single signature inference. Disabling support for feedback tensors.",
]
# Written by libc's write(2), as C++ code does, inside the quiet block; then one line outside it.
NATIVE = """
import ctypes, sys
from hscl.extract.native_log import quiet_native_stderr

libc = ctypes.CDLL(None)

def native(text):
    data = text.encode()
    assert libc.write(2, data, len(data)) == len(data)

with quiet_native_stderr():
    for line in sys.argv[1:]:
        native(line + "\\n")
    native("E0000 face_landmarker.cc:42] model file is corrupt\\n")
    print("from python", file=sys.stderr)
native("after the block\\n")
"""


def test_native_noise_is_dropped_and_real_errors_are_kept():
    done = subprocess.run([sys.executable, "-c", NATIVE, *NOISE_LINES], capture_output=True, text=True, check=True)
    assert done.stderr.splitlines() == [
        "E0000 face_landmarker.cc:42] model file is corrupt",
        "from python",
        "after the block",
    ]


def test_an_exception_in_the_block_restores_stderr_and_keeps_its_lines():
    code = NATIVE.replace('native("after the block\\\\n")', "") + (
        "try:\n"
        "    with quiet_native_stderr():\n"
        "        native('E0001 graph failed\\n')\n"
        "        raise RuntimeError('boom')\n"
        "except RuntimeError:\n"
        "    native('stderr is back\\n')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.splitlines()[-2:] == ["E0001 graph failed", "stderr is back"]


def test_each_noise_pattern_matches_its_line_and_nothing_else():
    for pattern, line in zip(NATIVE_NOISE, NOISE_LINES):
        assert pattern.search(line)
        assert not pattern.search("E0000 " + line) and not pattern.search(line.replace("INFO", "ERROR", 1) + " failed")


@pytest.mark.slow
def test_extracting_a_clip_prints_no_native_noise(tmp_path):
    pytest.importorskip("mediapipe", reason="the [extract] extra is not installed")
    pytest.importorskip("skimage", reason="scikit-image makes the test video")
    tests = Path(__file__).resolve().parent
    code = (
        "import sys\nfrom pathlib import Path\n"
        f"sys.path.insert(0, {str(tests)!r})\n"
        "from media_fixtures import write_clip\n"
        "from hscl.extract.inputs import Utterance\n"
        "from hscl.extract.media import extract_file\n"
        "from hscl.extract.settings import ExtractSettings\n"
        f"clip = write_clip(Path({str(tmp_path / 'clip.mp4')!r}), seconds=0.5, size=128)\n"
        "features = extract_file(clip, [Utterance('clip', 0.0, None)], ExtractSettings())\n"
        "print(features.utterances['clip'].visual.shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "(5, 20)" and done.stderr == ""
