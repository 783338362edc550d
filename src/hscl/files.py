"""Writing output safely: every file the package writes goes through `open_atomic` (or `write_text`),
and every directory it replaces through `atomic_dir`, so a reader never sees a half-written file and an
interrupted write leaves the previous version in place.

This module is also the one owner of output checks, run before any work: `check_output_file` /
`check_output_folder` say, as one `HSCLError` line, why a location cannot be written (a file where a
folder is needed or the reverse, a read-only folder, a symbolic link that leads nowhere), and enforce
the one rule every writer follows: **an output is never an input of its command**. An output file may
not be one of the command's inputs nor lie inside an input folder; an output folder may not be an
input, lie inside an input folder, or hold an input. A command lists what it reads (files, dataset
folders, the records of a run) as `inputs`.

`FolderLock` keeps two processes from writing one folder (a run directory) at once.
"""

from __future__ import annotations

import csv
import errno
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from hscl.errors import HSCLError

TMP_SUFFIX = ".tmp"  # a file or folder being written, renamed over its final name once complete
LOCK_FILE = ".hscl-lock"  # inside a folder being written by one process (`FolderLock`); ignored by readers

PathLike = str | Path


@contextmanager
def open_atomic(path: PathLike, binary: bool = False) -> Iterator[IO]:
    """A handle on a temporary file beside `path` (its folder created if need be), flushed to disk and renamed
    over `path` when the block ends without an exception (the temporary file is removed otherwise). A failure
    of the file system (a read-only or full disk, a file where a folder should be) is one `HSCLError` naming
    `path`."""
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
        with suppress(OSError):  # the clean-up must not hide the error (the folder may not even exist)
            tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise HSCLError(f"{path}: cannot be written, {_why_not(path, err)}") from err
        raise


def write_csv(path: PathLike | None, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A CSV file written atomically at `path` (already checked with `check_output_file`), or to standard
    output when `path` is None."""
    if path is None:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        sys.stdout.flush()
        return
    with open_atomic(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _why_not(path: Path, err: OSError) -> str:
    """Why writing `path` failed, in words: a file where a folder should be, or the system's reason."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is a file, not a folder"
    return str(err.strerror or err)


def write_text(path: PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with open_atomic(path) as handle:
        handle.write(text)


@contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
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


def clear_dir(path: Path, keep: Iterable[str] = ()) -> None:
    """Remove everything inside the folder `path` but the entries named in `keep` and a `FolderLock`'s file,
    keeping the folder itself."""
    kept = {LOCK_FILE, *keep}
    for entry in path.iterdir():
        if entry.name in kept:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def entries(path: Path) -> list[Path]:
    """The entries of the folder `path`, less a `FolderLock`'s file."""
    return [entry for entry in path.iterdir() if entry.name != LOCK_FILE]


# --- what is at a path --------------------------------------------------------------------------------------


def file_problem(path: PathLike, what: str = "file") -> str | None:
    """Why `path` cannot be read as a regular file ('no such file', 'is a folder, not a file', ...); None if it can.
    `what` names the file in the message ('config file', say)."""
    path = Path(path)
    if path.is_file():
        return None
    if path.is_dir():
        return f"is a folder, not a {what}"
    if path.is_symlink():
        return f"is a symbolic link that leads nowhere ({_link_problem(path)}), not a {what}"
    if path.exists():
        return f"is not a regular {what} (a device, socket or pipe)"
    return f"no such {what}"


def folder_problem(path: PathLike, what: str = "folder") -> str | None:
    """Why `path` cannot be read as a folder ('no such folder', 'is a file, not a folder', ...); None if it can."""
    path = Path(path)
    if path.is_dir():
        return None
    if path.is_symlink() and not path.exists():
        return f"is a symbolic link that leads nowhere ({_link_problem(path)}), not a {what}"
    if path.exists():
        return f"is a file, not a {what}"
    return f"no such {what}"


def _link_problem(link: Path) -> str:
    try:
        os.stat(link)
    except OSError as err:
        return "a loop of links" if err.errno == errno.ELOOP else "its target is missing"
    return "its target is missing"


def _check_links(path: Path) -> None:
    """An `HSCLError` if `path` or a folder above it is a symbolic link that leads nowhere (a loop, a lost target):
    nothing could be created there, and the error would otherwise surface only when writing."""
    for part in (path, *path.parents):
        if part.is_symlink() and not part.exists():
            where = "" if part == path else f"cannot be written, {part} "
            raise HSCLError(f"{path}: {where}is a symbolic link that leads nowhere ({_link_problem(part)})")


def _resolved(path: Path) -> Path:
    """`path` made absolute with its symbolic links followed (as far as they lead)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a loop: Python 3.11 raises RuntimeError, later ones OSError
        return Path(os.path.abspath(path))


# --- output checks ---------------------------------------------------------------------------------------------


def _check_can_create(path: Path) -> None:
    """An `HSCLError` unless the nearest existing folder above `path` is a folder this process may write."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise HSCLError(f"{path}: cannot be created, {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise HSCLError(f"{path}: cannot be written, {parent} is read-only")


def check_output_file(path: PathLike, inputs: Iterable[PathLike | None] = ()) -> Path:
    """`path` as a file this process can write (new, or one to replace) that is none of `inputs` and lies in none
    of the input folders; an `HSCLError` naming it otherwise."""
    path = Path(path)
    _check_links(path)
    if path.is_dir():
        raise HSCLError(f"{path}: is a folder; give a file name to write")
    if path.exists() and not path.is_file():
        raise HSCLError(f"{path}: is not a regular file (a device, socket or pipe); give a file name to write")
    _check_can_create(path)
    check_not_input(path, inputs)
    return path


def check_output_folder(path: PathLike, inputs: Iterable[PathLike | None] = ()) -> Path:
    """`path` as a folder this process can write into (new or existing) that is none of `inputs`, lies in no
    input folder and holds no input; an `HSCLError` naming it otherwise."""
    path = Path(path)
    _check_links(path)
    if path.exists() and not path.is_dir():
        raise HSCLError(f"{path}: is a file; give a folder to write into")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise HSCLError(f"{path}: cannot be written, the folder is read-only")
    else:
        _check_can_create(path)
    check_not_input(path, inputs, folder=True)
    return path


def check_not_input(path: PathLike, inputs: Iterable[PathLike | None], folder: bool = False) -> None:
    """The one rule: an output (`folder`: an output folder) never replaces, nor writes into, nor holds what the
    command reads. An `HSCLError` naming the output and the input otherwise."""
    path = Path(path)
    out = _resolved(path)
    for given in inputs:
        if given is None:
            continue
        source = _resolved(Path(given))
        if out == source or _same_file(path, Path(given)):
            raise HSCLError(f"{path}: is {given}, an input of this command; writing it would destroy it")
        if source in out.parents and not Path(given).is_file():  # a folder (or one still to be made)
            raise HSCLError(f"{path}: lies inside {given}, which this command reads; write outside it")
        if folder and out in source.parents:
            raise HSCLError(f"{path}: holds {given}, which this command reads; choose a folder that does not")


def _same_file(first: Path, second: Path) -> bool:
    """Whether two existing paths are one file (hard links included)."""
    try:
        return first.exists() and second.exists() and os.path.samefile(first, second)
    except OSError:
        return False


# --- one writer per folder -----------------------------------------------------------------------------------


class FolderLock:
    """An exclusive lock on a folder, held by one process while it writes there: `flock` on `LOCK_FILE` inside it.

    The kernel releases the lock when the holder exits, however it ends (killed included), so a stale lock file
    is never an obstacle. A second writer is refused at once with an `HSCLError` naming the folder and the
    process that holds it. On systems without `fcntl` (Windows) or file systems without locks it does nothing.
    """

    def __init__(self, folder: PathLike) -> None:
        self.folder = Path(folder)
        self.file = self.folder / LOCK_FILE
        self._handle: IO | None = None
        self._created = False

    def acquire(self) -> FolderLock:
        """Take the lock (creating the folder if need be); an `HSCLError` if another process holds it."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        if not self.folder.exists():
            self.folder.mkdir(parents=True)
            self._created = True
        while True:
            handle = self.file.open("a+", encoding="utf-8")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                self._remove_folder_if_new()
                raise HSCLError(
                    f"{self.folder}: in use by another hscl process ({holder}); wait for it to end, or write elsewhere"
                ) from None
            except OSError:  # this file system has no locks
                handle.close()
                return self
            try:
                same = os.fstat(handle.fileno()).st_ino == os.stat(self.file).st_ino
            except FileNotFoundError:
                same = False
            if same:  # not a file its previous holder removed between our open and our lock
                break
            handle.close()
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        """Let the lock go and remove its file (and the folder, if `acquire` created it and it is still empty)."""
        if self._handle is None:
            return
        with suppress(OSError):
            self.file.unlink()
        self._handle.close()
        self._handle = None
        self._remove_folder_if_new()

    def _remove_folder_if_new(self) -> None:
        if self._created:
            with suppress(OSError):
                self.folder.rmdir()  # only if empty
            self._created = False

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
