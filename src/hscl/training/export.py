"""`hscl export`: a finished run's selected model in another form (ONNX), checked before any work."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from hscl.files import FolderLock, check_output_file
from hscl.model.hscl import MODEL_CONFIG_FILE, TEXT_CONFIG_DIR, TOKENIZER_DIR, WEIGHTS_FILE
from hscl.model.onnx import ONNX_FILE, export_onnx, require_extra
from hscl.training.run_records import MODEL_DIR, RunDir


def onnx_path(run_dir: str | Path) -> Path:
    """Where a run's ONNX export lives, the file `--engine onnx` reads: inside its model folder (replaced, and so
    dropped, whenever the run selects another model)."""
    return RunDir(run_dir).model_dir / ONNX_FILE


def export_run_onnx(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Export the selected model of `run_dir` as ONNX to `out` (default: `onnx_path(run_dir)`); returns the path.

    The run, its model, the extra and the output (never one of the run's records or model files) are checked
    first; the run folder is locked while its own model folder is written."""
    run = RunDir(run_dir)
    run.require_folder()
    model_dir = run.require_model()
    require_extra()
    model_files = [model_dir / name for name in (MODEL_CONFIG_FILE, TEXT_CONFIG_DIR, WEIGHTS_FILE, TOKENIZER_DIR)]
    records = [path for path in run.records() if path.name != MODEL_DIR]
    target = check_output_file(onnx_path(run_dir) if out is None else out, [*records, *model_files])
    # inside the run, no training may swap its model folder meanwhile
    inside_run = run.path.resolve() in target.resolve().parents
    with FolderLock(run.path) if inside_run else nullcontext():
        export_onnx(model_dir, target)
    return target
