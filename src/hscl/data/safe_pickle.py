"""A restricted unpickler for the public MSA pickles: numpy arrays, builtin containers and scalars.

`pickle.load` runs whatever callables a file names, so a downloaded dataset could run commands.
`load_pickle` resolves only the globals that numpy arrays, numpy scalars and builtin containers
need; any other global is refused before anything is called. Object arrays are safe too: numpy
pickles their elements through the same unpickler.
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


def _numpy_attr(module: str, name: str) -> Any:
    """`numpy._core.<module>.<name>` (numpy 2), else `numpy.core.<module>.<name>` (numpy 1)."""
    try:
        return getattr(importlib.import_module(f"numpy._core.{module}"), name)
    except ImportError:
        return getattr(importlib.import_module(f"numpy.core.{module}"), name)


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
    for builtin in (set, frozenset, slice, complex, bytes, bytearray):
        allowed[("builtins", builtin.__name__)] = builtin
        allowed[("__builtin__", builtin.__name__)] = builtin
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

    Raises `DataError` for a missing file, a forbidden global, or a truncated or corrupt pickle.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such file" if not path.exists() else "expected a pickle file, found a directory")
    try:
        with path.open("rb") as handle:
            return _RestrictedUnpickler(handle, path).load()
    except DataError:
        raise
    except Exception as exc:  # any failure to decode means the file is truncated or not a pickle
        raise DataError(path, f"not a readable pickle (truncated or corrupt): {type(exc).__name__}: {exc}") from exc
