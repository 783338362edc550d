"""Writing output safely: every file the package writes goes through `open_atomic` (or `write_text`),
and every directory it replaces through `atomic_dir`, so a reader never sees a half-written file and an
interrupted write leaves the previous version in place. `check_output_file` / `check_output_folder` say
up front, as one `HSCLError` line, why a location cannot be written.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from hscl.errors import HSCLError

TMP_SUFFIX = ".tmp"  # a file or folder being written, renamed over its final name once complete


@contextmanager
def open_atomic(path: str | Path, binary: bool = False) -> Iterator[IO]:
    """A handle on a temporary file beside `path` (its folder created if need be), flushed to disk and renamed
    over `path` when the block ends without an exception (the temporary file is removed otherwise). A failure
    of the file system (a read-only or full disk, say) is one `HSCLError` naming `path`."""
    path = Path(path)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise HSCLError(f"{path}: cannot be written ({err.strerror or err})") from err
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with open_atomic(path) as handle:
        handle.write(text)


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """A new, empty folder beside `path` to write into; when the block ends without an exception it replaces
    `path` (the old one is removed only once the new one is in place), otherwise it is removed."""
    path = Path(path)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _swap_dir(tmp, path)


def _swap_dir(tmp: Path, final: Path) -> None:
    """Swap a fully written directory `tmp` in place of `final`, never leaving `final` half-written."""
    old = final.with_name(final.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)


def clear_dir(path: Path) -> None:
    """Remove everything inside the folder `path`, keeping the folder itself."""
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _check_can_create(path: Path) -> None:
    """An `HSCLError` unless the nearest existing folder above `path` is a folder this process may write."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise HSCLError(f"{path}: cannot be created, {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise HSCLError(f"{path}: cannot be written, {parent} is read-only")


def check_output_file(path: str | Path) -> Path:
    """`path` as a file this process can write (new, or one to replace); an `HSCLError` naming it otherwise."""
    path = Path(path)
    if path.is_dir():
        raise HSCLError(f"{path}: is a folder; give a file name to write")
    _check_can_create(path)
    return path


def check_output_folder(path: str | Path) -> Path:
    """`path` as a folder this process can write into (new or existing); an `HSCLError` naming it otherwise."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise HSCLError(f"{path}: is a file; give a folder to write into")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise HSCLError(f"{path}: cannot be written, the folder is read-only")
    else:
        _check_can_create(path)
    return path
