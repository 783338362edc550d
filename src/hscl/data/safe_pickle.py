"""A restricted unpickler for the public MSA pickles: numpy arrays, builtin containers and scalars.

`pickle.load` runs whatever callables a file names, so a downloaded dataset could run commands.
`load_pickle` resolves only the globals that numpy arrays, numpy scalars and builtin containers
need; any other global is refused before anything is called. Object arrays are safe too: numpy
pickles their elements through the same unpickler.

Size is bounded as well as code. `bytes` and `bytearray` take only data, never a size (`bytes(2**40)`
is a 20-byte pickle). Memo references let a 1 KB pickle describe a list tree with 2^40 leaves that is
small in memory but that any conversion (`np.asarray`, printing) expands; `load_pickle` counts
what the object graph expands to and refuses more than `MAX_EXPANDED_ELEMENTS` elements, nesting
deeper than `MAX_NESTING` and reference cycles, before any reader sees the object.
"""

from __future__ import annotations

import codecs
import collections
import importlib
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from hscl.errors import DataError

# The public releases expand to about 2.5 million elements at most (MMIM MOSEI: ~23k samples of about
# 110 words, arrays and numbers each; MulT and MMSA hold a few arrays per split) and nest at most 5 deep.
MAX_EXPANDED_ELEMENTS = 50_000_000
MAX_NESTING = 32


def _numpy_attr(module: str, name: str) -> Any:
    """`numpy._core.<module>.<name>` (numpy 2), else `numpy.core.<module>.<name>` (numpy 1)."""
    try:
        return getattr(importlib.import_module(f"numpy._core.{module}"), name)
    except ImportError:
        return getattr(importlib.import_module(f"numpy.core.{module}"), name)


class _SizeRefused(Exception):
    """Raised inside the unpickler for a call that would allocate memory the file does not hold."""


def _data_only(kind: type) -> Any:
    """`kind` (bytes or bytearray) called on data only: an integer argument would allocate that many bytes."""

    def build(*args: Any) -> Any:
        if args and isinstance(args[0], int):
            raise _SizeRefused(
                f"refused {kind.__name__}({args[0]}): a size, not data (would allocate {args[0]:,} bytes)"
            )
        return kind(*args)

    return build


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """Every (module, name) a pickle may name, mapped to the object it resolves to.

    Both numpy spellings (`numpy.core` from numpy 1, `numpy._core` from numpy 2) and both builtin
    spellings (`builtins`, and `__builtin__` written by protocols 0-2) are listed explicitly.
    """
    numpy_functions = {
        ("multiarray", "_reconstruct"): _numpy_attr("multiarray", "_reconstruct"),
        ("multiarray", "scalar"): _numpy_attr("multiarray", "scalar"),
        ("numeric", "_frombuffer"): _numpy_attr("numeric", "_frombuffer"),
    }
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,  # bytes under protocols 0-2
        ("collections", "OrderedDict"): collections.OrderedDict,
    }
    for (module, name), value in numpy_functions.items():
        allowed[(f"numpy.core.{module}", name)] = value
        allowed[(f"numpy._core.{module}", name)] = value
    constructors = {builtin.__name__: builtin for builtin in (set, frozenset, slice, complex)}
    constructors.update(bytes=_data_only(bytes), bytearray=_data_only(bytearray))
    for name, constructor in constructors.items():
        allowed[("builtins", name)] = constructor
        allowed[("__builtin__", name)] = constructor
    return allowed


_ALLOWED = _allowed_globals()


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in `_ALLOWED`; any other raises `DataError`."""

    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DataError(
                self._path,
                f"refused to unpickle forbidden global {module}.{name}: only numpy arrays, numpy "
                "scalars and builtin containers are allowed (the file may be hostile or not a dataset)",
            ) from None


def load_pickle(path: str | Path) -> Any:
    """The object stored in the pickle at `path`, unpickled with only safe globals allowed.

    Raises `DataError` for a missing file, a forbidden global, a truncated or corrupt pickle, or an
    object graph past the size bounds (see the module docstring).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such file" if not path.exists() else "expected a pickle file, found a directory")
    try:
        with path.open("rb") as handle:
            loaded = _RestrictedUnpickler(handle, path).load()
    except DataError:
        raise
    except _SizeRefused as exc:
        raise DataError(path, f"{exc}; not a dataset") from None
    except Exception as exc:  # any failure to decode means the file is truncated or not a pickle
        raise DataError(path, f"not a readable pickle (truncated or corrupt): {type(exc).__name__}: {exc}") from exc
    _ExpansionCheck(path).size(loaded, 0)
    return loaded


_LEAVES = (str, bytes, int, float, complex, bool, type(None), np.generic)


class _ExpansionCheck:
    """Counts the elements an object graph expands to, each shared object once per reference to it."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._sizes: dict[int, int] = {}  # id -> expanded size of containers already counted
        self._open: set[int] = set()  # ids of the containers being counted (a repeat is a cycle)

    def size(self, obj: Any, depth: int) -> int:
        """1 for a leaf or a non-object array; 1 + the children's sizes for a container or object array."""
        if isinstance(obj, _LEAVES) or (isinstance(obj, np.ndarray) and obj.dtype != object):
            return 1
        key = id(obj)
        if key in self._sizes:
            return self._sizes[key]
        if depth >= MAX_NESTING:
            raise DataError(self._path, f"containers nested deeper than {MAX_NESTING} levels; not a dataset")
        if key in self._open:
            raise DataError(self._path, "a container holds itself (a reference cycle); not a dataset")
        self._open.add(key)
        total = 1 + sum(self.size(child, depth + 1) for child in _children(obj))
        self._open.discard(key)
        if total > MAX_EXPANDED_ELEMENTS:
            raise DataError(
                self._path,
                f"expands to more than {MAX_EXPANDED_ELEMENTS:,} elements through shared references "
                f"({total:.3g}); public dataset pickles expand to a few million at most",
            )
        self._sizes[key] = total
        return total


def _children(obj: Any) -> Any:
    """The objects a container (or object array) refers to; nothing for anything else."""
    if isinstance(obj, dict):
        return (*obj.keys(), *obj.values())
    if isinstance(obj, np.ndarray):
        return obj.ravel()
    if isinstance(obj, (list, tuple, set, frozenset)):
        return obj
    return ()
